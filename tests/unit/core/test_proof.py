"""Proof bundles: vectors, real round trips both ways, building, and no stray exceptions."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.merkle import MerkleTree
from ledger.core.proof import Anchor, ProofBundle, verify_bundle
from ledger.core.vocabulary import PROOF_VERSION
from ledger.errors import ProofError

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "proofs.json").read_text(encoding="utf-8")
)
VALID = {case["name"]: case for case in VECTORS["valid"]}

ANCHOR = Anchor(
    chain_id=31337,
    contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    batch_number=7,
    tx_hash=bytes(range(32)),
    block_number=123,
    block_hash=bytes(range(32, 64)),
    block_timestamp=1_700_000_000,
)


def _tree(size: int, seed: int = 0) -> tuple[MerkleTree, list[bytes]]:
    rng = random.Random(seed)
    digests = [rng.randbytes(32) for _ in range(size)]
    return MerkleTree(digests), digests


# -- vectors ------------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda case: case["name"])
def test_valid_vector_parses_and_writes_canonical_json(case: dict[str, Any]) -> None:
    bundle = ProofBundle.from_json(case["json"])
    assert bundle.to_json() == case["canonical"].encode()
    assert ProofBundle.from_json(case["canonical"]) == bundle
    assert ProofBundle.from_json(case["json"].encode()) == bundle


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda case: case["name"])
def test_invalid_vector_is_rejected_naming_the_field(case: dict[str, Any]) -> None:
    with pytest.raises(ProofError) as caught:
        ProofBundle.from_json(case["json"])
    assert caught.value.field == case["field"]
    assert case["error"] in caught.value.message
    assert "\n" not in str(caught.value)


def test_vector_fields_decode_to_the_bundle() -> None:
    obj = json.loads(VALID["anchored"]["json"])
    bundle = ProofBundle.from_json(VALID["anchored"]["json"])
    assert bundle.manifest_digest.hex() == obj["manifestDigest"][2:]
    assert bundle.leaf_index == 42
    assert bundle.leaf_count == 100
    assert [p.hex() for p in bundle.proof] == [p[2:] for p in obj["proof"]]
    assert bundle.anchor is not None
    assert bundle.anchor.contract == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert bundle.anchor.block_timestamp == 1_700_000_000


def test_docs_show_the_worked_example_verbatim() -> None:
    docs = Path(__file__).parents[3] / "docs" / "proof-format.md"
    assert VALID["docs-worked-example"]["canonical"] in docs.read_text(encoding="utf-8")


# -- round trips --------------------------------------------------------------


def test_round_trip_object_to_json_and_back() -> None:
    tree, digests = _tree(10)
    for anchor in (None, ANCHOR):
        bundle = ProofBundle.build(tree, 3, digests[3], anchor)
        text = bundle.to_json()
        assert ProofBundle.from_json(text) == bundle
        assert ProofBundle.from_obj(bundle.to_obj()) == bundle


def test_round_trip_json_to_object_and_back() -> None:
    for case in VECTORS["valid"]:
        text = case["canonical"]
        assert ProofBundle.from_json(text).to_json().decode() == text
        obj = json.loads(text)
        assert ProofBundle.from_obj(obj).to_obj() == obj


def test_to_json_writes_the_documented_members() -> None:
    tree, digests = _tree(3)
    obj = json.loads(ProofBundle.build(tree, 2, digests[2]).to_json())
    assert obj["version"] == PROOF_VERSION
    assert obj["anchor"] is None
    assert obj["leafIndex"] == 2
    assert obj["proof"] == ["0x" + p.hex() for p in tree.proof(2)]
    assert obj["root"] == "0x" + tree.root.hex()


anchors = st.none() | st.builds(
    Anchor,
    chain_id=st.integers(1, 2**53 - 1),
    contract=st.just("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
    batch_number=st.integers(1, 2**53 - 1),
    tx_hash=st.binary(min_size=32, max_size=32),
    block_number=st.integers(0, 2**53 - 1),
    block_hash=st.binary(min_size=32, max_size=32),
    block_timestamp=st.integers(0, 2**53 - 1),
)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**32), st.data(), anchors)
def test_round_trip_random_bundles(
    size: int, seed: int, data: st.DataObject, anchor: Anchor | None
) -> None:
    tree, digests = _tree(size, seed)
    index = data.draw(st.integers(0, size - 1), label="index")
    bundle = ProofBundle.build(tree, index, digests[index], anchor)
    text = bundle.to_json()
    again = ProofBundle.from_json(text)
    assert again == bundle
    assert again.to_json() == text


# -- building and verifying -----------------------------------------------------


def test_build_every_leaf_of_odd_tree() -> None:
    tree, digests = _tree(13)
    for index, digest in enumerate(digests):
        verify_bundle(ProofBundle.build(tree, index, digest))


def test_build_from_stored_levels() -> None:
    tree, digests = _tree(40)
    stored = MerkleTree.from_levels(tree.levels)
    assert ProofBundle.build(stored, 17, digests[17]) == ProofBundle.build(tree, 17, digests[17])


def test_build_rejects_digest_at_wrong_index() -> None:
    tree, digests = _tree(6)
    with pytest.raises(ProofError, match="is not the leaf at index 2"):
        ProofBundle.build(tree, 2, digests[3])


def test_build_rejects_corrupt_stored_levels() -> None:
    tree, digests = _tree(8)
    levels = list(tree.levels)
    levels[1] = levels[1][:96] + bytes(32)  # node 3 of level 1: on the path of leaf 5
    with pytest.raises(ProofError, match="does not lead"):
        ProofBundle.build(MerkleTree.from_levels(levels), 5, digests[5])


def test_verify_bundle_rejects_malformed_constructed_bundle() -> None:
    tree, digests = _tree(4)
    bundle = ProofBundle.build(tree, 1, digests[1])
    with pytest.raises(ProofError):
        verify_bundle(dataclasses.replace(bundle, proof=(bytes(31), *bundle.proof[1:])))
    with pytest.raises(ProofError, match="below leafCount"):
        verify_bundle(dataclasses.replace(bundle, leaf_index=4))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xef\xbb\xbf{}", "byte order mark"),
        (b'{"version": "\xff"}', "UTF-8"),
        ("\ufeff{}", "byte order mark"),
    ],
)
def test_from_json_rejects_bad_encoding(data: bytes | str, message: str) -> None:
    with pytest.raises(ProofError, match=message):
        ProofBundle.from_json(data)


# -- nothing but ProofError escapes ---------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_bundle_raises_only_proof_error(data: st.DataObject) -> None:
    obj = json.loads(VALID["anchored"]["canonical"])
    target = data.draw(st.sampled_from([obj, obj["anchor"]]), label="object")
    name = data.draw(st.sampled_from(sorted(target)), label="member")
    target[name] = data.draw(json_values, label="value")
    with contextlib.suppress(ProofError):
        ProofBundle.from_obj(obj)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mangled_text_raises_only_proof_error(data: st.DataObject) -> None:
    text = VALID["anchored"]["canonical"]
    start = data.draw(st.integers(0, len(text)), label="start")
    end = data.draw(st.integers(start, min(len(text), start + 8)), label="end")
    filler = data.draw(st.text(max_size=4), label="filler")
    with contextlib.suppress(ProofError):
        ProofBundle.from_json(text[:start] + filler + text[end:])
