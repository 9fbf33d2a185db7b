// Builds the verifier page: one HTML file with its script bundled by esbuild, so it
// works from file:// offline and as `ledger serve`'s /verify. The output depends only
// on the sources, the lock file's packages and the forge build (for the code hash the
// page suggests), so rebuilding gives the same bytes (tests/browser/test_build.py).
//   node web/verifier/build.mjs [OUT]   (default: ledger/api/static/verify.html)
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const out = resolve(process.argv[2] ?? resolve(root, "ledger/api/static/verify.html"));

const bundle = await build({
  entryPoints: [resolve(here, "src/page.mjs")],
  bundle: true,
  write: false,
  format: "iife",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  // The libraries' debug logging reads process.env in Node; a page has none.
  define: { "process.env.DEBUG": "undefined", "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
});
const script = bundle.outputFiles[0].text.replaceAll("</script", "<\\/script");

// The code hash of this release's AnchorRegistry, as `ledger verify --print-code-hash`.
const artifact = JSON.parse(readFileSync(resolve(root, "contracts/out/AnchorRegistry.sol/AnchorRegistry.json"), "utf8"));
const codeHash = "0x" + bytesToHex(keccak_256(hexToBytes(artifact.deployedBytecode.object.slice(2))));

const template = readFileSync(resolve(here, "index.html"), "utf8");
const page = template.replace("__CODE_HASH__", codeHash).replace("/* script */", () => script);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, page);
console.log(`${out}: ${page.length.toLocaleString("en")} bytes`);
