"""Sealing leaves into batches: shared by manifests and usage events.

Both kinds take numbers from one sequence, because the registry's fence takes
batch numbers in order whatever a batch holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.core.records import BatchRecord, BatchStatus
from ledger.storage.engine import storage_errors
from ledger.storage.models import BatchLevelsRow, BatchRow, SealedLeafColumns

# SQLite caps bound parameters per statement; stay well under it.
_CHUNK = 500


async def insert_batch(
    conn: AsyncConnection, root: bytes, leaf_count: int, levels: bytes, sealed_at: int
) -> int:
    """Insert the next batch (number = last + 1) with its tree; return its number."""
    last = (await conn.execute(select(func.max(BatchRow.number)))).scalar()
    number = (last or 0) + 1
    await conn.execute(
        insert(BatchRow).values(
            number=number,
            root=root,
            leaf_count=leaf_count,
            sealed_at=sealed_at,
            status=BatchStatus.SEALED.value,
        )
    )
    await conn.execute(insert(BatchLevelsRow).values(number=number, levels=levels))
    return number


async def claim_leaves(
    conn: AsyncConnection, row: Any, seqs: Sequence[int], number: int
) -> bool:
    """Make rows `seqs` of `row`'s table leaves 0..n-1 of batch `number`.

    True when every one of them was still unbatched; False when any was taken
    (the caller rolls back). Only single statements' row counts are trusted:
    an executemany's is not reported by every driver (asyncpg gives none).
    """
    if not seqs:
        return True
    if seqs[-1] - seqs[0] + 1 == len(seqs):
        # The usual case, consecutive rows: one statement, so sealing a large
        # batch holds the write lock (and intake) back only briefly.
        result = await conn.execute(
            update(row)
            .where(row.seq.between(seqs[0], seqs[-1]), row.batch_number.is_(None))
            .values(batch_number=number, leaf_index=row.seq - seqs[0])
        )
        return bool(result.rowcount == len(seqs))
    place = (
        update(row).where(row.seq == bindparam("b_seq")).values(leaf_index=bindparam("b_index"))
    )
    claimed = 0
    for start in range(0, len(seqs), _CHUNK):
        chunk = seqs[start : start + _CHUNK]
        result = await conn.execute(
            update(row)
            .where(row.seq.in_(chunk), row.batch_number.is_(None))
            .values(batch_number=number)
        )
        claimed += result.rowcount
        await conn.execute(place, [{"b_seq": s, "b_index": start + i} for i, s in enumerate(chunk)])
    return claimed == len(seqs)


async def pending_stats(engine: AsyncEngine, row: Any) -> tuple[int, int | None]:
    """How many rows of `row`'s table await a batch, and when the oldest was accepted."""
    stmt = select(func.count(), func.min(row.accepted_at)).where(row.batch_number.is_(None))
    async with engine.connect() as conn:
        count, oldest = (await conn.execute(stmt)).one()
    return int(count), oldest


async def pending(engine: AsyncEngine, row: Any, limit: int) -> list[tuple[int, bytes]]:
    """Up to `limit` unbatched rows of `row`'s table, oldest first, as (seq, digest)."""
    stmt = (
        select(row.seq, row.digest)
        .where(row.batch_number.is_(None))
        .order_by(row.seq)
        .limit(limit)
    )
    async with engine.connect() as conn:
        return [(r.seq, r.digest) for r in await conn.execute(stmt)]


class LeafQueue:
    """The unbatched rows of a table of signed leaves (creator records, statements,
    licence snapshots): what the batcher seals them from (`SealableStore`). ``what``
    names a row in errors ("creator record")."""

    def __init__(self, engine: AsyncEngine, row: type[SealedLeafColumns], what: str) -> None:
        self._engine = engine
        self._row = row
        self._what = what

    async def pending_stats(self) -> tuple[int, int | None]:
        """How many rows await a batch, and when the oldest was accepted."""
        return await pending_stats(self._engine, self._row)

    async def pending(self, limit: int) -> list[tuple[int, bytes]]:
        """Up to `limit` unbatched rows, oldest first, as (seq, digest)."""
        return await pending(self._engine, self._row, limit)

    async def seal(
        self, seqs: Sequence[int], root: bytes, levels: bytes, sealed_at: int
    ) -> BatchRecord | None:
        """Put rows ``seqs`` (in leaf order) into the next batch of the shared sequence;
        None, changing nothing, when any was sealed meanwhile."""
        with storage_errors(f"could not seal a {self._what} batch"):
            async with self._engine.begin() as conn:
                number = await insert_batch(conn, root, len(seqs), levels, sealed_at)
                if not await claim_leaves(conn, self._row, seqs, number):
                    await conn.rollback()
                    return None
        return BatchRecord(number, root, len(seqs), sealed_at, BatchStatus.SEALED, None, None)
