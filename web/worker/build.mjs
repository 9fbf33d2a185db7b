// Bundles the Worker (src/worker.js with jose from the lock file) into dist/worker.js,
// the one ES module `wrangler deploy` and the tests' Miniflare load. The output depends
// only on the sources and the lock file, so rebuilding gives the same bytes
// (tests/edge/test_build.py).
//   node web/worker/build.mjs [OUT]   (default: web/worker/dist/worker.js)
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? resolve(here, "dist/worker.js"));

const bundle = await build({
  entryPoints: [resolve(here, "src/worker.js")],
  bundle: true,
  write: false,
  format: "esm",
  platform: "browser",
  conditions: ["worker", "browser"],
  external: ["cloudflare:workers"],
  target: ["es2022"],
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bundle.outputFiles[0].contents);
console.log(`${out}: ${bundle.outputFiles[0].contents.length.toLocaleString("en")} bytes`);
