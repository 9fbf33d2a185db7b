"""Creator records: every accepted creator action, sealed into batches of the shared
sequence and anchored like usage events.

`CreatorStore` writes a record with the action it records (`insert_record`, in the
same transaction), so a stored record is an applied action and the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.core.records import (
    PENDING,
    BatchKind,
    CreatorRecord,
    NewCreatorRecord,
)
from ledger.storage.batching import LeafQueue
from ledger.storage.engine import repository
from ledger.storage.models import (
    BatchRow,
    CreatorRecordRow,
    DatasetCheckRow,
    StatementRow,
    UsageBatchRow,
)

_REGISTER = "register"

_COLUMNS = (
    CreatorRecordRow.digest,
    CreatorRecordRow.creator_id,
    CreatorRecordRow.body,
    CreatorRecordRow.accepted_at,
    CreatorRecordRow.batch_number,
    CreatorRecordRow.leaf_index,
    BatchRow.status,
)


async def insert_record(
    conn: AsyncConnection, creator_id: str, record: NewCreatorRecord, now: int
) -> None:
    """Store `record` of `creator_id`'s action in the caller's transaction."""
    await conn.execute(
        insert(CreatorRecordRow).values(
            digest=record.digest,
            creator_id=creator_id,
            action=record.action,
            body=record.body,
            accepted_at=now,
        )
    )


@repository
class CreatorRecordStore:
    """Repository of creator records and the batches that hold them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        #: The records awaiting a batch, for the batcher.
        self.queue = LeafQueue(engine, CreatorRecordRow, "creator-record")

    async def get(self, digest: bytes) -> CreatorRecord | None:
        """The record with this record digest, or None."""
        stmt = _query().where(CreatorRecordRow.digest == digest)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return _record(row) if row else None

    async def records_until(self, creator_id: str, accepted_at_ms: int) -> list[CreatorRecord]:
        """The creator's records accepted at or before `accepted_at_ms`, in acceptance
        order, from its latest register on (an id rejected before approval may have
        been registered again since, by someone else)."""
        r = CreatorRecordRow
        until = (r.creator_id == creator_id, r.accepted_at <= accepted_at_ms)
        # Creators registered before revision 0006 have no register record.
        start = func.coalesce(
            select(func.max(r.seq)).where(*until, r.action == _REGISTER).scalar_subquery(), 0
        )
        stmt = _query().where(*until, r.seq >= start).order_by(r.seq)
        async with self._engine.connect() as conn:
            return [_record(row) for row in await conn.execute(stmt)]

    async def batch_kinds(self, numbers: Sequence[int]) -> dict[int, BatchKind]:
        """What each of batches `numbers` holds (at most a page of them): usage batches
        are marked, creator-record, statement and licence-snapshot batches are those their
        rows name, the rest hold manifests."""
        by_leaves = (
            (BatchKind.CREATOR_RECORDS, CreatorRecordRow),
            (BatchKind.STATEMENTS, StatementRow),
            (BatchKind.LICENCE_SNAPSHOTS, DatasetCheckRow),
        )
        kinds: dict[int, BatchKind] = {}
        async with self._engine.connect() as conn:
            usage = select(UsageBatchRow.number).where(UsageBatchRow.number.in_(numbers))
            kinds.update(dict.fromkeys((await conn.execute(usage)).scalars(),
                                       BatchKind.USAGE_EVENTS))
            for kind, row in by_leaves:
                named = select(row.batch_number).where(row.batch_number.in_(numbers))
                found = (await conn.execute(named.distinct())).scalars()
                kinds.update({number: kind for number in found if number is not None})
        return {n: kinds.get(n, BatchKind.MANIFESTS) for n in numbers}




def _query() -> Any:
    return select(*_COLUMNS).outerjoin(
        BatchRow, BatchRow.number == CreatorRecordRow.batch_number
    )


def _record(row: Row[*tuple[Any, ...]]) -> CreatorRecord:
    return CreatorRecord(
        digest=row.digest,
        creator_id=row.creator_id,
        body=row.body,
        accepted_at=row.accepted_at,
        batch_number=row.batch_number,
        leaf_index=row.leaf_index,
        status=row.status or PENDING,
    )
