// The verifier page: reads what the user gives (a package, the file, pins, a block
// hash or RPC URLs), runs the checks of evidence.mjs, and shows the verdict. Nothing
// leaves the page but the JSON-RPC calls to the URLs the user typed.
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { blockHashFrom } from "./chain.mjs";
import { iso, readEvidence, verifyEvidence } from "./evidence.mjs";

const $ = (id) => document.getElementById(id);
const HASH = /^0x[0-9a-fA-F]{64}$/;
const STEP_NAMES = {
  file: "The file is the registered asset",
  asset: "The asset is in the manifest",
  manifest: "The creator signed the manifest",
  creator: "The key is the creator's (anchored key records)",
  licence: "The licence's lifecycle statements",
  receipt: "The service's intake receipt",
  batch: "The manifest is in an anchored batch",
  registry: "The pinned registry, proven in the block",
  anchor: "The registry recorded each batch root",
  block: "The block is the one you trust",
};

const state = { evidence: null, evidenceProblem: null, file: null };

/** SHA-256 of the file's bytes: WebCrypto where the page has it, else @noble/hashes. */
async function fileSha256(buffer) {
  if (globalThis.crypto?.subtle) return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buffer)));
  return bytesToHex(sha256(new Uint8Array(buffer)));
}

async function readJson(file) {
  try {
    return JSON.parse(await file.text());
  } catch (error) {
    throw new Error(`${file.name}: is not JSON (${error.message})`);
  }
}

async function takeEvidence(file) {
  Object.assign(state, { evidence: null, evidenceProblem: null });
  $("evidence-status").textContent = "";
  try {
    const obj = await readJson(file);
    try {
      readEvidence(obj);
    } catch (error) {
      throw new Error(`${file.name}: ${error.message}`);
    }
    state.evidence = { name: file.name, obj };
  } catch (error) {
    state.evidenceProblem = error.message;
    throw error;
  }
  const obj = state.evidence.obj;
  $("evidence-status").textContent = `${file.name}: asset ${obj.asset?.id} of a ${obj.manifest?.manifestVersion} manifest, block ${obj.chain.blockNumber}`;
}

async function takeDeployment(file) {
  const doc = await readJson(file);
  const registry = typeof doc.registry === "object" ? doc.registry?.address : doc.registry;
  if (!Number.isSafeInteger(doc.chainId) || typeof registry !== "string") {
    throw new Error(`${file.name} is not a deployment record (chainId and registry)`);
  }
  $("chain-id").value = String(doc.chainId);
  $("registry").value = registry;
  $("deployment-status").textContent = `pins taken from ${file.name}`;
}

function pins() {
  const chainId = Number($("chain-id").value.trim());
  const registry = $("registry").value.trim();
  const codeHash = $("code-hash").value.trim();
  const serviceKey = $("service-key").value.trim() || null;
  if (!Number.isSafeInteger(chainId) || chainId < 1) throw new Error("Chain id: type the chain id you trust (a whole number)");
  if (!/^0x[0-9a-fA-F]{40}$/.test(registry)) throw new Error("Registry address: type the address you trust (0x and 40 hex digits)");
  if (!HASH.test(codeHash)) throw new Error("Registry code hash: 0x and 64 hex digits");
  return { chainId, registry, codeHash, serviceKey };
}

/** The trusted hash of block `number`: typed, or the agreeing answer of every RPC URL
 *  typed, with the canonical hashes of the anchor blocks for the reorg check. */
async function trustedBlock(ev, chainId) {
  const typed = $("block-hash").value.trim();
  if (typed && !HASH.test(typed)) throw new Error("Trusted block hash: 0x and 64 hex digits");
  const urls = $("rpc-urls").value.split(/\s+/).filter(Boolean);
  const number = ev.chain.blockNumber;
  if (!urls.length) return { blockHash: typed.toLowerCase() || null, blockSource: typed ? "the block hash you typed" : "", canonical: {}, sources: [] };
  const anchors = [ev.manifestProof, ...ev.creatorRecords.map((r) => r.proof), ...ev.statements.map((s) => s.proof)]
    .map((b) => b?.anchor?.blockNumber).filter(Number.isSafeInteger);
  const sources = [];
  const canonical = {};
  for (const url of urls) {
    const answer = await blockHashFrom(url, number);
    if (answer.chainId !== chainId) throw new Error(`${url} is chain ${answer.chainId}, not your pinned chain ${chainId}`);
    sources.push({ url, hash: answer.hash });
    for (const n of new Set(anchors)) canonical[n] ??= (await blockHashFrom(url, n)).hash;
  }
  const hashes = new Set([typed.toLowerCase(), ...sources.map((s) => s.hash)].filter(Boolean));
  if (hashes.size > 1) {
    throw new Error(`the sources disagree on block ${number}: ${sources.map((s) => `${s.url} says ${s.hash}`).join("; ")}${typed ? `; you typed ${typed}` : ""}`);
  }
  const names = sources.map((s) => s.url).join(", ");
  return { blockHash: [...hashes][0], blockSource: `${typed ? "the hash you typed and " : ""}${sources.length} RPC node(s) that agreed: ${names}`, canonical, sources };
}

