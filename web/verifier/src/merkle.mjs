// The batch tree and the assets tree (docs/proof-format.md sections 3, 4 and 7).
import { checksummed, concatBytes, equal, hex, keccak, raw, word } from "./bytes.mjs";

/** The batch leaf of a 32-byte digest: keccak256(keccak256(d)). */
export const leafOf = (digest) => keccak(keccak(digest));

/** The assets-tree leaf of entry hash `e` at index `i`: keccak256(keccak256(uint256(i) ‖ e)). */
export const assetLeaf = (i, e) => keccak(keccak(concatBytes(word(i), e)));

/** Fold sorted pairs from `leaf` up through `proof` (bytes). */
export function fold(leaf, proof) {
  return proof.reduce((h, s) => keccak(hex(h) < hex(s) ? concatBytes(h, s) : concatBytes(s, h)), leaf);
}

/** How many sibling hashes leaf `i` of an `n`-leaf tree needs (an unpaired node adds none). */
export function pathLength(i, n) {
  let length = 0;
  for (; n > 1; i = Math.floor(i / 2), n = Math.ceil(n / 2)) length += (i ^ 1) < n ? 1 : 0;
  return length;
}

const HASH = /^0x[0-9a-f]{64}$/;
const isInt = (v, min, max = 2 ** 53 - 1) => Number.isSafeInteger(v) && v >= min && v <= max;

/** Read a ledger-proof/1 bundle with an anchor; throws naming the member. */
export function readBundle(obj) {
  const members = ["version", "manifestDigest", "leaf", "leafIndex", "leafCount", "proof", "root", "anchor"];
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new Error("is not a JSON object");
  for (const name of Object.keys(obj)) if (!members.includes(name)) throw new Error(`${name}: unknown member`);
  if (obj.version !== "ledger-proof/1") throw new Error('version: must be "ledger-proof/1"');
  for (const name of ["manifestDigest", "leaf", "root"]) {
    if (!HASH.test(obj[name])) throw new Error(`${name}: must be 0x and 64 lower-case hex digits`);
  }
  if (!isInt(obj.leafCount, 1, 2 ** 32 - 1)) throw new Error("leafCount: must be an integer 1 … 2^32 − 1");
  if (!isInt(obj.leafIndex, 0, obj.leafCount - 1)) throw new Error("leafIndex: must be below leafCount");
  if (!Array.isArray(obj.proof) || !obj.proof.every((s) => HASH.test(s))) {
    throw new Error("proof: must be an array of hashes");
  }
  const a = obj.anchor;
  if (!a || typeof a !== "object") throw new Error("anchor: the bundle has no anchor to check");
  const anchor = {
    chainId: a.chainId, contract: a.contract, batchNumber: a.batchNumber, txHash: a.txHash,
    blockNumber: a.blockNumber, blockHash: a.blockHash, blockTimestamp: a.blockTimestamp,
  };
  if (!isInt(anchor.chainId, 1) || !isInt(anchor.batchNumber, 1) || !isInt(anchor.blockNumber, 0) ||
      !isInt(anchor.blockTimestamp, 0) || !HASH.test(anchor.blockHash) || !HASH.test(anchor.txHash) ||
      !/^0x[0-9a-fA-F]{40}$/.test(anchor.contract) || Object.keys(a).length !== 7) {
    throw new Error("anchor: is not a ledger-proof/1 anchor");
  }
  if (checksummed(anchor.contract) !== anchor.contract) throw new Error("anchor.contract: must be EIP-55 checksummed");
  return { ...obj, anchor };
}

/** Check a bundle proves `digest` (bytes): null, or the reason it does not. */
export function bundleProblem(bundle, digest) {
  if (bundle.manifestDigest !== hex(digest)) return "proves another digest";
  if (bundle.leaf !== hex(leafOf(digest))) return "leaf: is not leaf(manifestDigest)";
  const needed = pathLength(bundle.leafIndex, bundle.leafCount);
  if (bundle.proof.length !== needed) {
    return `proof: leaf ${bundle.leafIndex} of ${bundle.leafCount} needs ${needed} hashes, got ${bundle.proof.length}`;
  }
  if (!equal(fold(raw(bundle.leaf), bundle.proof.map(raw)), raw(bundle.root))) {
    return "proof: does not lead to root";
  }
  return null;
}
