"""Writes tests/vectors/assets.json; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_assets

Vectors of the 1.1 manifest's assets tree (docs/proof-format.md §6-7). The
tree, chunk roots and proofs are computed here by a second, deliberately
naive implementation (lists of nodes, one keccak call each) and checked
against ``ledger.core.asset_tree`` before anything is written. Consensus-
critical: once an assetsRoot is signed and anchored, these bytes may not move.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ledger.core.asset_tree import AssetProof, AssetTree, chunk_proof
from ledger.core.canonical import canonicalize
from ledger.core.hashing import keccak256
from ledger.core.manifest import ManifestHeader
from ledger.core.merkle import MerkleTree
from ledger.core.proof import ProofBundle
from ledger.core.signing import P256SigningKey, sign_manifest

OUT = Path(__file__).with_name("assets.json")
SIZES = (1, 2, 3, 5, 8, 13)
CHUNK_SIZES = (1, 2, 4)

# Test key only: it is public in this repository (tests/vectors/generate_manifests.py).
P256_SECRET = 0x6C6564676572_2D746573742D_6B65792D31

DESCRIPTION = [
    "Assets-tree vectors of manifest format 1.1 (see docs/proof-format.md sections 6-7).",
    "entry i: an asset object; entryJcs = its RFC 8785 bytes (utf-8);",
    "entryHash = sha256(entryJcs).",
    "leaf i = keccak256(keccak256(abi.encode(uint256 i, bytes32 entryHash))).",
    "node(a, b) = keccak256(min(a, b) || max(a, b)); levels pair (0,1), (2,3)...; an odd",
    "last node moves up unchanged; proof(i) = siblings bottom-up.",
    "chunks: chunk j of size c holds entries [j*c, min(n, (j+1)*c)); chunkRoots[j] = the root",
    "of the tree over that chunk's leaves; chunkProofs[j] = its proof in the tree over chunkRoots.",
    "onchain: flat array for forge ({entryHash, entryJcs, expected, index, name, proof, root}):",
    "expected is whether sha256(entryJcs) == entryHash and MerkleProof.verify(proof, root, leaf).",
    "assetProof: one ledger-asset-proof/1 document (signed header, batch proof without anchor).",
]


def _entry(i: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": f"asset:img-{i:04d}",
        "type": "image/jpeg",
        "hash": "sha256:" + hashlib.sha256(f"file-{i}".encode()).hexdigest(),
        "licenses": ["CC-BY-4.0"] if i % 2 else ["non-exclusive-training", {"id": "custom:x"}],
        "priceModel": {"type": "per-unit", "rate": 2.5 + i, "currency": "USD"},
    }
    if i % 3 == 0:
        entry["tags"] = ["café", "golden-hour"]
    return entry


def _leaf(index: int, entry_hash: bytes) -> bytes:
    return keccak256(keccak256(index.to_bytes(32, "big") + entry_hash))


def _levels(nodes: list[bytes]) -> list[list[bytes]]:
    levels = [nodes]
    while len(levels[-1]) > 1:
        below, above = levels[-1], []
        for at in range(0, len(below) - 1, 2):
            a, b = below[at], below[at + 1]
            above.append(keccak256(min(a, b) + max(a, b)))
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def _proof(levels: list[list[bytes]], index: int) -> list[bytes]:
    proof = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index //= 2
    return proof


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _tree_case(size: int) -> dict[str, Any]:
    entries = [_entry(i) for i in range(size)]
    jcs = [canonicalize(entry) for entry in entries]
    hashes = [hashlib.sha256(e).digest() for e in jcs]
    leaves = [_leaf(i, h) for i, h in enumerate(hashes)]
    levels = _levels(leaves)
    root = levels[-1][0]
    ours = AssetTree.from_entries(jcs)
    assert ours.root == root and ours.leaves == b"".join(leaves)
    proofs = [_proof(levels, i) for i in range(size)]
    assert all(ours.proof(i) == proofs[i] for i in range(size))
    chunks = []
    for chunk_size in CHUNK_SIZES:
        roots = [
            _levels(leaves[start : start + chunk_size])[-1][0]
            for start in range(0, size, chunk_size)
        ]
        upper = _levels(roots)
        assert upper[-1][0] == root
        assert ours.chunk_roots(chunk_size) == b"".join(roots)
        chunk_proofs = [_proof(upper, j) for j in range(len(roots))]
        assert all(chunk_proof(b"".join(roots), j) == chunk_proofs[j] for j in range(len(roots)))
        chunks.append({
            "chunkSize": chunk_size,
            "chunkRoots": [_hex(r) for r in roots],
            "chunkProofs": [[_hex(p) for p in proof] for proof in chunk_proofs],
        })
    return {
        "size": size,
        "entries": entries,
        "entryJcs": [e.decode() for e in jcs],
        "entryHashes": [_hex(h) for h in hashes],
        "leaves": [_hex(leaf) for leaf in leaves],
        "root": _hex(root),
        "proofs": [[_hex(p) for p in proof] for proof in proofs],
        "chunks": chunks,
    }


def _onchain(trees: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tree in trees:
        for i in range(tree["size"]):
            good = {
                "entryHash": tree["entryHashes"][i],
                "entryJcs": "0x" + tree["entryJcs"][i].encode().hex(),
                "expected": True,
                "index": i,
                "name": f"size {tree['size']} index {i}",
                "proof": tree["proofs"][i],
                "root": tree["root"],
            }
            out.append(good)
        if tree["size"] > 1:
            moved = dict(tree_good := out[-1], name=f"size {tree['size']}: another index",
                         index=tree_good["index"] - 1, expected=False)
            other = dict(out[-1], name=f"size {tree['size']}: another entry's hash",
                         entryHash=tree["entryHashes"][0], expected=False)
            out += [moved, other]
    return out


def _asset_proof(tree: dict[str, Any]) -> dict[str, Any]:
    key = P256SigningKey.from_secret(P256_SECRET)
    header = {
        "manifestVersion": "1.1",
        "creator": {"id": "creator:ada", "signingKey": key.public_id, "payout": "stripe:acct_1"},
        "assetCount": tree["size"],
        "assetsRoot": tree["root"],
        "createdAt": "2026-12-04T12:00:00Z",
    }
    signed = ManifestHeader.from_obj(sign_manifest(header, key))
    others = [hashlib.sha256(b"other-%d" % i).digest() for i in range(2)]
    batch = MerkleTree([others[0], signed.digest(), others[1]])
    index = 2
    proof = AssetProof.build(tree["entries"][index], index,
                             [bytes.fromhex(p[2:]) for p in tree["proofs"][index]], signed,
                             ProofBundle.build(batch, 1, signed.digest()))
    return {"manifestDigest": signed.digest_hex(), "document": proof.to_obj()}


def main() -> None:
    trees = [_tree_case(size) for size in SIZES]
    document = {
        "description": DESCRIPTION,
        "trees": trees,
        "onchain": _onchain(trees),
        "assetProof": _asset_proof(trees[-1]),
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
