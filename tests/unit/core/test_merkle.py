"""The Merkle tree against its vectors, its pure-Python reference and its properties."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core import merkle
from ledger.core.merkle import (
    MerkleTree,
    join_levels,
    leaf_hash,
    level_sizes,
    node_hash,
    proof_nodes,
    reference_hash_leaves,
    reference_hash_pairs,
    root_from_proof,
    split_levels,
    verify,
)
from ledger.errors import ProofError

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "merkle.json").read_text(encoding="utf-8")
)
TREES = VECTORS["trees"]

BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def _digests(seed: int, size: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(32) for _ in range(size)]


def _flip(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 0x80 >> bit % 8
    return bytes(flipped)


# -- vectors ------------------------------------------------------------------


@pytest.mark.parametrize("case", TREES, ids=lambda case: f"size-{case['size']}")
def test_tree_matches_vector(case: dict[str, Any]) -> None:
    digests = [_bytes(d) for d in case["digests"]]
    tree = MerkleTree(digests)
    assert tree.leaf_count == case["size"]
    assert tree.root == _bytes(case["root"])
    assert [tree.leaf(i) for i in range(tree.leaf_count)] == [_bytes(x) for x in case["leaves"]]
    expected = [[_bytes(p) for p in proof] for proof in case["proofs"]]
    assert [tree.proof(i) for i in range(tree.leaf_count)] == expected
    assert list(tree.proofs()) == expected


@pytest.mark.parametrize("case", TREES, ids=lambda case: f"size-{case['size']}")
def test_reference_hashing_matches_vector(case: dict[str, Any]) -> None:
    digests = b"".join(_bytes(d) for d in case["digests"])
    assert reference_hash_leaves(digests) == b"".join(_bytes(x) for x in case["leaves"])
    for digest, proof in zip(case["digests"], case["proofs"], strict=True):
        node = reference_hash_leaves(_bytes(digest))
        for sibling in proof:
            node = reference_hash_pairs(node + _bytes(sibling))
        assert node == _bytes(case["root"])


@pytest.mark.parametrize("case", VECTORS["negatives"], ids=lambda case: case["name"])
def test_negative_vector_does_not_verify(case: dict[str, Any]) -> None:
    proof = [_bytes(p) for p in case["proof"]]
    assert verify(_bytes(case["root"]), _bytes(case["digest"]), proof) is case["expected"]


@pytest.mark.parametrize("case", VECTORS["malformed"], ids=lambda case: case["name"])
def test_malformed_vector_is_an_error(case: dict[str, Any]) -> None:
    with pytest.raises(ProofError):
        verify(_bytes(case["root"]), _bytes(case["digest"]), [_bytes(p) for p in case["proof"]])


def test_onchain_vectors_verify_as_expected() -> None:
    for case in VECTORS["onchain"]:
        proof = [_bytes(p) for p in case["proof"]]
        assert verify(_bytes(case["root"]), _bytes(case["leaf"]), proof) is case["expected"], case


def test_onchain_vectors_keep_forge_shape() -> None:
    # forge's vm.parseJson decodes objects into structs by sorted member name.
    for case in VECTORS["onchain"]:
        assert list(case) == ["expected", "leaf", "name", "proof", "root"]


# -- accelerator against the reference ---------------------------------------


def test_accelerator_is_built() -> None:
    # Without it everything still works, 30x slower; a broken build must show.
    assert merkle.ACCELERATED


@given(st.lists(st.binary(min_size=32, max_size=32), max_size=40))
def test_batch_leaf_hashing_matches_reference(digests: list[bytes]) -> None:
    joined = b"".join(digests)
    assert merkle._hash_leaves(joined) == reference_hash_leaves(joined)


@given(
    st.lists(
        st.tuples(st.binary(min_size=32, max_size=32), st.integers(0, 32), st.integers(0, 255)),
        max_size=40,
    )
)
def test_batch_pair_hashing_matches_reference(pairs: list[tuple[bytes, int, int]]) -> None:
    # b is a copied with byte `at` changed (or equal when at == 32): pairs that
    # differ late or not at all exercise the ordering.
    joined = b""
    for a, at, byte in pairs:
        b = a if at == 32 else a[:at] + bytes([byte]) + a[at + 1 :]
        joined += a + b
    assert merkle._hash_pairs(joined) == reference_hash_pairs(joined)
    assert merkle._hash_pairs(bytearray(joined)) == reference_hash_pairs(joined)


def test_node_hash_is_order_independent() -> None:
    a, b = bytes(31) + b"\x01", b"\x01" + bytes(31)
    assert node_hash(a, b) == node_hash(b, a) == reference_hash_pairs(a + b)


# -- properties -----------------------------------------------------------------

tree_sizes = st.integers(min_value=1, max_value=2000)
seeds = st.integers(min_value=0, max_value=2**32)


@BOUNDED
@given(tree_sizes, seeds)
def test_every_proof_verifies(size: int, seed: int) -> None:
    digests = _digests(seed, size)
    tree = MerkleTree(digests)
    for digest, proof in zip(digests, tree.proofs(), strict=True):
        assert verify(tree.root, digest, proof)


@BOUNDED
@given(tree_sizes, seeds, st.data())
def test_any_flipped_bit_fails(size: int, seed: int, data: st.DataObject) -> None:
    digests = _digests(seed, size)
    tree = MerkleTree(digests)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = tree.proof(index)
    bit = data.draw(st.integers(0, 255), label="bit")
    assert not verify(tree.root, _flip(digests[index], bit), proof)
    assert not verify(_flip(tree.root, bit), digests[index], proof)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1), label="proof element")
        proof[at] = _flip(proof[at], bit)
        assert not verify(tree.root, digests[index], proof)


@BOUNDED
@given(tree_sizes, seeds)
def test_inner_node_never_verifies_as_leaf(size: int, seed: int) -> None:
    tree = MerkleTree(_digests(seed, size))
    for level in range(1, len(tree.levels)):
        blob = tree.levels[level]
        for position in range(len(blob) // 32):
            # Its subtree's first leaf shares its path from `level` upwards.
            path = proof_nodes(size, position << level)
            proof = [tree.levels[lv][p * 32 : p * 32 + 32] for lv, p in path if lv >= level]
            inner = blob[position * 32 : position * 32 + 32]
            assert not verify(tree.root, inner, proof)


@BOUNDED
@given(st.integers(min_value=2, max_value=2000), seeds, st.data())
def test_proof_of_another_index_fails(size: int, seed: int, data: st.DataObject) -> None:
    digests = _digests(seed, size)
    tree = MerkleTree(digests)
    index = data.draw(st.integers(0, size - 1), label="index")
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
    assert not verify(tree.root, digests[index], tree.proof(other))


@pytest.mark.parametrize("size", range(1, 70))
def test_proofs_generator_equals_single_proofs(size: int) -> None:
    tree = MerkleTree(_digests(size, size))
    assert list(tree.proofs()) == [tree.proof(i) for i in range(size)]


@BOUNDED
@given(tree_sizes, seeds, st.data())
def test_proof_nodes_name_the_proof(size: int, seed: int, data: st.DataObject) -> None:
    tree = MerkleTree(_digests(seed, size))
    index = data.draw(st.integers(0, size - 1), label="index")
    sliced = [tree.levels[lv][p * 32 : p * 32 + 32] for lv, p in proof_nodes(size, index)]
    assert sliced == tree.proof(index)


# -- shapes and edges -------------------------------------------------------------


def test_single_leaf_tree() -> None:
    digest = bytes(range(32))
    tree = MerkleTree([digest])
    assert tree.root == leaf_hash(digest)
    assert tree.proof(0) == []
    assert list(tree.proofs()) == [[]]
    assert tree.levels == (tree.root,)


def test_level_sizes() -> None:
    assert level_sizes(1) == [1]
    assert level_sizes(5) == [5, 3, 2, 1]
    assert level_sizes(8) == [8, 4, 2, 1]


def test_root_from_proof_computes_and_verify_compares() -> None:
    digests = _digests(1, 9)
    tree = MerkleTree(digests)
    assert root_from_proof(digests[4], tree.proof(4)) == tree.root
    assert root_from_proof(digests[4], tree.proof(5)) != tree.root
    assert verify(tree.root, digests[4], tree.proof(4)) is True


@pytest.mark.parametrize("size", [1, 2, 3, 100, 1025])
def test_from_levels_round_trip(size: int) -> None:
    tree = MerkleTree(_digests(size, size))
    stored = [bytes(level) for level in tree.levels]
    again = MerkleTree.from_levels([bytearray(level) for level in stored])
    assert again.levels == tree.levels
    assert again.root == tree.root
    assert list(again.proofs()) == list(tree.proofs())


@pytest.mark.parametrize("size", [1, 2, 3, 100, 1025])
def test_stored_levels_round_trip(size: int) -> None:
    tree = MerkleTree(_digests(size, size))
    blob = join_levels(tree)
    again = split_levels(blob, size)
    assert again.levels == tree.levels
    assert join_levels(again) == blob
    assert len(blob) == 32 * sum(level_sizes(size))


def test_stored_levels_too_short_are_refused() -> None:
    blob = join_levels(MerkleTree(_digests(3, 3)))
    with pytest.raises(ProofError, match="level 2 must be 32 bytes, got 0"):
        split_levels(blob[:-32], 3)


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ([], "level 0"),
        ([b""], "level 0"),
        ([bytes(33)], "level 0"),
        ([bytes(96), bytes(64)], "3 leaves has 3 levels, got 2"),
        ([bytes(96), bytes(32), bytes(32)], "level 1 must be 64 bytes, got 32"),
        ([bytes(64), bytes(32), bytes(32)], "2 leaves has 2 levels, got 3"),
    ],
)
def test_from_levels_rejects_bad_shapes(levels: list[bytes], message: str) -> None:
    with pytest.raises(ProofError, match=message):
        MerkleTree.from_levels(levels)


@pytest.mark.parametrize(
    ("leaves", "message"),
    [
        ([], "at least one leaf"),
        ([bytes(32), bytes(31)], r"leaves\[1\] must be 32 bytes, got 31"),
        ([bytes(31), bytes(33)], r"leaves\[0\] must be 32 bytes, got 31"),
        ([bytes(32), "00" * 32], r"leaves\[1\] must be bytes, got str"),
        (bytes(64), r"leaves\[0\] must be bytes, got int"),
    ],
)
def test_constructor_rejects_bad_leaves(leaves: Any, message: str) -> None:
    with pytest.raises(ProofError, match=message):
        MerkleTree(leaves)


@pytest.mark.parametrize("index", [-1, 3, True, 1.0, "1"])
def test_bad_index_is_rejected(index: Any) -> None:
    tree = MerkleTree(_digests(0, 3))
    with pytest.raises(ProofError, match="leaf index"):
        tree.proof(index)
    with pytest.raises(ProofError, match="leaf index"):
        tree.leaf(index)


@pytest.mark.parametrize(
    ("root", "digest", "proof", "field"),
    [
        (bytes(31), bytes(32), [], "root"),
        (bytes(32), bytes(33), [], "digest"),
        (bytes(32), bytes(32), [bytes(32), bytes(16)], r"proof\[1\]"),
        (bytes(32), "00" * 32, [], "digest must be bytes"),
        (bytes(32), memoryview(bytes(32)), [], "digest must be bytes"),
        (bytes(32), bytes(32), [None], r"proof\[0\] must be bytes"),
    ],
)
def test_verify_rejects_malformed_input(root: Any, digest: Any, proof: Any, field: str) -> None:
    with pytest.raises(ProofError, match=field):
        verify(root, digest, proof)


@pytest.mark.parametrize("case", TREES[:6], ids=lambda case: f"size-{case['size']}")
def test_pure_python_fallback_builds_the_same_tree(
    case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(merkle, "_hash_leaves", reference_hash_leaves)
    monkeypatch.setattr(merkle, "_hash_pairs", reference_hash_pairs)
    tree = MerkleTree([_bytes(d) for d in case["digests"]])
    assert tree.root == _bytes(case["root"])
    assert list(tree.proofs()) == [[_bytes(p) for p in proof] for proof in case["proofs"]]
