"""Creator records: stored with the action they record or not at all, a creator's
history from its latest register, and sealed into the shared batch sequence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.core.records import PENDING, BatchKind, BatchStatus, NewCreatorRecord
from ledger.errors import ValidationError
from ledger.storage import schema
from ledger.storage.batching import insert_batch
from ledger.storage.creator_records import CreatorRecordStore
from ledger.storage.creators import CreatorStore, Verification
from ledger.storage.engine import open_engine
from ledger.storage.models import CreatorRecordRow, UsageBatchRow

VERIFIED = Verification("key", 1, "key")


def record(action: str, n: int) -> NewCreatorRecord:
    return NewCreatorRecord(action, bytes([n]) * 32, b'{"n":%d}' % n)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await schema.upgrade(made)
    yield made
    await made.dispose()


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(CreatorRecordRow)))
                   .scalar_one())


async def test_each_applied_action_keeps_its_record(engine: AsyncEngine) -> None:
    creators, records = CreatorStore(engine), CreatorRecordStore(engine)
    assert await creators.register("creator:a", ["p256:s"], "p256:r", VERIFIED, 10,
                                   record=record("register", 1))
    await creators.add_key("creator:a", "p256:t", 20, authorised_by=["p256:s"],
                           record=record("add-key", 2))
    assert await creators.revoke_key("creator:a", "p256:s", 30, record=record("revoke-key", 3))
    await creators.recover("creator:a", ["p256:u"], "p256:r", 40, record=record("recover", 4))
    history = await records.records_until("creator:a", 40)
    assert [(r.digest[0], r.accepted_at, r.status) for r in history] == [
        (1, 10, PENDING), (2, 20, PENDING), (3, 30, PENDING), (4, 40, PENDING)]
    assert history[1].body == b'{"n":2}' and history[1].creator_id == "creator:a"
    assert [r.digest[0] for r in await records.records_until("creator:a", 29)] == [1, 2]
    assert await records.records_until("creator:a", 9) == []
    assert await records.get(bytes([3]) * 32) == history[2]
    assert await records.get(bytes([9]) * 32) is None


async def test_a_refused_action_stores_no_record(engine: AsyncEngine) -> None:
    creators = CreatorStore(engine)
    assert await creators.register("creator:a", ["p256:s"], "p256:r", VERIFIED, 10,
                                   record=record("register", 1))
    # A duplicate register, a key added twice, one authorised by a revoked key, a
    # revoke of a key revoked already, a recover listing a key the creator had.
    assert not await creators.register("creator:a", ["p256:x"], "p256:y", VERIFIED, 11,
                                       record=record("register", 2))
    with pytest.raises(ValidationError, match="already added"):
        await creators.add_key("creator:a", "p256:s", 12, authorised_by=["p256:s"],
                               record=record("add-key", 3))
    assert await creators.revoke_key("creator:a", "p256:s", 13, record=record("revoke-key", 4))
    with pytest.raises(ValidationError, match="revoked meanwhile"):
        await creators.add_key("creator:a", "p256:t", 14, authorised_by=["p256:s"],
                               record=record("add-key", 5))
    assert not await creators.revoke_key("creator:a", "p256:s", 15,
                                         record=record("revoke-key", 6))
    with pytest.raises(ValidationError, match="had already"):
        await creators.recover("creator:a", ["p256:s"], "p256:r", 16,
                               record=record("recover", 7))
    assert await count(engine) == 2
    history = await CreatorRecordStore(engine).records_until("creator:a", 100)
    assert [r.digest[0] for r in history] == [1, 4]


async def test_a_record_whose_digest_is_stored_already_undoes_its_action(
    engine: AsyncEngine,
) -> None:
    creators = CreatorStore(engine)
    assert await creators.register("creator:a", ["p256:s"], "p256:r", VERIFIED, 10,
                                   record=record("register", 1))
    with pytest.raises(ValidationError):
        await creators.add_key("creator:a", "p256:t", 11, authorised_by=["p256:s"],
                               record=record("add-key", 1))
    creator = await creators.get("creator:a")
    assert creator is not None and [k.public_key for k in creator.keys] == ["p256:s", "p256:r"]


async def test_history_starts_at_the_latest_register(engine: AsyncEngine) -> None:
    creators, records = CreatorStore(engine), CreatorRecordStore(engine)
    waiting = Verification("operator", None, "operator: awaiting approval")
    assert await creators.register("creator:a", ["p256:s"], "p256:r", waiting, 10,
                                   record=record("register", 1))
    assert await creators.revoke_key("creator:a", "p256:s", 11, record=record("revoke-key", 2))
    assert await creators.reject("creator:a")
    assert await creators.register("creator:a", ["p256:t"], "p256:q", waiting, 20,
                                   record=record("register", 3))
    assert [r.digest[0] for r in await records.records_until("creator:a", 30)] == [3]
    # Before the second register, the first one's history (its creator was rejected).
    assert [r.digest[0] for r in await records.records_until("creator:a", 15)] == [1, 2]


async def test_records_are_sealed_into_the_shared_sequence(engine: AsyncEngine) -> None:
    creators, records = CreatorStore(engine), CreatorRecordStore(engine)
    for n, creator_id in enumerate(["creator:a", "creator:b", "creator:c"], start=1):
        assert await creators.register(creator_id, [f"p256:s{n}"], f"p256:r{n}", VERIFIED,
                                       n * 10, record=record("register", n))
    assert await records.queue.pending_stats() == (3, 10)
    pending = await records.queue.pending(2)
    assert [digest[0] for _, digest in pending] == [1, 2]
    batch = await records.queue.seal([seq for seq, _ in pending], b"\x01" * 32, b"", 50)
    assert batch is not None and batch.number == 1 and batch.status is BatchStatus.SEALED
    assert await records.queue.seal([pending[0][0]], b"\x02" * 32, b"", 51) is None
    assert await records.queue.pending_stats() == (1, 30)
    sealed = await records.records_until("creator:b", 100)
    assert [(r.batch_number, r.leaf_index, r.status) for r in sealed] == [
        (1, 1, BatchStatus.SEALED.value)]
    async with engine.begin() as conn:  # a usage batch, marked as such
        await insert_batch(conn, b"\x03" * 32, 0, b"", 52)
        await conn.execute(insert(UsageBatchRow).values(number=2))
        await insert_batch(conn, b"\x04" * 32, 0, b"", 53)
    assert await records.batch_kinds([1, 2, 3]) == {
        1: BatchKind.CREATOR_RECORDS, 2: BatchKind.USAGE_EVENTS, 3: BatchKind.MANIFESTS}
