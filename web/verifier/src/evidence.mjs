// Verifying a ledger-evidence/1 package step by step against the verifier's own pins:
// the same steps, names, order and statement as `ledger verify` (ledger/core/evidence_check.py).
import { equal, hex, jcs, raw, sha } from "./bytes.mjs";
import { parseHeader, verifyAccount, verifyAnchorState } from "./chain.mjs";
import { binding, deploymentId, recordDigest, replay } from "./creators.mjs";
import { authorise, covers, History, noticeMs, readStatement, verifyStatement } from "./licence.mjs";
import { assetLeaf, bundleProblem, fold, pathLength, readBundle } from "./merkle.mjs";
import { MANIFEST_TAG, verifySignature } from "./signatures.mjs";

export const STEPS = ["file", "asset", "manifest", "creator", "licence", "receipt", "batch", "registry", "anchor", "block"];
const MEMBERS = ["version", "asset", "assetIndex", "assetProof", "manifest", "manifestProof", "receipt", "creatorRecords",
  "manifestRecords", "statements", "chain"];

class NotChecked extends Error {}

/** Throw unless `obj` has the members of an evidence package (the shape only). */
export function readEvidence(obj) {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new Error("an evidence package is a JSON object");
  if (obj.version !== "ledger-evidence/1") {
    throw new Error(`is ${JSON.stringify(obj.version ?? "no version")}, not an evidence package (ledger-evidence/1)`);
  }
  for (const name of MEMBERS) if (!(name in obj)) throw new Error(`${name}: is missing`);
  for (const name of Object.keys(obj)) if (!MEMBERS.includes(name)) throw new Error(`${name}: unknown member`);
  const c = obj.chain;
  if (!c || !Array.isArray(c.accountProof) || !Array.isArray(c.anchorProofs) || typeof c.blockHeader !== "string") {
    throw new Error("chain: is not the chain evidence of a package");
  }
  if (!Array.isArray(obj.creatorRecords)) throw new Error("creatorRecords: must be an array");
  if (!Array.isArray(obj.statements)) throw new Error("statements: must be an array");
  if (!Number.isSafeInteger(obj.manifestRecords) || obj.manifestRecords < Math.min(1, obj.creatorRecords.length) ||
      obj.manifestRecords > obj.creatorRecords.length) {
    throw new Error("manifestRecords: must count creator records");
  }
  return obj;
}

/**
 * Check `ev` against `pins` ({chainId, registry, codeHash, serviceKey|null}) and the
 * trusted `blockHash` ("0x…" or null, from `blockSource`). With `fileSha256` (hex), the
 * file must be the asset. `canonical` maps block numbers to the hashes a node the user
 * chose gave, so a reorganised-away anchor fails. Never throws for a bad part.
 */
export async function verifyEvidence(ev, pins, { blockHash = null, blockSource = "", fileName = null, fileSha256 = null, canonical = {} } = {}) {
  const run = new Checker(ev, pins, blockHash, blockSource, canonical);
  if (fileSha256 !== null) await run.step("file", () => run.file(fileSha256));
  for (const name of STEPS.slice(1)) await run.step(name, () => run[name]());
  return run.verdict(fileName, fileSha256 !== null);
}

class Checker {
  constructor(ev, pins, blockHash, blockSource, canonical) {
    Object.assign(this, { ev, pins, blockHash, blockSource, canonical });
    this.steps = [];
    this.roots = [];
  }

  async step(name, check) {
    try {
      this.steps.push({ step: name, ok: true, detail: await check() });
    } catch (error) {
      this.steps.push({ step: name, ok: error instanceof NotChecked ? null : false, detail: error.message });
    }
  }

  need(value, step) {
    if (value === undefined || value === null) throw new NotChecked(`needs the ${step} step, which did not pass`);
    return value;
  }

  file(fileSha256) {
    const named = this.ev.asset?.hash;
    if (named !== "sha256:" + fileSha256) {
      throw new Error(`the file's SHA-256 is ${fileSha256}, but the asset names ${named}: this is not the registered file`);
    }
    return `the file's SHA-256 is the asset's hash (${fileSha256})`;
  }

