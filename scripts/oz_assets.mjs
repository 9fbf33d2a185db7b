// An independent check of tests/vectors/assets.json (the 1.1 manifest's assets tree,
// docs/proof-format.md §6), for tests/unit/core/test_oz_asset_tree.py. It shares no code
// with ledger: RFC 8785 canonical JSON by sorting members and JSON.stringify (whose
// numbers and strings are JCS's own rules for these values), SHA-256 from node:crypto,
// and OpenZeppelin's StandardMerkleTree.verify over leaves abi.encode(uint256 i, bytes32 e).
// Prints {"checked": n, "failures": [...]} on stdout.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256 } from "ethereum-cryptography/keccak.js";

const vectors = JSON.parse(readFileSync(process.argv[2], "utf8"));
const failures = [];
let checked = 0;
const check = (ok, what) => {
  checked += 1;
  if (!ok) failures.push(what);
};

function jcs(value) {
  if (Array.isArray(value)) return `[${value.map(jcs).join(",")}]`;
  if (value !== null && typeof value === "object") {
    // JCS sorts by UTF-16 code units, which is what JS string comparison does.
    const names = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${names.map((name) => `${JSON.stringify(name)}:${jcs(value[name])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text) => "0x" + createHash("sha256").update(text, "utf8").digest("hex");
const hex = (bytes) => "0x" + Buffer.from(bytes).toString("hex");
const node = (a, b) => {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return hex(keccak256(Buffer.concat([Buffer.from(lo.slice(2), "hex"), Buffer.from(hi.slice(2), "hex")])));
};

for (const tree of vectors.trees) {
  tree.entries.forEach((entry, i) => {
    const text = jcs(entry);
    check(text === tree.entryJcs[i], `size ${tree.size} entry ${i}: canonical JSON`);
    const entryHash = sha256(text);
    check(entryHash === tree.entryHashes[i], `size ${tree.size} entry ${i}: entry hash`);
    check(
      StandardMerkleTree.verify(tree.root, ["uint256", "bytes32"], [i, entryHash], tree.proofs[i]),
      `size ${tree.size} entry ${i}: proof`,
    );
    if (tree.size > 1) {
      const other = (i + 1) % tree.size;
      check(
        !StandardMerkleTree.verify(tree.root, ["uint256", "bytes32"], [other, entryHash], tree.proofs[i]),
        `size ${tree.size} entry ${i}: proof accepted at another index`,
      );
    }
  });
  for (const chunks of tree.chunks) {
    chunks.chunkRoots.forEach((chunkRoot, j) => {
      const top = chunks.chunkProofs[j].reduce(node, chunkRoot);
      check(top === tree.root, `size ${tree.size} chunk size ${chunks.chunkSize} chunk ${j}`);
    });
  }
}

const doc = vectors.assetProof.document;
const header = doc.manifest;
const leafHash = sha256(jcs(doc.asset));
check(
  StandardMerkleTree.verify(header.assetsRoot, ["uint256", "bytes32"], [doc.assetIndex, leafHash], doc.assetProof),
  "asset proof: entry to assetsRoot",
);
check(sha256(jcs(header)) === vectors.assetProof.manifestDigest, "asset proof: header digest");
check(doc.manifestProof.manifestDigest === vectors.assetProof.manifestDigest, "asset proof: batch proof names the header");
check(
  StandardMerkleTree.verify(doc.manifestProof.root, ["bytes32"], [doc.manifestProof.manifestDigest], doc.manifestProof.proof),
  "asset proof: header digest to batch root",
);

process.stdout.write(JSON.stringify({ checked, failures }));
