"""Licence snapshots of dataset checks, sealed into batches of the shared sequence and
anchored like creator records, so each snapshot's time is provable."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.core.records import PENDING
from ledger.storage.batching import LeafQueue
from ledger.storage.engine import repository
from ledger.storage.models import BatchRow, DatasetCheckRow


@dataclass(frozen=True)
class StoredSnapshot:
    """A stored snapshot: its JSON, when it was stored, and its leaf once batched."""

    digest: bytes
    body: bytes
    accepted_at: int
    batch_number: int | None
    leaf_index: int | None
    status: str


@repository
class DatasetCheckStore:
    """Repository of licence snapshots and the batches that hold them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        #: The snapshots awaiting a batch, for the batcher.
        self.queue = LeafQueue(engine, DatasetCheckRow, "licence-snapshot")

    async def add(self, digest: bytes, body: bytes, now: int) -> None:
        """Store a snapshot under its digest; the same snapshot twice is stored once."""
        async with self._engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            await conn.execute(dialect.insert(DatasetCheckRow).values(
                digest=digest, body=body, accepted_at=now).on_conflict_do_nothing())

    async def get(self, digest: bytes) -> StoredSnapshot | None:
        """The snapshot with this digest, or None."""
        r = DatasetCheckRow
        stmt = (select(r.digest, r.body, r.accepted_at, r.batch_number, r.leaf_index,
                       BatchRow.status)
                .outerjoin(BatchRow, BatchRow.number == r.batch_number)
                .where(r.digest == digest))
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return StoredSnapshot(row.digest, row.body, row.accepted_at, row.batch_number,
                              row.leaf_index, row.status or PENDING)

    async def is_check_batch(self, number: int) -> bool:
        """Whether batch `number` holds licence snapshots."""
        stmt = select(DatasetCheckRow.seq).where(DatasetCheckRow.batch_number == number)
        async with self._engine.connect() as conn:
            return (await conn.execute(stmt.limit(1))).first() is not None

