// Drives the verifier page in the system's Chromium (playwright-core, no browser
// download) through scenarios read as JSON on stdin; prints one JSON result per
// scenario. Every request the page makes is recorded, and any to a URL not listed in
// the scenario's `rpcUrls` (or the page itself) is aborted.
//   {"chromium": path, "page": url, "scenarios": [{name, evidence, file, deployment,
//    fields: {input id: text}, rpcUrls, rpcMock: {url, chainId, hashes: {number: hash}},
//    viewport, screenshot, printScreenshot}]}
// A scenario's rpcMock answers eth_chainId and eth_getBlockByNumber as a node would
// (for a chain the test cannot run, such as the vectors' reorganised one).
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(0, "utf8"));
const browser = await chromium.launch({ executablePath: config.chromium, args: ["--no-sandbox"] });
const context = await browser.newContext({ timezoneId: "Europe/Paris" });
const page = await context.newPage();
let current = null;
page.on("pageerror", (error) => current.errors.push(String(error)));
await page.route("**/*", (route) => {
  const url = route.request().url();
  current.requests.push(url);
  const s = current.scenario;
  if (s.rpcMock && url === s.rpcMock.url) return route.fulfill(mockAnswer(s.rpcMock, route.request()));
  const allowed = url === config.page || (s.rpcUrls ?? []).some((rpc) => url === rpc || url === rpc + "/");
  return allowed ? route.continue() : route.abort();
});
const results = [];
try {
  for (const scenario of config.scenarios) results.push(await run(scenario));
} finally {
  await browser.close();
}
console.log(JSON.stringify(results));

async function run(s) {
  current = { scenario: s, requests: [], errors: [] };
  await page.setViewportSize(s.viewport ?? { width: 1000, height: 900 });
  await page.emulateMedia({ media: "screen" });
  await page.goto(config.page);
  // The page reads a chosen file asynchronously: wait until it has (its status line is
  // written, or the verdict says why it could not), or a loaded machine clicks "Check"
  // before the page holds the evidence.
  if (s.evidence) await choose("#evidence", s.evidence, "evidence-status");
  if (s.file) await page.setInputFiles("#file", s.file);
  if (s.deployment) await choose("#deployment", s.deployment, "deployment-status");
  for (const [id, value] of Object.entries(s.fields ?? {})) await page.fill(`#${id}`, value);
  const started = Date.now();
  await page.click("#check");
  await page.waitForSelector("#verdict.good, #verdict.bad", { timeout: 30000 });
  const elapsedMs = Date.now() - started;
  const verdict = await page.evaluate(() => ({
    verified: document.getElementById("verdict").dataset.verified === "true",
    failedStep: document.getElementById("verdict").dataset.failedStep || null,
    title: document.getElementById("verdict-title").textContent,
    statement: document.getElementById("statement").textContent,
    steps: [...document.querySelectorAll("#steps li")].map((li) => ({ step: li.dataset.step, state: li.className })),
    facts: document.getElementById("facts").innerText,
  }));
  if (s.screenshot) await page.screenshot({ path: s.screenshot, fullPage: true });
  if (s.printScreenshot) {
    await page.emulateMedia({ media: "print" });
    await page.screenshot({ path: s.printScreenshot, fullPage: true });
  }
  return { name: s.name, ...verdict, requests: current.requests, errors: current.errors, elapsedMs };
}

async function choose(input, path, status) {
  await page.setInputFiles(input, path);
  await page.waitForFunction((id) => document.getElementById(id).textContent !== ""
    || !document.getElementById("verdict").hidden, status, { timeout: 30000 });
}

function mockAnswer(mock, request) {
  const { id, method, params } = JSON.parse(request.postData());
  const result = method === "eth_chainId" ? "0x" + mock.chainId.toString(16)
    : { hash: mock.hashes[String(parseInt(params[0], 16))] ?? null };
  return { status: 200, contentType: "application/json", headers: { "access-control-allow-origin": "*" },
    body: JSON.stringify({ jsonrpc: "2.0", id, result }) };
}