async function verify(event) {
  event.preventDefault();
  const out = $("verdict");
  reset("Checking…", "", "verdict busy");
  try {
    if (!state.evidence) {
      throw new Error(`Evidence package: ${state.evidenceProblem ?? "choose the evidence file (evidence.json) first"}`);
    }
    const ev = state.evidence.obj;
    const pinned = pins();
    const block = await trustedBlock(ev, pinned.chainId);
    const file = state.file;
    const verdict = await verifyEvidence(ev, pinned, {
      blockHash: block.blockHash, blockSource: block.blockSource, canonical: block.canonical,
      fileName: file ? file.name : null, fileSha256: file ? await fileSha256(await file.arrayBuffer()) : null,
    });
    show(verdict, pinned, block);
  } catch (error) {
    reset("Cannot check", error.message, "verdict bad");
  }
  out.focus();
}

function show(verdict, pinned, block) {
  const out = $("verdict");
  out.className = verdict.verified ? "verdict good" : "verdict bad";
  out.dataset.verified = String(verdict.verified);
  out.dataset.failedStep = verdict.steps.find((s) => s.ok === false)?.step ?? "";
  $("verdict-title").textContent = verdict.verified ? "Verified" : "NOT verified";
  $("statement").textContent = verdict.statement;
  $("steps").replaceChildren(...verdict.steps.map((s) => {
    const li = document.createElement("li");
    li.className = s.ok === true ? "ok" : s.ok === false ? "failed" : "unchecked";
    li.dataset.step = s.step;
    const mark = s.ok === true ? "✓" : s.ok === false ? "✗" : "–";
    const said = s.ok === true ? "passed" : s.ok === false ? "failed" : "not checked";
    li.innerHTML = `<span class="mark" aria-hidden="true">${mark}</span> <strong></strong> <span class="said"></span><div class="detail"></div>`;
    li.querySelector("strong").textContent = `${s.step}: ${STEP_NAMES[s.step]}`;
    li.querySelector(".said").textContent = `(${said})`;
    li.querySelector(".detail").textContent = s.detail;
    return li;
  }));
  const f = verdict.facts;
  const when = f.anchoredAt === undefined ? null : new Date(f.anchoredAt * 1000);
  const rows = [
    ["File", f.file ? `${f.file} (SHA-256 checked in this page)` : "not given: the asset's hash was not compared with a file"],
    ["Asset", `${f.assetId} (index ${f.assetIndex}), SHA-256 ${f.sha256}`],
    ["Creator", f.creatorId ?? "not established"],
    ["Signing key", f.signingKey ?? "not established"],
    ["Licence", f.licences.join(", ") || "none listed"],
    ["Registered no later than", when ? `${when.toLocaleString()} (your time zone, ${Intl.DateTimeFormat().resolvedOptions().timeZone}); ${iso(f.anchoredAt)} UTC` : "not established"],
    ["Anchored in block", f.anchorBlock ?? "not established"],
    ["Chain and registry (your pins)", `chain ${pinned.chainId}, ${pinned.registry}, code hash ${pinned.codeHash}`],
    ["Block proven", f.provenBlock === undefined ? "not established" : `${f.provenBlock}, hash ${f.provenBlockHash}`],
    ["Block hash trusted from", block.blockSource || "nothing: give a block hash or an RPC URL"],
    ["Service key (receipt)", pinned.serviceKey ?? "not pinned: the intake receipt was not checked"],
    ["Manifest digest", f.manifestDigest ?? "not established"],
    ["Checked", `${new Date().toISOString().replace(/\.\d{3}Z$/, "Z")} by this page, in your browser`],
  ];
  $("facts-caption").textContent = verdict.verified ? "What was proven"
    : "What the steps that passed established (the package is NOT verified)";
  $("facts").replaceChildren(...rows.flatMap(([name, value]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = String(value);
    return [dt, dd];
  }));
  $("print").hidden = false;
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    reset("Cannot read that", error.message, "verdict bad");
  }
}

/** Clear the verdict and show `title` and `text` (a problem, or that checks run). */
function reset(title, text, className) {
  const out = $("verdict");
  out.hidden = false;
  out.className = className;
  out.dataset.verified = "false";
  out.dataset.failedStep = "";
  $("verdict-title").textContent = title;
  $("statement").textContent = text;
  $("steps").replaceChildren();
  $("facts").replaceChildren();
  $("facts-caption").textContent = "";
  $("print").hidden = true;
}

/** A dropped file goes where it fits: a package, a deployment record, or the file itself. */
async function dropped(files) {
  for (const file of files) {
    let obj = null;
    if (file.size < 2_000_000 && /\.json$/i.test(file.name)) obj = await readJson(file).catch(() => null);
    if (obj?.version === "ledger-evidence/1") await takeEvidence(file);
    else if (obj?.version === "ledger-deployment/1") await takeDeployment(file);
    else {
      state.file = file;
      $("file-status").textContent = `${file.name} (${file.size.toLocaleString()} bytes) will be hashed here`;
    }
  }
}

function start() {
  $("evidence").addEventListener("change", (e) => guarded(() => takeEvidence(e.target.files[0])));
  $("deployment").addEventListener("change", (e) => guarded(() => takeDeployment(e.target.files[0])));
  $("file").addEventListener("change", (e) => {
    state.file = e.target.files[0] ?? null;
    $("file-status").textContent = state.file ? `${state.file.name} will be hashed here` : "";
  });
  $("form").addEventListener("submit", verify);
  $("print").addEventListener("click", () => window.print());
  const zone = $("form");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    guarded(() => dropped([...e.dataTransfer.files]));
  });
}

start();
