"""Usage events: intake (idempotent by source and event id), batching into the
shared batch sequence, and the totals per state that statements show.

Usage batches live in the ``batches`` table beside manifest batches, numbered
from the same sequence (the AnchorRegistry's batch-number fence is one
sequence), and ``usage_batches`` marks them; so the anchorer anchors both kinds
without knowing the difference, and `ManifestStore.batch`/`levels` serve both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.core.records import BatchRecord, BatchStatus
from ledger.core.royalty.events import NewUsage, UsageRecord
from ledger.core.royalty.settlement import UsageTotal, event_status, usage_state
from ledger.storage import batching
from ledger.storage.batching import claim_leaves, insert_batch
from ledger.storage.engine import repository, storage_errors
from ledger.storage.models import (
    BatchRow,
    UsageBatchRow,
    UsageEventRow,
    UsageHoldRow,
    UsageSettlementRow,
)
from ledger.storage.table_store import TableStore

_CHUNK = 500


@repository
class UsageEventStore(TableStore):
    """Repository of usage events and usage batches."""

    # -- intake ---------------------------------------------------------------------

    async def add(self, events: Sequence[NewUsage]) -> list[tuple[bytes, bool]]:
        """Store events in one durable transaction, idempotently by event id.

        Returns, in input order, (the stored digest for that event id, created);
        a stored digest that differs from the event's means the id was reused for
        different content. An id repeated within ``events`` keeps its first event.
        """
        with storage_errors("could not store usage events"):
            if self._engine.dialect.name == "sqlite":
                found = await self._add_sqlite(events)
                if found is not None:
                    return found
            return await self._add_returning(events)

    async def _add_sqlite(self, events: Sequence[NewUsage]) -> list[tuple[bytes, bool]] | None:
        """The fast path: look up known ids, then one C-level executemany of the rest.

        Intake is the hot path (thousands of events a second): building an
        SQLAlchemy parameter set per row costs more than SQLite's insert. None
        (nothing written) if another writer inserted one of the ids meanwhile.
        """
        async with self._engine.begin() as conn:
            known = await self._digests(conn, [_key(e) for e in events])
            fresh: dict[tuple[str, str], NewUsage] = {}
            for e in events:
                if _key(e) not in known and _key(e) not in fresh:
                    fresh[_key(e)] = e
            rows = [_event_tuple(e) for e in fresh.values()]
            inserted = 0
            for start in range(0, len(rows), _CHUNK):
                result = await conn.exec_driver_sql(_SQLITE_INSERT, rows[start : start + _CHUNK])
                inserted += result.rowcount
            if inserted != len(rows):
                await conn.rollback()
                return None
        return [(known[_key(e)], False) if _key(e) in known
                else (fresh[_key(e)].digest, fresh[_key(e)] is e) for e in events]

    async def _add_returning(self, events: Sequence[NewUsage]) -> list[tuple[bytes, bool]]:
        rows = [_event_row(e) for e in events]
        stmt = (
            self._insert(UsageEventRow)
            .on_conflict_do_nothing(index_elements=["source", "event_id"])
            .returning(UsageEventRow.source, UsageEventRow.event_id)
        )
        async with self._engine.begin() as conn:
            created: set[tuple[str, str]] = set()
            for start in range(0, len(rows), _CHUNK):
                result = await conn.execute(stmt, rows[start : start + _CHUNK])
                created.update((row.source, row.event_id) for row in result)
            known = await self._digests(
                conn, [_key(e) for e in events if _key(e) not in created]
            )
        out: list[tuple[bytes, bool]] = []
        first: dict[tuple[str, str], bytes] = {}
        for e in events:
            if _key(e) in created and _key(e) not in first:
                first[_key(e)] = e.digest
                out.append((e.digest, True))
            else:
                out.append((first.get(_key(e)) or known[_key(e)], False))
        return out

    @staticmethod
    async def _digests(conn: AsyncConnection, keys: Sequence[tuple[str, str]]
                       ) -> dict[tuple[str, str], bytes]:
        """The stored digest of each known (source, event id)."""
        found: dict[tuple[str, str], bytes] = {}
        by_source: dict[str, list[str]] = {}
        for source, event_id in dict.fromkeys(keys):
            by_source.setdefault(source, []).append(event_id)
        for source, ids in by_source.items():
            for start in range(0, len(ids), _CHUNK):
                stmt = select(UsageEventRow.event_id, UsageEventRow.digest).where(
                    UsageEventRow.source == source,
                    UsageEventRow.event_id.in_(ids[start : start + _CHUNK]),
                )
                for row in await conn.execute(stmt):
                    found[(source, row.event_id)] = row.digest
        return found

    async def get(self, source: str, event_id: str) -> UsageRecord | None:
        """One event of `source` and its status, or None (ids are each source's own)."""
        stmt = (
            select(
                UsageEventRow.event_id, UsageEventRow.digest, UsageEventRow.body,
                UsageEventRow.buyer, UsageEventRow.creator_id, UsageEventRow.asset_key,
                UsageEventRow.token, UsageEventRow.units, UsageEventRow.accepted_at,
                UsageEventRow.batch_number, UsageEventRow.leaf_index,
                UsageEventRow.settlement_id, BatchRow.status.label("batch_status"),
                UsageSettlementRow.status.label("settlement_status"),
                UsageHoldRow.reason.label("hold_reason"), UsageEventRow.refusal,
            )
            .outerjoin(BatchRow, BatchRow.number == UsageEventRow.batch_number)
            .outerjoin(UsageSettlementRow,
                       UsageSettlementRow.id == UsageEventRow.settlement_id)
            .outerjoin(UsageHoldRow, and_(
                UsageHoldRow.batch_number == UsageEventRow.batch_number,
                UsageHoldRow.buyer == UsageEventRow.buyer,
                UsageHoldRow.asset_key == UsageEventRow.asset_key,
            ))
            .where(UsageEventRow.source == source, UsageEventRow.event_id == event_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return _record(row) if row else None

    # -- batching -------------------------------------------------------------------

    async def pending_stats(self) -> tuple[int, int | None]:
        """How many events await a batch, and when the oldest was accepted."""
        return await batching.pending_stats(self._engine, UsageEventRow)

    async def pending(self, limit: int) -> list[tuple[int, bytes]]:
        """Up to `limit` unbatched events, oldest first, as (seq, digest)."""
        return await batching.pending(self._engine, UsageEventRow, limit)

    async def seal(
        self, seqs: Sequence[int], root: bytes, levels: bytes, sealed_at: int
    ) -> BatchRecord | None:
        """Put events ``seqs`` (in leaf order) into the next batch of the shared sequence.

        Returns None, changing nothing, when any was sealed meanwhile. Two sealers
        racing for a number fail on the primary key; the loser retries later.
        """
        with storage_errors("could not seal a usage batch"):
            async with self._engine.begin() as conn:
                number = await insert_batch(conn, root, len(seqs), levels, sealed_at)
                await conn.execute(insert(UsageBatchRow).values(number=number))
                if not await claim_leaves(conn, UsageEventRow, seqs, number):
                    await conn.rollback()
                    return None
        return BatchRecord(number, root, len(seqs), sealed_at, BatchStatus.SEALED, None, None)

    async def is_usage_batch(self, number: int) -> bool:
        """Whether batch ``number`` holds usage events."""
        async with self._engine.connect() as conn:
            stmt = select(UsageBatchRow.number).where(UsageBatchRow.number == number)
            return (await conn.execute(stmt)).first() is not None

    async def usage_totals(self, *, creator_id: str | None = None, buyer: str | None = None
                           ) -> list[UsageTotal]:
        """Units and events per (creator, asset, buyer, token) and state."""
        e = UsageEventRow
        settlement, batch = UsageSettlementRow.status, BatchRow.status
        stmt = (
            select(e.creator_id, e.asset_key, e.asset_id, e.buyer, e.token,
                   settlement.label("settlement"), batch.label("batch"),
                   e.refusal.is_not(None).label("refused"),
                   func.sum(e.units).label("units"), func.count().label("events"))
            .outerjoin(BatchRow, BatchRow.number == e.batch_number)
            .outerjoin(UsageSettlementRow, UsageSettlementRow.id == e.settlement_id)
            .group_by(e.creator_id, e.asset_key, e.asset_id, e.buyer, e.token, settlement, batch,
                      e.refusal.is_not(None))
        )
        if creator_id is not None:
            stmt = stmt.where(e.creator_id == creator_id)
        if buyer is not None:
            stmt = stmt.where(e.buyer == buyer)
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(stmt))
        return [UsageTotal(r.creator_id, r.asset_key, r.asset_id, r.buyer, r.token,
                           usage_state(r.settlement, r.batch, bool(r.refused)), int(r.units),
                           int(r.events))
                for r in rows]


_EVENT_COLUMNS = ("event_id", "digest", "body", "source", "buyer", "creator_id",
                  "manifest_digest", "asset_id", "asset_key", "token", "units", "event_time",
                  "accepted_at")


def _key(e: NewUsage) -> tuple[str, str]:
    # An event id is unique within its source only (migration 0003).
    return (e.source, e.event_id)


_SQLITE_INSERT = (
    f"INSERT OR IGNORE INTO usage_events ({', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _EVENT_COLUMNS)})"
)


def _event_tuple(e: NewUsage) -> tuple[Any, ...]:
    return (e.event_id, e.digest, e.body, e.source, e.buyer, e.creator_id, e.manifest_digest,
            e.asset_id, e.asset_key, e.token, e.units, e.event_time, e.accepted_at)


def _event_row(e: NewUsage) -> dict[str, Any]:
    return {
        "event_id": e.event_id, "digest": e.digest, "body": e.body, "source": e.source,
        "buyer": e.buyer, "creator_id": e.creator_id, "manifest_digest": e.manifest_digest,
        "asset_id": e.asset_id, "asset_key": e.asset_key, "token": e.token, "units": e.units,
        "event_time": e.event_time, "accepted_at": e.accepted_at,
    }


def _record(r: Row[*tuple[Any, ...]]) -> UsageRecord:
    return UsageRecord(
        event_id=r.event_id, digest=r.digest, body=r.body, buyer=r.buyer,
        creator_id=r.creator_id, asset_key=r.asset_key, token=r.token, units=int(r.units),
        accepted_at=r.accepted_at, batch_number=r.batch_number, leaf_index=r.leaf_index,
        status=event_status(r.batch_status, r.settlement_status, r.settlement_id,
                            r.hold_reason, r.refusal),
        settlement_id=r.settlement_id, hold_reason=r.hold_reason, refusal=r.refusal,
    )
