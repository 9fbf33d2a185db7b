"""The library use case over a SQLite file: an upload completes, its assets prove before
and after the anchor, and chunk checks in the workers answer as the inline ones."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ledger.app.chunks import ChunkJob, check_chunks
from ledger.app.intake import CreatorKeys, Verifier
from ledger.app.library import Library
from ledger.core.asset_tree import AssetProof, verify_asset_proof
from ledger.core.manifest import ManifestHeader
from ledger.core.merkle import MerkleTree, join_levels, split_levels
from ledger.core.proof import Anchor, ProofBundle
from ledger.core.receipt import Receipt, ReceiptSigner
from ledger.core.records import AnchorInfo, BatchRecord, ManifestRecord
from ledger.core.signing import P256SigningKey
from ledger.errors import LedgerError, NotFound
from ledger.storage.assets import AssetStore
from ledger.storage.creators import Creator, CreatorKey
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.schema import upgrade
from ledger.storage.uploads import UploadStore
from tests.integration.service.libraries import Library as Lib
from tests.integration.service.libraries import library

KEY = P256SigningKey.from_secret(0xC0FFEE)
CREATOR = "creator:alice"
SERVICE = ReceiptSigner(P256SigningKey.from_secret(0x5E41CE))


async def signed_receipt(record: ManifestRecord) -> Receipt:
    return SERVICE.sign(record.digest, record.accepted_at, record.accepted_at + 1)


class FakeCreators:
    async def get(self, creator_id: str) -> Creator | None:
        keys = (CreatorKey(KEY.public_id, 0, None),)
        return Creator(CREATOR, 0, "operator", 0, "test", keys) if creator_id == CREATOR \
            else None


@dataclass
class World:
    library: Library
    manifests: ManifestStore


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await upgrade(engine)
    manifests = ManifestStore(engine)

    async def bundle(record: ManifestRecord, batch: BatchRecord | None) -> ProofBundle | None:
        if batch is None or record.leaf_index is None:
            return None
        levels = await manifests.levels(batch.number)
        assert levels is not None
        tree = split_levels(levels, batch.leaf_count)
        anchor = None if batch.anchor is None else Anchor(
            1, "0x" + "22" * 20, batch.number, batch.anchor.tx_hash, batch.anchor.block_number,
            batch.anchor.block_hash, batch.anchor.block_timestamp)
        return ProofBundle.build(tree, record.leaf_index, record.digest, anchor=anchor)

    keys = CreatorKeys(FakeCreators())  # type: ignore[arg-type]  # the one method used
    lib = Library(UploadStore(engine), AssetStore(engine), manifests, keys, None,
                  receipt=signed_receipt, batch_bundle=bundle)
    yield World(lib, manifests)
    manifests.close()
    await engine.dispose()


async def upload_all(world: World, lib: Lib) -> None:
    _, created = await world.library.start(lib.start_body())
    assert created
    digest = bytes.fromhex(lib.digest[2:])
    for index in range(lib.chunks):
        answer = await world.library.put_chunk(digest, index, lib.chunk_body(index))
        assert answer.stored
    assert answer.view.receipt is not None


async def test_assets_prove_before_and_after_the_anchor(world: World) -> None:
    lib = library(CREATOR, KEY, 9, tag="nine", chunk_size=4)
    await upload_all(world, lib)
    digest = bytes.fromhex(lib.digest[2:])
    assert isinstance(await world.library.asset_proof(digest, 0), ManifestRecord)  # no batch
    tree = MerkleTree([digest])
    batch = await world.manifests.seal([seq for seq, _ in await world.manifests.pending(5)],
                                       tree.root, join_levels(tree), 1)
    assert batch is not None
    for index in (0, 4, 8):
        proof = await world.library.asset_proof(digest, index)
        assert isinstance(proof, AssetProof) and proof.manifest_proof.anchor is None
        verify_asset_proof(AssetProof.from_json(proof.to_json()))
        assert proof.manifest == ManifestHeader.from_obj(lib.header)
    await world.manifests.mark_anchored(
        batch.number, AnchorInfo(b"t" * 32, 7, b"h" * 32, 8, 9), confirmed_at=10)
    for index in (0, 4, 8):
        proof = await world.library.asset_proof(digest, index)
        assert isinstance(proof, AssetProof) and proof.manifest_proof.anchor is not None
        verify_asset_proof(proof)
    with pytest.raises(NotFound):
        await world.library.asset_proof(digest, 9)


async def test_a_changed_entry_or_proof_does_not_verify(world: World) -> None:
    lib = library(CREATOR, KEY, 5, tag="five", chunk_size=2)
    await upload_all(world, lib)
    digest = bytes.fromhex(lib.digest[2:])
    tree = MerkleTree([digest])
    batch = await world.manifests.seal([seq for seq, _ in await world.manifests.pending(5)],
                                       tree.root, join_levels(tree), 1)
    assert batch is not None
    proof = await world.library.asset_proof(digest, 3)
    assert isinstance(proof, AssetProof)
    for mutate in (
        lambda o: o["asset"].update(id="asset:other"),
        lambda o: o.update(assetIndex=2),
        lambda o: o["assetProof"].reverse(),
    ):
        changed = json.loads(proof.to_json())
        mutate(changed)
        with pytest.raises(LedgerError):
            AssetProof.from_obj(changed)
    assert AssetProof.from_obj(json.loads(proof.to_json())) == proof


def jobs(lib: Lib) -> list[ChunkJob]:
    header = ManifestHeader.from_obj(lib.header)
    out = []
    for index in range(lib.chunks):
        first = index * lib.chunk_size
        count = min(lib.chunk_size, len(lib.entries) - first)
        out.append(ChunkJob(lib.chunk_body(index), header.digest(), header.assets_root,
                            header.asset_count, lib.chunk_size, index, first, count,
                            header.manifest_version))
    return out


async def test_chunk_checks_in_the_workers_answer_as_inline() -> None:
    lib = library(CREATOR, KEY, 10, tag="ten", chunk_size=4)
    good = jobs(lib)
    bad = [replace(good[0], body=lib.chunk_body(0, proof_of=1))]
    workers = Verifier(2)
    workers.start()
    try:
        here = check_chunks([*good, *bad])
        there = await workers.check_chunks([*good, *bad])
        # Chunks sent together are spread over the workers, one chunk a call.
        spread = await asyncio.gather(*(workers.check_chunks([job]) for job in good))
    finally:
        await workers.close()
    assert there[:3] == here[:3] and [r for (r,) in spread] == here[:3]
    assert isinstance(there[3], LedgerError) and there[3].field == "proof"
    assert type(here[3]) is type(there[3]) and str(here[3]) == str(there[3])


class RecordingVerifier:
    """Counts the chunks handed to the workers (and checks them here)."""

    def __init__(self) -> None:
        self.chunks = 0

    async def check_chunks(self, jobs: list[ChunkJob]) -> list[object]:
        self.chunks += len(jobs)
        return list(check_chunks(jobs))


async def test_chunks_are_checked_by_the_verifier_not_the_event_loop(world: World) -> None:
    recorder = RecordingVerifier()
    world.library._verifier = recorder  # type: ignore[assignment]  # the one method used
    lib = library(CREATOR, KEY, 6, tag="six", chunk_size=2)
    await upload_all(world, lib)
    assert recorder.chunks == 3
