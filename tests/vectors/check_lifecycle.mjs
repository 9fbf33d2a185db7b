// An independent check of tests/vectors/statements.json and snapshots.json, in Node: the
// statements through the verifier page's own modules (web/verifier/src/licence.mjs and
// signatures.mjs), the licence snapshots (which the page does not read) by the recipe of
// docs/lifecycle.md written here from scratch on @noble/* and canonicalize, with the
// page's signature and tree primitives. Nothing here imports ledger's Python.
// Prints {statements: [[name, expected, got]], snapshots: [[name, expected, got]]}, where
// expected and got are "ok" or "refused at <stage>" (got adds the reason).
import { readFileSync } from "node:fs";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import canonicalize from "canonicalize";
import { authorise, readStatement, verifyStatement } from "../../web/verifier/src/licence.mjs";
import { fold, leafOf } from "../../web/verifier/src/merkle.mjs";
import { verifySignature } from "../../web/verifier/src/signatures.mjs";

const vectors = (name) => JSON.parse(readFileSync(new URL(name, import.meta.url), "utf8"));
const hex = (bytes) => "0x" + bytesToHex(bytes);
const raw = (text) => hexToBytes(text.slice(2));
const jcs = (value) => utf8ToBytes(canonicalize(value));
const tagged = (tag, ...parts) => sha256(concatBytes(utf8ToBytes(tag + "\n"), ...parts));

/** Run `stages` ([name, check]) in order: "ok", or "refused at <stage>: <reason>". */
function outcome(stages) {
  for (const [stage, check] of stages) {
    try {
      check();
    } catch (error) {
      return `refused at ${stage}: ${error.message}`;
    }
  }
  return "ok";
}

const expectEqual = (what, got, want) => {
  if (got !== want) throw new Error(`${what} is ${got}, the vector says ${want}`);
};

function checkStatementBytes(c, obj, s) {
  const { signature, ...unsigned } = obj;
  expectEqual("canonical", canonicalize(obj), c.canonical);
  expectEqual("payload", canonicalize(unsigned), c.payload);
  expectEqual("digest", hex(tagged("ledger-statement-v1", jcs(obj))), c.digest);
  expectEqual("the page's digest", s.digest, c.digest);
}

function checkStatements() {
  const file = vectors("statements.json");
  const creatorKeys = new Set(file.creatorKeys);
  const run = (c, extra = []) => {
    const obj = JSON.parse(c.statement);
    let s;
    return outcome([
      ["read", () => { s = readStatement(obj); }],
      ["verify", () => verifyStatement(s)],
      ["authorise", () => authorise(s, creatorKeys, file.operatorKey)],
      ...extra.map(([stage, check]) => [stage, () => check(obj, s)]),
    ]);
  };
  const out = [];
  for (const c of file.valid) out.push([c.name, "ok", run(c, [["bytes", (obj, s) => checkStatementBytes(c, obj, s)]])]);
  for (const c of file.invalid) out.push([c.name, `refused at ${c.expected.stage}`, run(c)]);
  return out;
}

const SNAPSHOT_TAG = "ledger-licence-snapshot-v1";
const V1 = ["version", "deployment", "checkedAt", "at", "count", "answersRoot", "serviceKey", "signature"];
const MEMBERS = { "ledger-licence-snapshot/1": V1, "ledger-licence-snapshot/2": [...V1, "buyer"] };

/** The members of a snapshot of its version, each there, no other; buyer null or lower-case. */
function readSnapshot(obj) {
  const members = MEMBERS[obj.version];
  if (!members) throw new Error(`version: unknown ${obj.version}`);
  for (const name of Object.keys(obj)) if (!members.includes(name)) throw new Error(`${name}: not a member`);
  for (const name of members) if (!(name in obj)) throw new Error(`${name}: is missing`);
  if (obj.version !== "ledger-licence-snapshot/1" && obj.buyer !== null && !/^0x[0-9a-f]{40}$/.test(obj.buyer)) {
    throw new Error("buyer: must be null or a lower-case 0x address");
  }
  if (!Number.isSafeInteger(obj.count) || obj.count < 1) throw new Error("count: must be a positive integer");
  if (!/^0x[0-9a-f]{64}$/.test(obj.answersRoot)) throw new Error("answersRoot: must be a 32-byte hash");
}

