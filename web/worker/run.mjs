// Runs web/worker/dist/worker.js in workerd through Miniflare, as ledger/cli/worker.py
// drives it. Argument: a JSON object {persist, port, bindings, cf?}; `cf` is every
// request's `request.cf` (Miniflare's placeholder, location DFW, when absent). Prints
// one line {"url": …} when serving; then answers each stdin line "stats [NAME]" with
// the stats of the usage queue NAME (default "usage") as one JSON line; stdin's end
// stops workerd (the queues' SQLite files stay in `persist` for the next run).
import { createInterface } from "node:readline";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const config = JSON.parse(process.argv[2]);

const mf = new Miniflare({
  modules: true,
  scriptPath: config.script ?? resolve(root, "web/worker/dist/worker.js"),
  compatibilityDate: "2025-09-01",
  host: "127.0.0.1",
  port: config.port ?? 0,
  bindings: config.bindings,
  durableObjects: { USAGE_QUEUE: { className: "UsageQueue", useSQLite: true } },
  durableObjectsPersist: config.persist,
  ...(config.cf ? { cf: config.cf } : {}),
});
const url = await mf.ready;
console.log(JSON.stringify({ url: String(url).replace(/\/$/, "") }));

const queue = async (name) => {
  const namespace = await mf.getDurableObjectNamespace("USAGE_QUEUE");
  return namespace.get(namespace.idFromName(name));
};

for await (const line of createInterface({ input: process.stdin })) {
  const [command, name = "usage"] = line.trim().split(/\s+/);
  if (command === "stats") {
    const answer = await (await queue(name)).fetch("https://queue/");
    console.log(JSON.stringify(await answer.json()));
  }
}
await mf.dispose();
