// One OpenZeppelin StandardMerkleTree case for bench/merkle_bench.py: reads N
// concatenated 32-byte digests from the file named in argv[2], times
// StandardMerkleTree.of(values, ["bytes32"]) and getProof(i) for every leaf,
// and prints one JSON line with the timings and node's peak RSS.
import { readFileSync } from "node:fs";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const data = readFileSync(process.argv[2]);
const values = [];
for (let offset = 0; offset < data.length; offset += 32) {
  values.push(["0x" + data.subarray(offset, offset + 32).toString("hex")]);
}

const started = performance.now();
const tree = StandardMerkleTree.of(values, ["bytes32"]);
const built = performance.now();
let proofHashes = 0;
for (let index = 0; index < values.length; index++) {
  proofHashes += tree.getProof(index).length;
}
const proved = performance.now();

console.log(
  JSON.stringify({
    build_s: (built - started) / 1000,
    proofs_s: (proved - built) / 1000,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    proof_hashes: proofHashes,
  }),
);