  asset() {
    const { asset, assetIndex: i, assetProof, manifest: m } = this.ev;
    const entry = jcs(asset);
    if (assetProof === null) {
      if (m.manifestVersion !== "1.0" || !Array.isArray(m.assets)) {
        throw new Error("assetProof is null, but the manifest is not a 1.0 manifest listing its assets");
      }
      if (!(i < m.assets.length) || !equal(jcs(m.assets[i]), entry)) throw new Error(`the manifest's asset ${i} is not this asset`);
      return `asset ${i} of the manifest's ${m.assets.length} listed assets`;
    }
    const count = m.assetCount;
    if (m.manifestVersion !== "1.1" || !Number.isSafeInteger(count)) throw new Error("the manifest is not a 1.1 header");
    if (!(i < count)) throw new Error(`assetIndex ${i} is not below assetCount ${count}`);
    const needed = pathLength(i, count);
    if (assetProof.length !== needed) throw new Error(`assetProof: asset ${i} of ${count} needs ${needed} hashes, got ${assetProof.length}`);
    if (hex(fold(assetLeaf(i, sha(entry)), assetProof.map(raw))) !== m.assetsRoot) {
      throw new Error("assetProof does not lead from the asset to the manifest's signed assetsRoot");
    }
    return `asset ${i} of ${count}, disclosed under the signed assetsRoot`;
  }

  manifest() {
    const m = this.ev.manifest;
    const { signature, ...unsigned } = m;
    if (!["1.0", "1.1"].includes(m.manifestVersion) || typeof m.creator?.id !== "string") {
      throw new Error("manifestVersion: the manifest is not a 1.0 manifest or 1.1 header");
    }
    if (typeof signature !== "string") throw new Error("signature: the manifest is not signed");
    const assetCount = m.manifestVersion === "1.0" ? m.assets?.length : m.assetCount;
    verifySignature(m.creator.signingKey, signature, MANIFEST_TAG, jcs(unsigned),
      { manifestVersion: m.manifestVersion, creatorId: m.creator.id, assetCount });
    this.digest = sha(jcs(m));
    return `manifest ${hex(this.digest)} signed by ${m.creator.id} with ${m.creator.signingKey}`;
  }

  anchoredBundle(obj, where) {
    let bundle;
    try {
      bundle = readBundle(obj);
    } catch (error) {
      throw new Error(`${where}.${error.message}`);
    }
    const problem = bundleProblem(bundle, raw(bundle.manifestDigest));
    if (problem) throw new Error(`${where}.${problem}`);
    const { chainId, contract } = bundle.anchor;
    if (chainId !== this.pins.chainId || contract.toLowerCase() !== this.pins.registry.toLowerCase()) {
      throw new Error(`${where}: the bundle names registry ${contract} on chain ${chainId}, but you pinned registry ${this.pins.registry} on chain ${this.pins.chainId}`);
    }
    return bundle;
  }

  creator() {
    this.need(this.digest, "manifest");
    const records = this.ev.creatorRecords;
    if (records.length === 0) throw new Error("the package holds no creator-key record");
    const roots = records.map(({ record, proof }, index) => {
      const bundle = this.anchoredBundle(proof, `creatorRecords[${index}].proof`);
      if (bundle.manifestDigest !== hex(recordDigest(record))) throw new Error(`creatorRecords[${index}].proof proves another record`);
      return { what: `creator record ${index} (${record.action})`, bundle };
    });
    const expected = deploymentId(this.pins.chainId, this.pins.registry);
    records.forEach(({ record }, index) => {
      if (record.deployment !== expected) {
        throw new Error(`creatorRecords[${index}] was signed for ${record.deployment}, not your pinned deployment ${expected}`);
      }
    });
    const actions = records.map(({ record }) => record);
    try {
      replay(actions);
    } catch (error) {
      throw new Error(`creatorRecords${error.message}`);
    }
    const { id, signingKey } = this.ev.manifest.creator;
    if (actions[0].creatorId !== id) throw new Error(`the records are ${actions[0].creatorId}'s, the manifest names ${id}`);
    const inForce = this.ev.manifestRecords;
    if (!replay(actions.slice(0, inForce)).signing.has(signingKey)) {
      throw new Error(`${signingKey} is not a signing key of ${id} after the ${inForce} record(s) in force when the manifest was accepted`);
    }
    this.roots.push(...roots);
    this.actions = actions;
    return `${signingKey} is a signing key of ${id} (${binding(id)})`;
  }

