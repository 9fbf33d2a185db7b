"""The batch Merkle tree's public import path; the code lives in `ledger.core.merkle`."""

from ledger.core.merkle import MerkleTree, leaf_hash, node_hash, root_from_proof, verify

__all__ = ["MerkleTree", "leaf_hash", "node_hash", "root_from_proof", "verify"]
