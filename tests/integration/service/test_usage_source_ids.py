"""Migration 0003: usage event ids become unique per source, and the events stored
before it are kept (issue 11: one source could pre-claim another's ids)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.storage import schema
from ledger.storage.engine import open_engine

_COLUMNS = ("event_id, digest, body, source, buyer, creator_id, manifest_digest, asset_id, "
            "asset_key, token, units, event_time, accepted_at")


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A fresh SQLite file, then a fresh PostgreSQL database (their constraints differ)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
    made = open_engine(url)
    yield made
    await made.dispose()


async def insert(engine: AsyncEngine, source: str, event_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(
            f"INSERT INTO usage_events ({_COLUMNS}) VALUES (:event_id, :digest, :body, "
            ":source, '0x00', 'creator:c', :digest, 'asset:x', :digest, 'ETH', 1, 0, 0)"),
            {"event_id": event_id, "digest": b"\x01" * 32, "body": b"{}", "source": source})


async def stored(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(
            "SELECT source, event_id FROM usage_events ORDER BY seq"))
        return [(r.source, r.event_id) for r in rows]


async def test_upgrade_keeps_events_and_scopes_ids_per_source(engine: AsyncEngine) -> None:
    await schema.upgrade(engine)
    await schema.downgrade(engine, "0002")
    await insert(engine, "edge-a", "job-1")
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        await insert(engine, "edge-b", "job-1")  # the pre-claim of revision 0002
    await schema.upgrade(engine)
    assert await stored(engine) == [("edge-a", "job-1")]
    await insert(engine, "edge-b", "job-1")
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        await insert(engine, "edge-a", "job-1")
    assert await stored(engine) == [("edge-a", "job-1"), ("edge-b", "job-1")]
