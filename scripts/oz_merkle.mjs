// OpenZeppelin's StandardMerkleTree as an independent check of ledger's Merkle
// tree, for tests/unit/core/test_oz_merkle_tree.py and `ledger demo`. One request on stdin:
//   {"verify": [{"root", "digest", "proof"}...], "build": [[digest...]...]}
// answered on stdout with
//   {"verified": [bool...], "built": [{"root", "proofs": [[hash...]...]}...]}
// "verify" runs StandardMerkleTree.verify(root, ["bytes32"], [digest], proof);
// "build" makes OZ's own tree (its shape, not ours) and every value's proof.
import { readFileSync } from "node:fs";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const request = JSON.parse(readFileSync(0, "utf8"));

const verified = (request.verify ?? []).map(({ root, digest, proof }) =>
  StandardMerkleTree.verify(root, ["bytes32"], [digest], proof),
);

const built = (request.build ?? []).map((digests) => {
  const tree = StandardMerkleTree.of(
    digests.map((digest) => [digest]),
    ["bytes32"],
  );
  return { root: tree.root, proofs: digests.map((_, index) => tree.getProof(index)) };
});

process.stdout.write(JSON.stringify({ verified, built }));
