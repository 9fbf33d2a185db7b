"""Writes tests/vectors/merkle.json; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_merkle

The tree is computed here by a second, deliberately naive implementation
(lists of nodes, one keccak call each), and checked against
``ledger.core.merkle`` before anything is written. The vectors are
consensus-critical: once roots are on chain, changing them needs a new proof
format version.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ledger.core.hashing import keccak256
from ledger.core.merkle import MerkleTree

SIZES = (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100)
OUT = Path(__file__).with_name("merkle.json")

DESCRIPTION = [
    "Merkle tree vectors for ledger-proof/1 (see docs/proof-format.md).",
    "digest i = sha256(utf8('leaf-<i>')); leaf(d) = keccak256(keccak256(d));",
    "node(a, b) = keccak256(min(a, b) || max(a, b)); levels pair (0,1), (2,3)...; an odd",
    "last node moves up unchanged; proof(i) = siblings bottom-up.",
    "trees: per size, the digests, leaf hashes, root and every proof (index i = position).",
    "negatives: named mutations of a good proof; each must not verify.",
    "malformed: inputs a verifier must reject as malformed (error), not merely fail.",
    "onchain: flat array for forge (vm.parseJson into a struct whose fields are in",
    "alphabetical order): {expected: bool, leaf: bytes32, name: string,",
    "proof: bytes32[], root: bytes32}. leaf is the manifest DIGEST as given to",
    "AnchorRegistry.verifyInclusion (the contract hashes it twice); expected is whether",
    "MerkleProof.verify(proof, root, keccak256(keccak256(leaf))) holds. All hex is",
    "0x-prefixed lower case.",
]


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _leaf(digest: bytes) -> bytes:
    return keccak256(keccak256(digest))


def _node(a: bytes, b: bytes) -> bytes:
    return keccak256(min(a, b) + max(a, b))


def _levels(digests: list[bytes]) -> list[list[bytes]]:
    levels = [[_leaf(d) for d in digests]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [_node(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def _node_proof(levels: list[list[bytes]], level: int, index: int) -> list[bytes]:
    """Proof of the node at (level, index): siblings from that level up."""
    proof = []
    for nodes in levels[level:-1]:
        if index ^ 1 < len(nodes):
            proof.append(nodes[index ^ 1])
        index >>= 1
    return proof


def _digests(size: int) -> list[bytes]:
    return [hashlib.sha256(f"leaf-{i}".encode()).digest() for i in range(size)]


def _tree_case(size: int) -> dict[str, Any]:
    digests = _digests(size)
    levels = _levels(digests)
    proofs = [_node_proof(levels, 0, i) for i in range(size)]
    tree = MerkleTree(digests)
    if tree.root != levels[-1][0] or list(tree.proofs()) != proofs:
        raise SystemExit(f"ledger.core.merkle disagrees with this generator at size {size}")
    return {
        "description": _describe(size, levels),
        "size": size,
        "digests": [_hex(d) for d in digests],
        "leaves": [_hex(leaf) for leaf in levels[0]],
        "root": _hex(levels[-1][0]),
        "proofs": [[_hex(p) for p in proof] for proof in proofs],
    }


def _describe(size: int, levels: list[list[bytes]]) -> str:
    if size == 1:
        return "1 leaf: the root is the leaf hash and the proof is empty"
    odd = [str(k) for k, nodes in enumerate(levels[:-1]) if len(nodes) % 2]
    if not odd:
        return f"{size} leaves: every level pairs up"
    return f"{size} leaves: the last node of level(s) {', '.join(odd)} moves up unpaired"


def _flip(data: bytes, bit: int) -> bytes:
    return data[: bit // 8] + bytes([data[bit // 8] ^ (0x80 >> bit % 8)]) + data[bit // 8 + 1 :]


def _negatives() -> list[dict[str, Any]]:
    """Named mutations of proof(2) in the 5-leaf tree (proof of 3 hashes)."""
    digests = _digests(5)
    levels = _levels(digests)
    root = levels[-1][0]
    proof = _node_proof(levels, 0, 2)
    inner = levels[1][1]  # node(leaf 2, leaf 3)
    mutations: list[tuple[str, str, bytes, list[bytes], bytes]] = [
        ("wrong-leaf", "digest of leaf 3 with the proof of leaf 2", digests[3], proof, root),
        (
            "modified-proof[0]-bit-3",
            "bit 3 (from the most significant of byte 0) of proof[0] flipped",
            digests[2],
            [_flip(proof[0], 3), *proof[1:]],
            root,
        ),
        ("missing-sibling", "last proof hash dropped", digests[2], proof[:-1], root),
        ("extra-sibling", "proof[0] repeated at the end", digests[2], [*proof, proof[0]], root),
        (
            "inner-node-as-leaf",
            "inner node(leaf 2, leaf 3) offered as a digest with the proof of its position",
            inner,
            _node_proof(levels, 1, 1),
            root,
        ),
        (
            "leaf-hash-as-digest",
            "leaf hash of digest 2 offered as the digest with its proof",
            levels[0][2],
            proof,
            root,
        ),
        (
            "wrong-index",
            "digest 2 with the proof of leaf 1",
            digests[2],
            _node_proof(levels, 0, 1),
            root,
        ),
        (
            "modified-root-bit-255",
            "last bit of the root flipped",
            digests[2],
            proof,
            _flip(root, 255),
        ),
        ("empty-proof", "digest 2 with no proof", digests[2], [], root),
        ("reversed-proof", "proof hashes in top-down order", digests[2], proof[::-1], root),
    ]
    return [
        {
            "name": name,
            "description": description,
            "digest": _hex(digest),
            "proof": [_hex(p) for p in mutated],
            "root": _hex(mutated_root),
            "expected": False,
        }
        for name, description, digest, mutated, mutated_root in mutations
    ]


def _malformed() -> list[dict[str, Any]]:
    digests = _digests(5)
    levels = _levels(digests)
    proof = [_hex(p) for p in _node_proof(levels, 0, 2)]
    root = _hex(levels[-1][0])
    good = _hex(digests[2])
    return [
        {"name": "short-digest", "digest": good[:-2], "proof": proof, "root": root},
        {"name": "long-digest", "digest": good + "00", "proof": proof, "root": root},
        {
            "name": "short-sibling",
            "digest": good,
            "proof": [proof[0][:-2], *proof[1:]],
            "root": root,
        },
        {
            "name": "long-sibling",
            "digest": good,
            "proof": [*proof[:-1], proof[-1] + "00"],
            "root": root,
        },
        {"name": "short-root", "digest": good, "proof": proof, "root": root[:-2]},
        {"name": "empty-digest", "digest": "0x", "proof": proof, "root": root},
    ]


def _onchain(trees: list[dict[str, Any]], negatives: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = [
        {
            "expected": True,
            "leaf": tree["digests"][i],
            "name": f"size-{tree['size']}-index-{i}",
            "proof": tree["proofs"][i],
            "root": tree["root"],
        }
        for tree in trees
        for i in range(tree["size"])
    ]
    entries += [
        {
            "expected": False,
            "leaf": case["digest"],
            "name": f"size-5-index-2-{case['name']}",
            "proof": case["proof"],
            "root": case["root"],
        }
        for case in negatives
    ]
    return entries


def build() -> dict[str, Any]:
    """The whole vectors document."""
    trees = [_tree_case(size) for size in SIZES]
    negatives = _negatives()
    return {
        "description": DESCRIPTION,
        "trees": trees,
        "negatives": negatives,
        "malformed": _malformed(),
        "onchain": _onchain(trees, negatives),
    }


def main() -> None:
    """Regenerate tests/vectors/merkle.json."""
    OUT.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
