// Runs web/worker/dist/worker.js in workerd through Miniflare, as ledger/cli/worker.py
// drives it. Argument: a JSON object {persist, port, bindings}. Prints one line
// {"url": …} when serving; then answers each stdin line "stats" with the usage
// queue's stats as one JSON line; stdin's end stops workerd (the queue's SQLite
// files stay in `persist` for the next run).
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
});
const url = await mf.ready;
console.log(JSON.stringify({ url: String(url).replace(/\/$/, "") }));

const queue = async () => {
  const namespace = await mf.getDurableObjectNamespace("USAGE_QUEUE");
  return namespace.get(namespace.idFromName("usage"));
};

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "stats") {
    const answer = await (await queue()).fetch("https://queue/");
    console.log(JSON.stringify(await answer.json()));
  }
}
await mf.dispose();
