"""The batch Merkle tree: OpenZeppelin-compatible hashing, our own shape.

Consensus-critical. Roots go on chain and proofs go to creators, so the bytes
defined here may never change without a new proof format version and new
vectors (docs/proof-format.md, tests/vectors/merkle.json):

- ``leaf(d) = keccak256(keccak256(d))`` for a 32-byte manifest digest ``d``;
  OpenZeppelin's ``StandardMerkleTree`` leaf for ``abi.encode(bytes32 d)``.
- ``node(a, b) = keccak256(min(a, b) || max(a, b))``, bytewise order, as in
  OpenZeppelin's ``MerkleProof``.
- Leaves keep batch order; each level pairs (0,1), (2,3)...; an odd last node
  moves up unchanged. One leaf: the root is ``leaf(d)`` and the proof empty.
- ``proof(i)`` lists siblings bottom-up; a level where the node moved up
  unpaired adds nothing.

Levels are kept as one ``bytes`` of concatenated 32-byte nodes each, level 0
the leaf hashes and the last the root, so a service can store one blob per
level and later answer ``proof(i)`` by slicing O(log n) nodes out of them
(`proof_nodes` names which).

Hashing runs in the C accelerator ``_keccak`` (four states at a time) when it
is built; the pure-Python functions below are the reference it is tested
against and the fallback when it is not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from ledger.core.hashing import keccak256
from ledger.errors import ProofError

HASH_LEN = 32
"""Bytes in a digest, a leaf and every node."""

BytesLike = bytes | bytearray | memoryview


def reference_hash_leaves(digests: BytesLike) -> bytes:
    """Pure-Python ``leaf(d)`` of each 32-byte ``d`` in ``digests``, concatenated."""
    digests = bytes(digests)
    return b"".join(
        keccak256(keccak256(digests[i : i + HASH_LEN])) for i in range(0, len(digests), HASH_LEN)
    )


def reference_hash_pairs(pairs: BytesLike) -> bytes:
    """Pure-Python ``node(a, b)`` of each 64-byte ``a || b`` in ``pairs``, concatenated."""
    pairs = bytes(pairs)
    out = []
    for i in range(0, len(pairs), 2 * HASH_LEN):
        a, b = pairs[i : i + HASH_LEN], pairs[i + HASH_LEN : i + 2 * HASH_LEN]
        out.append(keccak256(a + b if a <= b else b + a))
    return b"".join(out)


def reference_hash_records64(records: BytesLike) -> bytes:
    """Pure-Python ``keccak256(keccak256(r))`` of each 64-byte ``r``, concatenated."""
    records = bytes(records)
    return b"".join(
        keccak256(keccak256(records[i : i + 2 * HASH_LEN]))
        for i in range(0, len(records), 2 * HASH_LEN)
    )


_BatchHash = Callable[[BytesLike], bytes]
_hash_leaves: _BatchHash
_hash_pairs: _BatchHash
hash_records64: _BatchHash
"""``keccak256(keccak256(r))`` of each 64-byte record: the leaves of two-value entries."""
try:
    from ledger.core import _keccak
except ImportError:  # not built (no compiler at install): same bytes, ~30x slower
    ACCELERATED = False
    _hash_leaves, _hash_pairs = reference_hash_leaves, reference_hash_pairs
    hash_records64 = reference_hash_records64
else:
    ACCELERATED = True
    _hash_leaves, _hash_pairs = _keccak.hash_leaves, _keccak.hash_pairs
    hash_records64 = _keccak.hash_records64


def leaf_hash(digest: bytes) -> bytes:
    """The leaf for a 32-byte manifest digest: ``keccak256(keccak256(digest))``."""
    _check_node(digest, "digest")
    return _hash_leaves(digest)


def node_hash(a: bytes, b: bytes) -> bytes:
    """The parent of two 32-byte nodes: ``keccak256(min(a, b) || max(a, b))``."""
    _check_node(a, "node")
    _check_node(b, "node")
    return _hash_pairs(a + b)


def root_from_proof(leaf_digest: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from the leaf of ``leaf_digest``.

    Only computes; compare the result with a trusted root (or use `verify`).
    Raises ProofError when the digest or a proof element is not 32 bytes.
    """
    node = leaf_hash(leaf_digest)
    for position, sibling in enumerate(proof):
        _check_node(sibling, f"proof[{position}]")
        node = _hash_pairs(node + sibling)
    return node


