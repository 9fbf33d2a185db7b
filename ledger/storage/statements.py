"""Lifecycle statements: every accepted statement about a manifest's assets, sealed into
batches of the shared sequence and anchored like creator records.

A statement is stored whole (its canonical JSON) under the manifest it targets; which of
that manifest's assets it names is read from the body (`ledger.core.statements.Target`),
so the statements of one asset are those of its manifest that cover it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import Row, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.core.records import PENDING, StatementRecord
from ledger.errors import StorageError
from ledger.storage.batching import LeafQueue
from ledger.storage.engine import repository, storage_errors
from ledger.storage.models import AssetRow, BatchRow, StatementRow

#: Work done in the transaction that stores a statement (an outbox entry announcing it).
InTransaction = Callable[[AsyncConnection], Awaitable[None]]

_COLUMNS = (
    StatementRow.digest,
    StatementRow.manifest_digest,
    StatementRow.type,
    StatementRow.body,
    StatementRow.accepted_at,
    StatementRow.batch_number,
    StatementRow.leaf_index,
    BatchRow.status,
)

_ASSET_COLUMNS = (AssetRow.asset_index, AssetRow.asset_id, AssetRow.entry)


@repository
class StatementStore:
    """Repository of lifecycle statements and the batches that hold them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        #: The statements awaiting a batch, for the batcher.
        self.queue = LeafQueue(engine, StatementRow, "statement")

    async def add(self, record: StatementRecord, *, also: InTransaction | None = None
                  ) -> bool:
        """Store `record`, and run `also` in the same transaction (what announces it);
        False, storing nothing, when a statement with its digest is stored already."""
        try:
            with storage_errors("could not store a statement"):
                async with self._engine.begin() as conn:
                    found = await conn.execute(
                        select(StatementRow.seq).where(StatementRow.digest == record.digest))
                    if found.first() is not None:
                        return False
                    await conn.execute(insert(StatementRow).values(
                        digest=record.digest, manifest_digest=record.manifest_digest,
                        type=record.type, body=record.body, accepted_at=record.accepted_at,
                    ))
                    if also is not None:
                        await also(conn)
        except StorageError as exc:
            # Another replica stored the same statement between the look and the insert.
            if isinstance(exc.__cause__, IntegrityError):
                return False
            raise
        return True

    async def get(self, digest: bytes) -> StatementRecord | None:
        """The statement with this digest, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_query().where(StatementRow.digest == digest))).first()
        return _record(row) if row else None

    async def about(self, manifest_digest: bytes) -> list[StatementRecord]:
        """Every statement targeting assets of this manifest, in acceptance order."""
        stmt = (_query().where(StatementRow.manifest_digest == manifest_digest)
                .order_by(StatementRow.seq))
        async with self._engine.connect() as conn:
            return [_record(row) for row in await conn.execute(stmt)]

    async def latest_seq(self) -> int:
        """The seq of the latest stored statement (0: none)."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.max(StatementRow.seq)))).scalar() or 0)

    async def changed_since(self, seq: int) -> tuple[int, set[bytes]]:
        """The latest statement's seq, and the manifests of statements stored after `seq`
        (by any replica): what a cache of statements must forget."""
        stmt = select(StatementRow.seq, StatementRow.manifest_digest).where(
            StatementRow.seq > seq)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return max((r.seq for r in rows), default=seq), {r.manifest_digest for r in rows}

    async def assets(self, manifest_digest: bytes, *, start: int = 0, limit: int | None = None
                     ) -> list[tuple[int, str, bytes]]:
        """The stored assets of a manifest as (index, asset id, canonical entry), in index
        order: from index `start`, at most `limit` (None: all)."""
        stmt = (select(*_ASSET_COLUMNS)
                .where(AssetRow.manifest_digest == manifest_digest,
                       AssetRow.asset_index >= start)
                .order_by(AssetRow.asset_index).limit(limit))
        async with self._engine.connect() as conn:
            return [(r.asset_index, r.asset_id, r.entry) for r in await conn.execute(stmt)]

    async def assets_named(self, manifest_digest: bytes, asset_ids: Sequence[str]
                           ) -> list[tuple[int, str, bytes]]:
        """The manifest's assets with these ids (at most 1,024), as `assets` gives them."""
        stmt = (select(*_ASSET_COLUMNS)
                .where(AssetRow.manifest_digest == manifest_digest,
                       AssetRow.asset_id.in_(asset_ids))
                .order_by(AssetRow.asset_index))
        async with self._engine.connect() as conn:
            return [(r.asset_index, r.asset_id, r.entry) for r in await conn.execute(stmt)]




def _query() -> Any:
    return select(*_COLUMNS).outerjoin(BatchRow, BatchRow.number == StatementRow.batch_number)


def _record(row: Row[*tuple[Any, ...]]) -> StatementRecord:
    return StatementRecord(
        digest=row.digest,
        manifest_digest=row.manifest_digest,
        type=row.type,
        body=row.body,
        accepted_at=row.accepted_at,
        batch_number=row.batch_number,
        leaf_index=row.leaf_index,
        status=row.status or PENDING,
    )
