"""The creator store: migrated creators, approval and rejection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.core.records import NewCreatorRecord
from ledger.storage import schema
from ledger.storage.creators import CreatorStore, Verification
from ledger.storage.engine import open_engine


def registered(n: int) -> NewCreatorRecord:
    """A register's record (its body and digest only need to be distinct here)."""
    return NewCreatorRecord("register", bytes([n]) * 32, b"{}")


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    yield made
    await made.dispose()


async def test_creators_registered_before_0004_wait_for_approval(engine: AsyncEngine) -> None:
    await schema.upgrade(engine)
    await schema.downgrade(engine, "0003")
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO creators VALUES ('creator:old', 1)"))
        await conn.execute(text(
            "INSERT INTO creator_keys (creator_id, public_key, added_at) "
            "VALUES ('creator:old', 'p256:k', 1)"
        ))
    await schema.upgrade(engine)
    store = CreatorStore(engine)
    creator = await store.get("creator:old")
    assert creator is not None and not creator.verified
    assert creator.detail is not None and "awaiting operator approval" in creator.detail
    assert [k.role for k in creator.keys] == ["signing"]
    assert await store.approve("creator:old", "operator: approved", 5)
    approved = await store.get("creator:old")
    assert approved is not None and approved.verified and approved.can_sign("p256:k", 6)
    assert not await store.approve("creator:old", "again", 6)
    assert not await store.reject("creator:old")  # verified creators are never deleted


async def test_reject_frees_a_pending_id(engine: AsyncEngine) -> None:
    await schema.upgrade(engine)
    store = CreatorStore(engine)
    pending = Verification("operator", None, "operator: awaiting approval")
    assert await store.register("creator:a", ["p256:s"], "p256:r", pending, 1,
                                record=registered(1))
    assert not await store.register("creator:a", ["p256:t"], "p256:q", pending, 2,
                                    record=registered(2))
    assert await store.reject("creator:a")
    assert await store.get("creator:a") is None
    assert await store.register("creator:a", ["p256:t"], "p256:q", pending, 3,
                                record=registered(3))


async def test_downgrade_drops_recovery_keys(engine: AsyncEngine) -> None:
    await schema.upgrade(engine)
    store = CreatorStore(engine)
    assert await store.register("creator:a", ["p256:s"], "p256:r", Verification("key", 1, "k"), 1,
                                record=registered(1))
    await schema.downgrade(engine, "0003")
    async with engine.connect() as conn:
        keys = (await conn.execute(text("SELECT public_key FROM creator_keys"))).all()
    assert [k for (k,) in keys] == ["p256:s"]