def verify(root: bytes, leaf_digest: bytes, proof: Sequence[bytes]) -> bool:
    """True when ``proof`` leads from the leaf of ``leaf_digest`` to ``root``.

    Raises ProofError for malformed input (a value that is not 32 bytes), so a
    False always means a well-formed proof of something else.
    """
    _check_node(root, "root")
    return root_from_proof(leaf_digest, proof) == root


def level_sizes(leaf_count: int) -> list[int]:
    """Node counts per level for ``leaf_count`` leaves, leaves first, root (1) last."""
    if isinstance(leaf_count, bool) or not isinstance(leaf_count, int) or leaf_count < 1:
        raise ProofError(f"a tree needs a whole number of leaves, at least one, got {leaf_count!r}")
    sizes = [leaf_count]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def proof_nodes(leaf_count: int, index: int) -> list[tuple[int, int]]:
    """The ``(level, position)`` of each node of ``proof(index)``, in proof order.

    Pure shape: lets a store fetch just these nodes from saved levels.
    """
    sizes = level_sizes(leaf_count)
    _check_index(index, leaf_count)
    # Node index >> level is on the path; its sibling differs in the last bit.
    # Only the unpaired last node of an odd level lacks one.
    return [
        (level, (index >> level) ^ 1)
        for level, size in enumerate(sizes[:-1])
        if (index >> level) ^ 1 < size
    ]