/** SHA-256("ledger-dataset-answer-v1\n" ‖ decimal(index) ‖ "\n" ‖ JCS(answer)). */
const answerDigest = (index, answer) => tagged("ledger-dataset-answer-v1", utf8ToBytes(`${index}\n`), jcs(answer));

/** The batch tree's root: leaves in order, pairs hashed sorted, an odd last node moved up. */
function treeRoot(digests) {
  let level = digests.map(leafOf);
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) {
      const [a, b] = [level[i], level[i + 1]];
      next.push(b === undefined ? a : keccak_256(hex(a) < hex(b) ? concatBytes(a, b) : concatBytes(b, a)));
    }
    level = next;
  }
  return level[0];
}

function checkSignature(obj, pinned) {
  if (obj.serviceKey !== pinned) throw new Error(`serviceKey: ${obj.serviceKey} is not the pinned key`);
  const { signature, ...body } = obj;
  verifySignature(obj.serviceKey, signature, SNAPSHOT_TAG, jcs(body));
}

function checkAnswers(obj, answers) {
  if (answers.length !== obj.count) throw new Error(`${answers.length} answers, the snapshot counts ${obj.count}`);
  const root = hex(treeRoot(answers.map((a, i) => answerDigest(i, a))));
  if (root !== obj.answersRoot) throw new Error(`the answers hash to ${root}, not answersRoot`);
}

function checkAnswerBytes(c, obj) {
  c.answers.forEach((given, index) => {
    const answer = JSON.parse(given.answer);
    expectEqual(`answer ${index}'s canonical`, canonicalize(answer), given.canonical);
    const digest = answerDigest(index, answer);
    expectEqual(`answer ${index}'s digest`, hex(digest), given.digest);
    expectEqual(`answer ${index}'s path`, hex(fold(leafOf(digest), given.proof.map(raw))), obj.answersRoot);
  });
  const { signature, ...body } = obj;
  expectEqual("answersRoot", obj.answersRoot, c.answersRoot);
  expectEqual("payload", canonicalize(body), c.payload);
  expectEqual("signature", signature, c.signature);
  expectEqual("digest", hex(tagged(SNAPSHOT_TAG, jcs(obj))), c.digest);
}

function checkSnapshots() {
  const file = vectors("snapshots.json");
  const out = [];
  const full = (c, answers, extra = []) => {
    const obj = JSON.parse(c.snapshot);
    return outcome([
      ["read", () => readSnapshot(obj)],
      ["signature", () => checkSignature(obj, file.serviceKey)],
      ["answers", () => checkAnswers(obj, answers)],
      ...extra.map(([stage, check]) => [stage, () => check(obj)]),
    ]);
  };
  for (const c of file.valid) {
    const answers = c.answers.map((a) => JSON.parse(a.answer));
    out.push([c.name, "ok", full(c, answers, [["bytes", (obj) => checkAnswerBytes(c, obj)]])]);
  }
  for (const c of file.invalid) {
    const expected = `refused at ${c.expected.stage}`;
    if (c.expected.stage !== "answer") {
      out.push([c.name, expected, full(c, c.answers.map((a) => JSON.parse(a)))]);
      continue;
    }
    const base = JSON.parse(file.valid.find((v) => v.name === c.base).snapshot);
    out.push([c.name, expected, outcome([["answer", () => {
      const root = hex(fold(leafOf(answerDigest(c.index, JSON.parse(c.answer))), c.proof.map(raw)));
      if (root !== base.answersRoot) throw new Error("the path leads to another root");
    }]])]);
  }
  return out;
}

console.log(JSON.stringify({ statements: checkStatements(), snapshots: checkSnapshots() }));
