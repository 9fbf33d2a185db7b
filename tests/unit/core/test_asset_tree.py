"""The 1.1 manifest's assets tree, chunks and asset proofs: vectors, properties, tampering."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.asset_tree import (
    AssetProof,
    AssetTree,
    asset_leaves,
    asset_proof,
    check_chunk_size,
    check_entry_line,
    chunk_count,
    chunk_proof,
    chunk_root,
    chunk_span,
    entry_bytes,
    entry_hashes,
    verify_chunk,
)
from ledger.core.assets import Asset, plain_entry_bytes
from ledger.core.canonical import canonicalize
from ledger.core.hashing import keccak256
from ledger.core.manifest import ManifestHeader, parse_manifest
from ledger.core.merkle import MerkleTree, reference_hash_records64
from ledger.core.proof import ProofBundle
from ledger.core.signing import EthSigningKey, P256SigningKey, sign_manifest, verify_manifest
from ledger.errors import LedgerError, ProofError, SignatureError, ValidationError

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "assets.json").read_text(encoding="utf-8")
)
P256 = P256SigningKey.from_secret(0x1ED6E4)


def _entry(i: int) -> dict[str, Any]:
    return {
        "id": f"asset:a-{i}",
        "type": "image/png",
        "hash": "sha256:" + hashlib.sha256(b"%d" % i).hexdigest(),
        "licenses": ["CC-BY-4.0"],
        "priceModel": {"type": "per-unit", "rate": 1, "currency": "USD"},
    }


def _entries(n: int) -> list[bytes]:
    return [canonicalize(_entry(i)) for i in range(n)]


def _header(tree: AssetTree, key: Any = P256) -> ManifestHeader:
    obj = {
        "manifestVersion": "1.1",
        "creator": {"id": "creator:ada", "payout": "stripe:acct_1"},
        "assetCount": tree.count,
        "assetsRoot": "0x" + tree.root.hex(),
    }
    return ManifestHeader.from_obj(sign_manifest(obj, key))


def _disclose(n: int, index: int) -> AssetProof:
    entries = _entries(n)
    tree = AssetTree.from_entries(entries)
    header = _header(tree)
    batch = MerkleTree([hashlib.sha256(b"x").digest(), header.digest()])
    return AssetProof.build(json.loads(entries[index]), index, tree.proof(index), header,
                            ProofBundle.build(batch, 1, header.digest()))


# -- vectors -------------------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["trees"], ids=lambda case: f"size-{case['size']}")
def test_vectors_trees(case: dict[str, Any]) -> None:
    entries = [entry_bytes(entry) for entry in case["entries"]]
    assert [e.decode() for e in entries] == case["entryJcs"]
    tree = AssetTree.from_entries(entries)
    assert "0x" + tree.root.hex() == case["root"]
    assert [["0x" + p.hex() for p in tree.proof(i)] for i in range(case["size"])] == case["proofs"]
    for chunks in case["chunks"]:
        roots = tree.chunk_roots(chunks["chunkSize"])
        assert ["0x" + roots[i : i + 32].hex() for i in range(0, len(roots), 32)] == (
            chunks["chunkRoots"]
        )


def test_vector_asset_proof_verifies() -> None:
    vector = VECTORS["assetProof"]
    proof = AssetProof.from_obj(vector["document"])
    assert proof.manifest.digest_hex() == vector["manifestDigest"]
    assert AssetProof.from_json(proof.to_json()) == proof


# -- leaves, trees and chunks ------------------------------------------------------


def test_leaves_are_the_oz_leaf_of_index_and_entry_hash() -> None:
    hashes = entry_hashes(_entries(9))
    records = b"".join(
        (5 + k).to_bytes(32, "big") + hashes[32 * k : 32 * k + 32] for k in range(9)
    )
    assert asset_leaves(5, hashes) == reference_hash_records64(records)
    assert asset_leaves(5, hashes)[:32] == keccak256(keccak256(records[:64]))


@pytest.mark.parametrize("chunk_size", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 16, 17, 33, 70])
def test_each_chunk_verifies_alone_and_asset_proofs_compose(n: int, chunk_size: int) -> None:
    hashes = entry_hashes(_entries(n))
    tree = AssetTree.from_hashes(hashes)
    roots = tree.chunk_roots(chunk_size)
    assert len(roots) == 32 * chunk_count(n, chunk_size)
    for j in range(chunk_count(n, chunk_size)):
        span = chunk_span(n, chunk_size, j)
        own = hashes[32 * span.start : 32 * span.stop]
        root = chunk_root(span.start, own)
        assert root == roots[32 * j : 32 * j + 32]
        upper = chunk_proof(roots, j)
        verify_chunk(tree.root, n, chunk_size, j, root, upper)
        leaves = asset_leaves(span.start, own)
        for i in span:
            assert asset_proof(leaves, span.start, upper, i) == tree.proof(i)


def test_a_chunk_that_is_not_under_the_root_is_refused() -> None:
    n, size = 20, 4
    hashes = entry_hashes(_entries(n))
    tree = AssetTree.from_hashes(hashes)
    roots = tree.chunk_roots(size)
    root1, proof1 = roots[32:64], chunk_proof(roots, 1)
    # Chunk 1's entries sent as chunk 2: their leaves bind indices 8-11, so their root
    # differs (sorted pairs alone would not bind the position: the leaves do).
    moved = chunk_root(8, hashes[32 * 4 : 32 * 8])
    with pytest.raises(ProofError, match="do not lead"):
        verify_chunk(tree.root, n, size, 2, moved, proof1)
    with pytest.raises(ProofError, match="do not lead"):
        verify_chunk(tree.root, n, size, 2, moved, chunk_proof(roots, 2))
    with pytest.raises(ProofError, match="do not lead"):
        verify_chunk(b"\1" * 32, n, size, 1, root1, proof1)  # another manifest's root
    with pytest.raises(ProofError, match="needs"):
        verify_chunk(tree.root, n, size, 1, root1, proof1[:-1])
    with pytest.raises(ValidationError, match="not a chunk"):
        verify_chunk(tree.root, n, size, 5, root1, proof1)
    # The same entries placed at other indices give other leaves, so another root.
    assert chunk_root(0, hashes[32:64]) != chunk_root(1, hashes[32:64])


@pytest.mark.parametrize("bad", [0, 3, 2**15, -4, True, 4.0])
def test_chunk_sizes_are_powers_of_two_up_to_the_maximum(bad: Any) -> None:
    with pytest.raises(ValidationError, match="power of two"):
        check_chunk_size(bad)


# -- entries -----------------------------------------------------------------------


def test_entry_lines_must_be_canonical_and_valid() -> None:
    good = canonicalize(_entry(1))
    assert check_entry_line(good) == good
    spaced = json.dumps(_entry(1)).encode()
    with pytest.raises(ValidationError, match="canonical"):
        check_entry_line(spaced, "assets[3]")
    duplicate = good[:-1] + b',"type":"image/png"}'
    with pytest.raises(LedgerError, match=r"[Dd]uplicate"):
        check_entry_line(duplicate)
    with pytest.raises(ValidationError) as raised:
        check_entry_line(good.replace(b'"rate":1', b'"rate":-1'), "assets[3]")
    assert raised.value.field == "assets[3].priceModel.rate"
    for odd in (good.replace(b'"rate":1', b'"rate":1.0'), good.replace(b'"rate":1', b'"rate":NaN'),
                b"\xef\xbb\xbf" + good, good + b"\n", b"[]", b"{"):
        with pytest.raises(LedgerError):
            check_entry_line(odd)


@given(st.lists(st.sampled_from(['"rate":1', '"rate":1.5', '"rate":1e2', '"rate":0.000001',
                                 '"rate":2.50', '"rate":100000000000000000000000']), min_size=1))
@settings(max_examples=60, deadline=None)
def test_the_fast_entry_path_accepts_exactly_the_canonical_text(rates: list[str]) -> None:
    for rate in rates:
        line = canonicalize(_entry(1)).replace(b'"rate":1', rate.encode())
        try:
            strict = entry_bytes(json.loads(line))
        except LedgerError:
            strict = None
        try:
            fast: bytes | None = check_entry_line(line)
        except LedgerError:
            fast = None
        assert fast == (line if strict == line else None)


# -- the 1.1 header ----------------------------------------------------------------


@pytest.mark.parametrize("key", [P256, EthSigningKey.from_hex("11" * 32)],
                         ids=["p256", "eth"])
def test_headers_sign_verify_and_round_trip(key: Any) -> None:
    header = _header(AssetTree.from_entries(_entries(5)), key)
    verify_manifest(header)
    assert parse_manifest(json.loads(header.to_json())) == header
    assert header.to_json() == canonicalize(header.to_obj())
    forged = ManifestHeader.from_obj({**header.to_obj(), "assetCount": 6})
    with pytest.raises(SignatureError):
        verify_manifest(forged)


@pytest.mark.parametrize(("change", "field"), [
    ({"assetCount": 0}, "assetCount"),
    ({"assetCount": 2**24 + 1}, "assetCount"),
    ({"assetsRoot": "0x12"}, "assetsRoot"),
    ({"assets": []}, "assets"),
    ({"manifestVersion": "1.3"}, "manifestVersion"),
])
def test_bad_headers_name_the_member(change: dict[str, Any], field: str) -> None:
    header = _header(AssetTree.from_entries(_entries(2))).to_obj()
    with pytest.raises(ValidationError) as raised:
        ManifestHeader.from_obj({**header, **change})
    assert raised.value.field == field


# -- asset proofs ------------------------------------------------------------------


@given(st.integers(1, 200), st.data())
@settings(max_examples=40, deadline=None)
def test_any_disclosure_verifies_and_any_tampering_fails(n: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, n - 1))
    good = _disclose(n, index).to_obj()
    AssetProof.from_obj(good)
    tampered = []
    other = copy.deepcopy(good)
    other["asset"] = _entry((index + 1) % n if n > 1 else 999)
    tampered.append(other)
    changed = copy.deepcopy(good)
    changed["asset"]["licenses"] = ["all-rights"]
    tampered.append(changed)
    if n > 1:
        moved = copy.deepcopy(good)
        moved["assetIndex"] = (index + 1) % n
        tampered.append(moved)
    rooted = copy.deepcopy(good)
    rooted["manifest"]["assetsRoot"] = "0x" + "ab" * 32
    tampered.append(rooted)
    if good["assetProof"]:
        flipped = copy.deepcopy(good)
        flipped["assetProof"][0] = "0x" + "00" * 32
        tampered.append(flipped)
    for bad in tampered:
        with pytest.raises(LedgerError):
            AssetProof.from_obj(bad)


def test_an_asset_proof_names_the_link_that_fails() -> None:
    good = _disclose(10, 3).to_obj()
    cases = {
        "assetProof": lambda d: d["assetProof"].pop(),
        "assetIndex": lambda d: d.update(assetIndex=10),
        "manifest.signature": lambda d: d["manifest"].update(createdAt="2026-01-01T00:00:00Z"),
        "manifestProof.manifestDigest": lambda d: d.update(
            manifestProof=_disclose(11, 3).to_obj()["manifestProof"]),
        "asset.priceModel.rate": lambda d: d["asset"]["priceModel"].update(rate=-1),
    }
    for field, tamper in cases.items():
        bad = copy.deepcopy(good)
        tamper(bad)
        with pytest.raises(LedgerError) as raised:
            AssetProof.from_obj(bad)
        assert raised.value.field == field, field


# -- the fast path for plain entries ---------------------------------------------------

_TEXT = st.text(min_size=0, max_size=6)
_ODD = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**60), st.floats(allow_nan=True),
                 _TEXT, st.lists(_TEXT, max_size=3), st.dictionaries(_TEXT, _TEXT, max_size=2))
_GOOD_VALUES: dict[str, Any] = {
    "url": "https://cdn.example.com/a.jpg",
    "captureDate": "2024-02-29T12:00:00Z",
    "priceModel": {"type": "per-unit", "rate": 2.5, "currency": "USD", "minPayout": 10,
                   "unit": "sample"},
    "payees": [{"account": "0x" + "ab" * 20, "shareBps": 6000, "role": "creator"},
               {"account": "0x52908400098527886E0F7030069857D2E4169EE7", "shareBps": 4000,
                "role": "co-creator"}],
    "consent": {"modelRelease": "release-1", "piiRedacted": True},
    "privacy": {"faces": False, "minors": False},
    "attribution": "Ada",
    "tags": ["a", "b"],
}
_NEAR_MISSES: dict[str, list[Any]] = {
    "id": ["asset:A", "asset:", "asset:a-", 7],
    "type": ["image", "image/jpeg; q=1"],
    "hash": ["sha256:" + "A" * 64, "sha256:" + "a" * 63],
    "url": ["http://x.example", "https://", "https://a.b/" + "x" * 2048],
    "captureDate": ["2023-02-29T12:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01 00:00:00Z"],
    "licenses": [[], ["bad license"], [{"id": "x"}], ["a"] * 65],
    "priceModel": [{"type": "per-unit", "rate": -1, "currency": "USD"},
                   {"type": "per-unit", "rate": 5.0, "currency": "USD"},
                   {"type": "per-unit", "rate": 1e-7, "currency": "USD"},
                   {"type": "per-unit", "rate": True, "currency": "USD"},
                   {"type": "per-unit", "rate": 1, "currency": "usd"},
                   {"type": "per-unit", "rate": 1, "currency": "USD", "amount": "5"},
                   {"type": "free", "rate": 1, "currency": "USD"}],
    "payees": [[{"account": "0x" + "ab" * 20, "shareBps": 9999, "role": "creator"}],
               [{"account": "0x" + "AB" * 20, "shareBps": 10000, "role": "creator"}],
               [{"account": "0x52908400098527886e0F7030069857D2E4169EE7", "shareBps": 10000,
                 "role": "creator"}],
               [{"account": "0x" + "ab" * 20, "shareBps": 5000, "role": "creator"},
                {"account": "0x" + "AB" * 20, "shareBps": 5000, "role": "creator"}]],
    "consent": [{"modelRelease": ""}, {"piiRedacted": 1}, {"other": True}],
    "privacy": [{"faces": "no"}, {"eyes": True}],
    "attribution": ["", "x" * 4097],
    "tags": [["a", "a"], [""], ["x" * 129]],
}


@st.composite
def _asset_like(draw: st.DrawFn) -> dict[str, Any]:
    obj: dict[str, Any] = dict(_entry(draw(st.integers(0, 9))))
    for name, value in _GOOD_VALUES.items():
        if draw(st.booleans()):
            obj[name] = copy.deepcopy(value)
    for name in draw(st.lists(st.sampled_from(sorted(_NEAR_MISSES)), max_size=2)):
        obj[name] = copy.deepcopy(draw(st.sampled_from(_NEAR_MISSES[name])))
    if draw(st.integers(0, 9)) == 0:
        obj[draw(st.sampled_from([*sorted(obj), "extra"]))] = draw(_ODD)
    return obj


@given(_asset_like())
@settings(max_examples=400, deadline=None)
def test_the_plain_fast_path_never_accepts_what_the_full_rules_refuse(obj: dict[str, Any]) -> None:
    fast = plain_entry_bytes(obj)
    try:
        Asset.from_obj(obj)
        full: bytes | None = canonicalize(obj)
    except LedgerError:
        full = None
    if fast is not None:
        assert fast == full


def test_the_plain_fast_path_takes_the_common_shapes() -> None:
    obj = {**_entry(3), **copy.deepcopy(_GOOD_VALUES)}
    assert plain_entry_bytes(obj) == canonicalize(obj)