class MerkleTree:
    """A Merkle tree over 32-byte manifest digests, in batch order.

    Build it from digests, or from saved `levels` with `from_levels`. Proofs
    verify with `verify` here, OpenZeppelin's ``MerkleProof.verify`` and
    ``StandardMerkleTree.verify(root, ["bytes32"], [digest], proof)``.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Sequence[bytes]) -> None:
        """Hash ``leaves`` (32-byte digests, at least one) into a tree.

        Raises ProofError for an empty sequence or a value that is not 32 bytes.
        """
        self._levels = _build_levels(_hash_leaves(_join_digests(leaves)))

    @classmethod
    def from_leaf_hashes(cls, leaves: BytesLike) -> MerkleTree:
        """The tree over already-hashed leaves (concatenated 32-byte nodes, at least one).

        For trees whose leaves are not ``leaf_hash`` of a digest: the assets tree
        (`ledger.core.asset_tree`), and the upper part of a tree above a level.
        """
        blob = bytes(leaves)
        if not blob or len(blob) % HASH_LEN:
            raise ProofError("leaves must be one or more 32-byte hashes")
        tree = cls.__new__(cls)
        tree._levels = _build_levels(blob)
        return tree

    @classmethod
    def from_levels(cls, levels: Sequence[BytesLike]) -> MerkleTree:
        """The tree whose `levels` are ``levels``, e.g. as read back from storage.

        Checks the shape (sizes per level), not the hashes: a corrupt node
        yields proofs that fail to verify, which `ProofBundle.build` checks.
        Raises ProofError when the shape is not that of any tree.
        """
        stored = tuple(bytes(level) for level in levels)
        if not stored or len(stored[0]) == 0 or len(stored[0]) % HASH_LEN:
            raise ProofError("level 0 must hold one or more 32-byte leaf hashes")
        sizes = level_sizes(len(stored[0]) // HASH_LEN)
        if len(stored) != len(sizes):
            raise ProofError(
                f"a tree of {sizes[0]} leaves has {len(sizes)} levels, got {len(stored)}"
            )
        for level, (blob, size) in enumerate(zip(stored, sizes, strict=True)):
            if len(blob) != size * HASH_LEN:
                raise ProofError(f"level {level} must be {size * HASH_LEN} bytes, got {len(blob)}")
        tree = cls.__new__(cls)
        tree._levels = stored
        return tree

    @property
    def levels(self) -> tuple[bytes, ...]:
        """Concatenated 32-byte nodes per level: leaf hashes first, the root last."""
        return self._levels

    @property
    def root(self) -> bytes:
        """The 32-byte root."""
        return self._levels[-1]

    @property
    def leaf_count(self) -> int:
        """Number of leaves."""
        return len(self._levels[0]) // HASH_LEN

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index`` (``leaf_hash`` of that digest)."""
        _check_index(index, self.leaf_count)
        return self._levels[0][index * HASH_LEN : (index + 1) * HASH_LEN]

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from the leaf at ``index`` up to the root.

        Raises ProofError when ``index`` is not in ``range(leaf_count)``.
        """
        levels = self._levels
        return [
            levels[level][pos * HASH_LEN : (pos + 1) * HASH_LEN]
            for level, pos in proof_nodes(self.leaf_count, index)
        ]

    def proofs(self) -> Iterator[list[bytes]]:
        """Every leaf's proof, in leaf order: the same lists as ``proof(i)`` for each ``i``.

        A generator: a node's proof is its sibling followed by its parent's,
        so each level above the leaves is walked once in all, a million
        proofs take about a second, and memory stays O(log n) unless the
        caller keeps them (``list(tree.proofs())``).
        """
        return _proofs_at(self._levels, 0)


# -- the tree as stored ----------------------------------------------------------


def join_levels(tree: MerkleTree) -> bytes:
    """One blob holding every level, leaves first: how a batch's tree is stored.

    `split_levels` inverts it; the leaf count, stored beside the blob, fixes the
    level boundaries.
    """
    return b"".join(tree.levels)


def split_levels(blob: bytes, leaf_count: int) -> MerkleTree:
    """The tree stored by `join_levels`, given its leaf count.

    Raises ProofError when the blob is too short to hold such a tree's levels.
    """
    levels, start = [], 0
    for size in level_sizes(leaf_count):
        levels.append(blob[start : start + HASH_LEN * size])
        start += HASH_LEN * size
    return MerkleTree.from_levels(levels)


def _build_levels(leaves: bytes) -> tuple[bytes, ...]:
    levels = [leaves]
    while len(levels[-1]) > HASH_LEN:
        below = levels[-1]
        paired = len(below) // (2 * HASH_LEN) * (2 * HASH_LEN)
        above = _hash_pairs(memoryview(below)[:paired])
        # An odd last node moves up unchanged.
        levels.append(above + below[paired:] if paired < len(below) else above)
    return tuple(levels)


def _proofs_at(levels: tuple[bytes, ...], level: int) -> Iterator[list[bytes]]:
    """Proofs of the nodes at ``level``, left to right."""
    if level == len(levels) - 1:
        yield []
        return
    nodes = levels[level]
    left = 0
    for up in _proofs_at(levels, level + 1):
        right = left + HASH_LEN
        if right < len(nodes):
            # The left child's sibling is the right one, and the other way round.
            yield [nodes[right : right + HASH_LEN], *up]
            yield [nodes[left:right], *up]
        else:
            # The unpaired last node moved up: its proof is its parent's,
            # which no other node uses, so it is handed on as is.
            yield up
        left = right + HASH_LEN


def _join_digests(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 0:
        raise ProofError("a tree needs at least one leaf")
    try:
        joined = b"".join(leaves)
        # All lengths equal and the total right means each is 32; checked in
        # C loops (map, set) because a million leaves are common.
        if len(joined) == len(leaves) * HASH_LEN and len(set(map(len, leaves))) == 1:
            return joined
    except TypeError:
        pass
    for index, leaf in enumerate(leaves):
        _check_node(leaf, f"leaves[{index}]")
    raise ProofError("leaves must be 32-byte digests")


def _check_node(value: object, name: str) -> None:
    if not isinstance(value, bytes | bytearray):
        raise ProofError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_LEN:
        raise ProofError(f"{name} must be {HASH_LEN} bytes, got {len(value)}")


def _check_index(index: int, leaf_count: int) -> None:
    if isinstance(index, bool) or not isinstance(index, int):
        raise ProofError(f"leaf index must be an integer, got {type(index).__name__}")
    if not 0 <= index < leaf_count:
        raise ProofError(f"leaf index {index} is out of range for {leaf_count} leaves")
