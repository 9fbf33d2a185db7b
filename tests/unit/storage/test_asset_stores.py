"""Asset rows of 1.0 intake, 1.1 uploads and chunks, and lookups, on a SQLite file through
the fast path and through the engine (as on PostgreSQL): both answer alike."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.core.canonical import canonicalize
from ledger.core.manifest import Manifest
from ledger.core.merkle import MerkleTree, join_levels
from ledger.core.records import AnchorInfo, NewManifest
from ledger.core.signing import P256SigningKey, sign_manifest
from ledger.storage.assets import AssetStore, manifest_asset_rows
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.schema import upgrade
from ledger.storage.uploads import NewChunk, NewUpload, UploadStore
from tests.fakes.world import priced_manifest


@dataclass
class Stores:
    manifests: ManifestStore
    uploads: UploadStore
    assets: AssetStore


@pytest.fixture(params=["fast", "engine"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await upgrade(engine)
    found = Stores(ManifestStore(engine), UploadStore(engine), AssetStore(engine))
    if request.param == "engine":
        found.manifests.close()
        found.manifests._fast = None  # the engine's path, as on PostgreSQL
        found.uploads._fast = None
        found.assets._fast = None
    yield found
    found.manifests.close()
    await engine.dispose()


def rows(digest: bytes, first: int, count: int, *, hash_of: int = 0) -> list[
        tuple[bytes, int, str, bytes, bytes]]:
    return [(digest, i, f"asset:a-{i}", bytes([hash_of or i % 256]) * 32, b'{"i":%d}' % i)
            for i in range(first, first + count)]


def upload(digest: bytes, count: int = 5, chunk_size: int = 2) -> NewUpload:
    header = b'{"assetCount":5,"manifestVersion":"1.1"}'
    return NewUpload(digest, "creator:b", "p256:k", header, count, b"r" * 32, chunk_size, 1)


async def test_a_1_0_manifest_gets_its_asset_rows_with_it(stores: Stores) -> None:
    manifest = priced_manifest([5, 6, 7])
    new = NewManifest(manifest.digest(), "creator:a", "k", manifest.to_json(), 3)
    for _ in range(2):  # the second add stores nothing new
        await stores.manifests.add([new, NewManifest(os.urandom(32), "creator:a", "k", b"{}", 4)])
    found = await stores.assets.by_hash(bytes.fromhex(f"{1:064x}"))
    assert [(r.asset_id, r.asset_index, r.manifest_version, r.status) for r in found] == [
        ("asset:a-1", 1, "1.0", "pending")]
    assert found[0].entry == canonicalize(manifest.assets[1].to_obj())
    assert await stores.assets.entry(manifest.digest(), 2) == canonicalize(
        manifest.assets[2].to_obj())
    assert await stores.assets.entry_by_id(manifest.digest(), "asset:a-0") == canonicalize(
        manifest.assets[0].to_obj())


def test_only_a_1_0_body_has_asset_rows() -> None:
    assert manifest_asset_rows(b"d" * 32, b"{}") == []
    assert manifest_asset_rows(b"d" * 32, b'{"assetCount":3,"assetsRoot":"0x00"}') == []


async def test_an_upload_completes_with_its_last_chunk(stores: Stores) -> None:
    digest = os.urandom(32)
    first, created = await stores.uploads.start(upload(digest))
    assert created and first.received == frozenset() and first.completed_at is None
    again, created = await stores.uploads.start(upload(digest, chunk_size=4))
    assert not created and again.chunk_size == 2  # the first is kept
    chunks = [NewChunk(j, bytes([j]) * 32, bytes([j]) * 64, rows(digest, 2 * j, 2))
              for j in range(2)] + [NewChunk(2, b"\2" * 32, b"\2" * 32, rows(digest, 4, 1))]
    for chunk in (chunks[2], chunks[0]):
        outcome = await stores.uploads.store_chunk(digest, chunk, 3, 50)
        assert (outcome.stored, outcome.completed) == (True, False)
    outcome = await stores.uploads.store_chunk(digest, chunks[0], 3, 50)
    assert (outcome.stored, outcome.completed) == (False, False)
    assert await stores.manifests.get(digest) is None
    assert await stores.uploads.proof_parts(digest, 0) is None
    assert await stores.assets.by_hash(b"\0" * 32) == []  # asset 0: not registered yet
    assert await stores.assets.by_hashes([b"\0" * 32, b"\4" * 32]) == {}
    outcome = await stores.uploads.store_chunk(digest, chunks[1], 3, 60)
    assert (outcome.stored, outcome.completed) == (True, True)
    record = await stores.manifests.get(digest)
    assert record is not None and record.accepted_at == 60 and record.creator_id == "creator:b"
    done = await stores.uploads.get(digest)
    assert done is not None and done.completed_at == 60 and done.received == {0, 1, 2}
    assert await stores.uploads.proof_parts(digest, 1) == (b"\1" * 64,
                                                          b"\0" * 32 + b"\1" * 32 + b"\2" * 32)
    found = await stores.assets.by_hash(b"\3" * 32)
    assert [(r.asset_index, r.manifest_version) for r in found] == [(3, "1.1")]
    await _agrees(stores, [b"\3" * 32, b"\0" * 32, b"\x09" * 32])
    assert (await stores.uploads.store_chunk(digest, chunks[1], 3, 70)).completed


async def test_a_chunk_repeating_a_stored_id_stores_nothing(stores: Stores) -> None:
    digest = os.urandom(32)
    await stores.uploads.start(upload(digest))
    await stores.uploads.store_chunk(digest, NewChunk(0, b"\0" * 32, b"", rows(digest, 0, 2)),
                                     3, 5)
    clash = [*rows(digest, 2, 1), (digest, 3, "asset:a-1", b"\7" * 32, b"{}")]
    outcome = await stores.uploads.store_chunk(digest, NewChunk(1, b"\1" * 32, b"", clash), 3, 5)
    assert outcome.duplicate == (1, 1) and not outcome.stored
    stored = await stores.uploads.get(digest)
    assert stored is not None and stored.received == {0}
    assert await stores.assets.entry(digest, 2) is None


async def test_lookup_orders_by_anchor_then_acceptance(stores: Stores) -> None:
    same = bytes([9]) * 32
    digests = [os.urandom(32) for _ in range(3)]
    for n, digest in enumerate(digests):
        await stores.uploads.start(upload(digest, count=1, chunk_size=1))
        await stores.uploads.store_chunk(
            digest, NewChunk(0, b"\0" * 32, b"", rows(digest, 0, 1, hash_of=9)), 1, 100 - n)
    # The last accepted is sealed and anchored: it comes first, then by acceptance.
    tree = MerkleTree([digests[2]])
    pending = await stores.manifests.pending(3)
    seq = next(s for s, d in pending if d == digests[2])
    batch = await stores.manifests.seal([seq], tree.root, join_levels(tree), 5)
    assert batch is not None
    await stores.manifests.mark_anchored(batch.number, AnchorInfo(b"t" * 32, 7, b"h" * 32, 8, 9),
                                         confirmed_at=10)
    found = await stores.assets.by_hash(same)
    assert [r.manifest_digest for r in found] == [digests[2], digests[1], digests[0]]
    assert found[0].anchor is not None and found[0].anchor.block_number == 7
    assert found[0].status == "confirmed" and found[1].anchor is None
    await _agrees(stores, [same, b"\0" * 32])


async def _agrees(stores: Stores, hashes: list[bytes]) -> None:
    """`by_hashes` finds what `by_hash` finds of each hash, in its order, each match with
    its manifest's facts (shared by the matches in one manifest)."""
    many = await stores.assets.by_hashes(hashes)
    for content_hash in hashes:
        assert [(m.manifest.digest, m.asset_index, m.asset_id, m.entry, m.manifest.creator_id,
                 m.manifest.accepted_at, m.manifest.anchor)
                for m in many.get(content_hash, [])] == [
            (r.manifest_digest, r.asset_index, r.asset_id, r.entry, r.creator_id,
             r.accepted_at, r.anchor) for r in await stores.assets.by_hash(content_hash)]
    assert set(many) <= set(hashes) and all(many.values())
    # The batch lookup's registrations are `by_hash`'s exactly, a hash asked twice once.
    registrations = await stores.assets.registrations([*hashes, *hashes])
    for content_hash in hashes:
        assert registrations.get(content_hash, []) == await stores.assets.by_hash(content_hash)
    assert set(registrations) <= set(hashes) and all(registrations.values())


def test_asset_rows_hold_each_entry_s_canonical_bytes() -> None:
    # Floats and keys beyond the BMP are spelt otherwise by orjson: the fallback runs.
    odd = {"ratio": 1e-7, "big": 1e21, "\U0001f600": 1, "\ue000": 2, "n": 0.5}
    manifest = sign_manifest({
        "manifestVersion": "1.0",
        "creator": {"id": "creator:a", "wallet": "0x" + "11" * 20},
        "assets": [{"id": f"asset:a-{i}", "type": "image/png", "hash": "sha256:" + "ab" * 32,
                    "licenses": ["x"], **({"extensions": odd} if i == 1 else {})}
                   for i in range(3)],
    }, P256SigningKey.from_secret(7))
    body = Manifest.from_obj(manifest).to_json()
    found = manifest_asset_rows(b"d" * 32, body)
    assert [row[4] for row in found] == [canonicalize(a) for a in manifest["assets"]]
    assert [row[1:4] for row in found] == [(i, f"asset:a-{i}", b"\xab" * 32) for i in range(3)]