  licence() {
    this.need(this.digest, "manifest");
    const actions = this.need(this.actions, "creator");
    const manifestDigest = hex(this.digest);
    const assetId = String(this.ev.asset?.id);
    const expected = deploymentId(this.pins.chainId, this.pins.registry);
    const statements = [];
    const roots = [];
    this.ev.statements.forEach(({ statement: obj, proof, records }, index) => {
      const where = `statements[${index}]`;
      let statement;
      try {
        statement = readStatement(obj);
        verifyStatement(statement);
      } catch (error) {
        throw new Error(`${where}.statement.${error.message}`);
      }
      if (statement.deployment !== expected) throw new Error(`${where} was signed for ${statement.deployment}, not your pinned deployment ${expected}`);
      if (!covers(statement, manifestDigest, assetId)) throw new Error(`${where} is about another asset`);
      const creatorKeys = replay(actions.slice(0, records)).signing;
      if (!this.pins.serviceKey && !creatorKeys.has(statement.signer) && statement.type !== "takedown") {
        throw new NotChecked(`${where} is signed by the operator: pin the service key to check it`);
      }
      try {
        authorise(statement, creatorKeys, this.pins.serviceKey ?? "");
      } catch (error) {
        throw new Error(`${where}.${error.message}`);
      }
      const bundle = this.anchoredBundle(proof, `${where}.proof`);
      if (bundle.manifestDigest !== statement.digest) throw new Error(`${where}.proof proves another statement`);
      statements.push(statement);
      roots.push({ what: `statement ${index} (${statement.type})`, bundle });
    });
    const history = new History({ manifestDigest, assetId, noticeMs: noticeMs(this.ev.asset) }, statements);
    statements.forEach((statement, index) => {
      const reason = history.dropped.get(statement.digest);
      if (reason !== undefined) throw new Error(`statements[${index}] breaks the licence rules: ${reason}`);
    });
    this.roots.push(...roots);
    this.history = history;
    return statements.length
      ? `${statements.length} lifecycle statement(s) about the asset, each signed by whom the rules allow`
      : "no lifecycle statement about the asset";
  }

  receipt() {
    this.need(this.digest, "manifest");
    if (!this.pins.serviceKey) throw new NotChecked("no service key pinned (pin one to check the intake receipt)");
    const { signature, ...unsigned } = this.ev.receipt;
    if (unsigned.version !== "ledger-receipt/1") throw new Error('version: must be "ledger-receipt/1"');
    if (unsigned.serviceKey !== this.pins.serviceKey) {
      throw new Error(`the receipt is signed by ${unsigned.serviceKey}, but you pinned service key ${this.pins.serviceKey}`);
    }
    verifySignature(unsigned.serviceKey, signature, "ledger-receipt-v1", jcs(unsigned));
    if (unsigned.manifestDigest !== hex(this.digest)) throw new Error("the receipt is for another manifest");
    return `the pinned service accepted the manifest at ${iso(Math.floor(unsigned.acceptedAt / 1000))}`;
  }

  batch() {
    this.need(this.digest, "manifest");
    const bundle = this.anchoredBundle(this.ev.manifestProof, "manifestProof");
    if (bundle.manifestDigest !== hex(this.digest)) throw new Error("manifestProof proves another manifest digest");
    this.bundle = bundle;
    this.roots.unshift({ what: "manifest", bundle });
    return `leaf ${bundle.leafIndex} of ${bundle.leafCount} under root ${bundle.root} (batch ${bundle.anchor.batchNumber})`;
  }

  async registry() {
    const c = this.ev.chain;
    if (c.chainId !== this.pins.chainId || String(c.registry).toLowerCase() !== this.pins.registry.toLowerCase()) {
      throw new Error(`the package proves registry ${c.registry} on chain ${c.chainId}, but you pinned ${this.pins.registry} on chain ${this.pins.chainId}`);
    }
    const header = parseHeader(raw(c.blockHeader));
    if (header.number !== c.blockNumber) throw new Error(`chain.blockHeader is block ${header.number}, not ${c.blockNumber}`);
    const account = await verifyAccount(header.stateRoot, c.registry, c.accountProof.map(raw));
    if (hex(account.codeHash) !== this.pins.codeHash.toLowerCase()) {
      throw new Error(`the code at ${c.registry} (hash ${hex(account.codeHash)}) is not the pinned AnchorRegistry`);
    }
    Object.assign(this, { header, account });
    return `AnchorRegistry ${c.registry} on chain ${c.chainId}, code as pinned`;
  }

  async anchor() {
    const header = this.need(this.header, "registry");
    this.need(this.bundle, "batch");
    for (const root of this.roots) {
      const state = await this.anchorState(root, header);
      if (root.what === "manifest") this.anchored = state;
    }
    return `${this.roots.length} root(s) anchored by the registry; the manifest's in block ${this.anchored.blockNumber} at ${iso(this.anchored.timestamp)}`;
  }

  async anchorState({ what, bundle }, header) {
    const anchor = bundle.anchor;
    const entry = this.ev.chain.anchorProofs.find((p) => p.root === bundle.root);
    if (!entry) throw new Error(`chain.anchorProofs has no proof for the ${what}'s root`);
    const state = await verifyAnchorState(this.account.storageRoot, raw(bundle.root), entry.proof.map(raw));
    if (state === null) throw new Error(`the registry had not anchored the ${what}'s root ${bundle.root} by block ${header.number}`);
    if (anchor.batchNumber !== state.batchNumber || anchor.blockNumber !== state.blockNumber || anchor.blockTimestamp !== state.timestamp) {
      throw new Error(`the ${what}'s bundle claims batch ${anchor.batchNumber}, block ${anchor.blockNumber}, time ${anchor.blockTimestamp}; the registry recorded batch ${state.batchNumber}, block ${state.blockNumber}, time ${state.timestamp}`);
    }
    if (state.blockNumber === header.number && anchor.blockHash !== hex(header.hash)) {
      throw new Error(`the ${what}'s bundle names another block hash for block ${header.number}`);
    }
    const canonical = this.canonical[anchor.blockNumber];
    if (canonical !== undefined && canonical !== anchor.blockHash) {
      throw new Error(`the ${what}'s anchor block ${anchor.blockNumber} is no longer on the chain (reorganised away)`);
    }
    return state;
  }

  block() {
    const header = this.need(this.header, "registry");
    if (!this.blockHash) throw new NotChecked(`no trusted hash for block ${header.number}: give a block hash or an RPC URL`);
    if (hex(header.hash) !== this.blockHash.toLowerCase()) {
      throw new Error(`chain.blockHeader hashes to ${hex(header.hash)}, not the trusted ${this.blockHash} (${this.blockSource})`);
    }
    return `block ${header.number} is ${hex(header.hash)}, as ${this.blockSource} says`;
  }

  verdict(fileName, fileChecked) {
    const failed = this.steps.find((s) => s.ok === false);
    const unchecked = this.steps.find((s) => s.ok === null && s.step !== "receipt");
    const verified = !failed && !unchecked;
    const facts = this.facts(fileName, fileChecked);
    const why = failed || unchecked;
    const statement = verified ? sentence(facts) : `NOT verified: ${why.step}: ${why.detail}`;
    return { verified, statement, steps: this.steps, facts };
  }

  facts(fileName, fileChecked) {
    const { asset, assetIndex, manifest, chain } = this.ev;
    const facts = {
      assetId: asset?.id, assetIndex, sha256: String(asset?.hash ?? "").replace(/^sha256:/, ""),
      licences: licences(asset?.licenses), file: fileName, fileChecked,
    };
    if (this.digest) Object.assign(facts, { creatorId: manifest.creator.id, signingKey: manifest.creator.signingKey, manifestDigest: hex(this.digest) });
    if (this.header) Object.assign(facts, { chainId: chain.chainId, registry: chain.registry, provenBlock: this.header.number, provenBlockHash: hex(this.header.hash) });
    if (this.anchored) Object.assign(facts, { anchorBlock: this.anchored.blockNumber, anchoredAt: this.anchored.timestamp, anchoredAtUtc: iso(this.anchored.timestamp) });
    if (this.history && this.header) {
      Object.assign(facts, { licenceStatus: this.history.status(this.header.timestamp * 1000),
        statusAtUtc: iso(this.header.timestamp), statements: this.history.valid.length });
    }
    return facts;
  }
}

const licences = (value) => (Array.isArray(value)
  ? value.filter((x) => typeof x === "string" || (x && typeof x === "object")).map((x) => (typeof x === "string" ? x : String(x.id)))
  : []);

/** Seconds since the epoch as 2026-12-04T20:11:05Z. */
export const iso = (seconds) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

function sentence(f) {
  const licence = (f.licences.length === 1 ? "licence " : "licences ") + f.licences.join(", ");
  return `${f.file || f.assetId} (sha256 ${f.sha256}) was registered by ${f.creatorId}, key ${f.signingKey}, ${licence}, ` +
    `in a manifest anchored on chain ${f.chainId} in block ${f.anchorBlock} at ${f.anchoredAtUtc} (no later than that time). ` +
    statusSentence(f);
}

function statusSentence(f) {
  const { state, since, until, buyer } = f.licenceStatus;
  const detail = [since !== null ? `since ${iso(Math.floor(since / 1000))}` : "",
    until !== null ? `until ${iso(Math.floor(until / 1000))}` : "", buyer ? `to ${buyer}` : ""].filter(Boolean).join(" ");
  return `At block ${f.provenBlock} (${f.statusAtUtc}) its licence is ${state}${detail ? " " + detail : ""}, ` +
    `by the ${f.statements} lifecycle statement(s) in the package.`;
}
