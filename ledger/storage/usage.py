"""Usage events, usage batches, settlements and holds (issue 5).

Usage batches live in the ``batches`` table beside manifest batches, numbered
from the same sequence (the AnchorRegistry's batch-number fence is one
sequence), and ``usage_batches`` marks them; so the anchorer anchors both kinds
without knowing the difference, and `ManifestStore.batch`/`levels` serve both.
Amounts are Python ints here and decimal strings in the database.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.core.records import PENDING, BatchRecord, BatchStatus
from ledger.core.usage import usage_root_of
from ledger.errors import StorageError
from ledger.storage import batching
from ledger.storage.batching import claim_leaves, insert_batch
from ledger.storage.models import (
    BatchRow,
    SplitSignatureRow,
    UsageBatchRow,
    UsageEventRow,
    UsageHoldRow,
    UsageProposalRow,
    UsageSettlementItemRow,
    UsageSettlementRow,
)

_CHUNK = 500


class SettlementStatus(StrEnum):
    """Where a settlement stands; `FAILED` ones released their events for another part."""

    PREPARED = "prepared"  # recorded, events claimed; its transaction may not exist yet
    SUBMITTED = "submitted"  # signed and journaled; not confirmed
    CONFIRMED = "confirmed"  # confirmed on chain; still followed for reorgs
    FINAL = "final"  # past the reorg window
    FAILED = "failed"  # reverted or dropped: its events went back to be settled again


OPEN_SETTLEMENTS = (SettlementStatus.PREPARED, SettlementStatus.SUBMITTED,
                    SettlementStatus.CONFIRMED)
SETTLED = (SettlementStatus.CONFIRMED.value, SettlementStatus.FINAL.value)


class ProposalStatus(StrEnum):
    """Where a co-signed settlement proposal stands."""

    OPEN = "open"  # awaiting the buyer's signature
    SIGNED = "signed"  # signature kept; its settlement is not recorded yet
    USED = "used"  # its settlement is recorded (``settlement_id``)
    EXPIRED = "expired"  # unsigned past its deadline, or no longer matching: proposed again


LIVE_PROPOSALS = (ProposalStatus.OPEN, ProposalStatus.SIGNED)


@dataclass(frozen=True)
class NewUsage:
    """A verified usage event ready to be stored (units already in the split's unit)."""

    event_id: str
    digest: bytes
    body: bytes
    source: str
    buyer: str
    creator_id: str
    manifest_digest: bytes
    asset_id: str
    asset_key: bytes
    token: str
    units: int
    event_time: int
    accepted_at: int


@dataclass(frozen=True)
class UsageRecord:
    """A stored usage event and where it stands.

    ``status``: pending → batched → submitted → confirmed (its batch), then
    ``settling`` / ``settled`` (its settlement) or ``held`` (see ``hold_reason``).
    """

    event_id: str
    digest: bytes
    body: bytes
    buyer: str
    creator_id: str
    asset_key: bytes
    token: str
    units: int
    accepted_at: int
    batch_number: int | None
    leaf_index: int | None
    status: str
    settlement_id: int | None
    hold_reason: str | None


@dataclass(frozen=True)
class UsageGroup:
    """Anchored, unsettled usage of one buyer and asset key in one batch."""

    batch_number: int
    batch_root: bytes
    buyer: str
    asset_key: bytes
    creator_id: str
    asset_id: str
    manifest_digest: bytes
    token: str
    units: int
    events: int


@dataclass(frozen=True)
class SettlementItem:
    """One settled item: ``units`` of split ``version`` of ``asset_key`` at ``price``."""

    asset_key: bytes
    version: int
    creator_id: str
    asset_id: str
    manifest_digest: bytes
    units: int
    price: int

    @property
    def amount(self) -> int:
        """``units * price``."""
        return self.units * self.price


@dataclass(frozen=True)
class SettlementDraft:
    """Part ``part`` of what ``buyer`` owes in ``token`` for usage in the batch of
    ``batch_root``: ``items``, covering ``events`` usage events."""

    batch_number: int
    batch_root: bytes
    buyer: str
    token: str
    part: int
    items: tuple[SettlementItem, ...]
    events: int

    @property
    def usage_root(self) -> bytes:
        """The root the splitter is told this part settles (`usage_root_of`)."""
        return usage_root_of(self.batch_root, self.part)

    @property
    def units(self) -> int:
        """Units over every item."""
        return sum(i.units for i in self.items)

    @property
    def total(self) -> int:
        """What the buyer pays for every item."""
        return sum(i.amount for i in self.items)


@dataclass(frozen=True)
class Settlement:
    """A settlement record and its transaction once known."""

    id: int
    batch_number: int
    buyer: str
    token: str
    part: int
    usage_root: bytes
    units: int
    total: int
    status: SettlementStatus
    tx_key: str
    tx_hash: bytes | None
    block_number: int | None
    block_timestamp: int | None
    gas_used: int | None
    created_at: int


@dataclass(frozen=True)
class Hold:
    """Usage of ``buyer`` for ``asset_key`` in a batch that could not be charged."""

    batch_number: int
    buyer: str
    asset_key: bytes
    token: str
    creator_id: str
    reason: str
    units: int
    held_at: int


@dataclass(frozen=True)
class ItemLine:
    """A settlement item with its settlement's buyer, token, status and transaction."""

    item: SettlementItem
    settlement_id: int
    buyer: str
    token: str
    status: SettlementStatus
    tx_hash: bytes | None
    usage_root: bytes


@dataclass(frozen=True)
class UsageTotal:
    """Units and events of one (creator, asset key, asset id, buyer, token) in one state."""

    creator_id: str
    asset_key: bytes
    asset_id: str
    buyer: str
    token: str
    state: str  # "pending" (not anchored), "unsettled", "settling", "settled"
    units: int
    events: int


@dataclass(frozen=True)
class Proposal:
    """A settlement offered to a co-signing buyer: ``total`` for ``items`` under
    ``usage_root``, signable until ``deadline`` (seconds since the Unix epoch)."""

    id: int
    batch_number: int
    buyer: str
    token: str
    part: int
    usage_root: bytes
    items: tuple[SettlementItem, ...]
    units: int
    events: int
    total: int
    deadline: int
    signature: bytes | None
    status: ProposalStatus
    settlement_id: int | None
    created_at: int


@dataclass(frozen=True)
class SplitSignature:
    """A split owner's signature of a split version, and whether it was relayed."""

    manifest_digest: bytes
    asset_id: str
    version: int
    deadline: int
    signature: bytes
    status: str
    tx_key: str | None


class UsageStore:
    """Repository of usage events, usage batches, settlements and holds."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # -- intake ---------------------------------------------------------------------

    async def add(self, events: Sequence[NewUsage]) -> list[tuple[bytes, bool]]:
        """Store events in one durable transaction, idempotently by event id.

        Returns, in input order, (the stored digest for that event id, created);
        a stored digest that differs from the event's means the id was reused for
        different content. An id repeated within ``events`` keeps its first event.
        """
        try:
            if self._engine.dialect.name == "sqlite":
                found = await self._add_sqlite(events)
                if found is not None:
                    return found
            return await self._add_returning(events)
        except SQLAlchemyError as exc:
            raise StorageError(f"could not store usage events: {_reason(exc)}") from exc

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
                UsageHoldRow.reason.label("hold_reason"),
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
        try:
            async with self._engine.begin() as conn:
                number = await insert_batch(conn, root, len(seqs), levels, sealed_at)
                await conn.execute(insert(UsageBatchRow).values(number=number))
                if not await claim_leaves(conn, UsageEventRow, seqs, number):
                    await conn.rollback()
                    return None
        except SQLAlchemyError as exc:
            raise StorageError(f"could not seal a usage batch: {_reason(exc)}") from exc
        return BatchRecord(number, root, len(seqs), sealed_at, BatchStatus.SEALED, None, None)

    async def is_usage_batch(self, number: int) -> bool:
        """Whether batch ``number`` holds usage events."""
        async with self._engine.connect() as conn:
            stmt = select(UsageBatchRow.number).where(UsageBatchRow.number == number)
            return (await conn.execute(stmt)).first() is not None

    # -- settlement -----------------------------------------------------------------

    async def unsettled_groups(self, limit: int = 10_000, *,
                               buyers: Collection[str] | None = None) -> list[UsageGroup]:
        """Usage in confirmed batches not yet in a settlement, per (batch, buyer, asset key);
        of ``buyers`` only, if given."""
        e = UsageEventRow
        stmt = (
            select(
                e.batch_number, BatchRow.root, e.buyer, e.asset_key,
                func.min(e.creator_id).label("creator_id"),
                func.min(e.asset_id).label("asset_id"),
                _max_bytes(e.manifest_digest, self._engine.dialect.name).label("manifest_digest"),
                func.min(e.token).label("token"),
                func.sum(e.units).label("units"), func.count().label("events"),
            )
            .join(BatchRow, BatchRow.number == e.batch_number)
            .where(e.settlement_id.is_(None), e.batch_number.is_not(None),
                   BatchRow.status == BatchStatus.CONFIRMED.value)
            .group_by(e.batch_number, BatchRow.root, e.buyer, e.asset_key)
            .order_by(e.batch_number, e.buyer)
            .limit(limit)
        )
        if buyers is not None:
            stmt = stmt.where(e.buyer.in_(list(buyers)))
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(stmt))
        return [UsageGroup(r.batch_number, r.root, r.buyer, r.asset_key, r.creator_id,
                           r.asset_id, r.manifest_digest, r.token, int(r.units), int(r.events))
                for r in rows]

    async def next_part(self, batch_number: int, buyer: str, token: str,
                        also: Collection[int] = ()) -> int:
        """The lowest part number of (batch, buyer, token) no live settlement holds,
        nor any in ``also``."""
        s = UsageSettlementRow
        stmt = select(s.part).where(s.batch_number == batch_number, s.buyer == buyer,
                                    s.token == token, s.part >= 0)
        async with self._engine.connect() as conn:
            used = set((await conn.execute(stmt)).scalars()) | set(also)
        return next(p for p in range(len(used) + 1) if p not in used)

    async def create_settlement(
        self, draft: SettlementDraft, *, key_prefix: str, now: int
    ) -> Settlement | None:
        """Record ``draft`` and claim its events, atomically; the settlement's purpose key
        is ``key_prefix`` + its id.

        Returns None, changing nothing, if the part was taken or not exactly
        ``draft.events`` unsettled events were claimed (another settler got there first).
        """
        s = UsageSettlementRow
        d = draft
        keys = [i.asset_key for i in d.items]
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(insert(s).values(
                    batch_number=d.batch_number, buyer=d.buyer, token=d.token, part=d.part,
                    usage_root=d.usage_root, units=d.units, total=str(d.total),
                    status=SettlementStatus.PREPARED.value, tx_key="", created_at=now,
                ).returning(s.id))
                sid = int(result.scalar_one())
                key = f"{key_prefix}{sid}"
                await conn.execute(update(s).where(s.id == sid).values(tx_key=key))
                await conn.execute(insert(UsageSettlementItemRow),
                                   [_item_row(sid, i) for i in d.items])
                claimed = await conn.execute(
                    update(UsageEventRow)
                    .where(UsageEventRow.batch_number == d.batch_number,
                           UsageEventRow.buyer == d.buyer, UsageEventRow.asset_key.in_(keys),
                           UsageEventRow.settlement_id.is_(None))
                    .values(settlement_id=sid)
                )
                if claimed.rowcount != d.events:
                    await conn.rollback()
                    return None
                await conn.execute(delete(UsageHoldRow).where(
                    UsageHoldRow.batch_number == d.batch_number, UsageHoldRow.buyer == d.buyer,
                    UsageHoldRow.asset_key.in_(keys),
                ))
        except IntegrityError:
            return None
        except SQLAlchemyError as exc:
            raise StorageError(f"could not record a settlement: {_reason(exc)}") from exc
        return Settlement(sid, d.batch_number, d.buyer, d.token, d.part, d.usage_root, d.units,
                          d.total, SettlementStatus.PREPARED, key, None, None, None, None, now)

    async def settlements(
        self, statuses: Sequence[SettlementStatus] = (), *, buyer: str | None = None
    ) -> list[Settlement]:
        """Settlements in ``statuses`` (all if empty), of ``buyer`` if given, oldest first."""
        stmt = select(UsageSettlementRow).order_by(UsageSettlementRow.id)
        if statuses:
            stmt = stmt.where(UsageSettlementRow.status.in_([s.value for s in statuses]))
        if buyer is not None:
            stmt = stmt.where(UsageSettlementRow.buyer == buyer)
        async with self._engine.connect() as conn:
            return [_settlement(r) for r in await conn.execute(stmt)]

    async def settlement(self, settlement_id: int) -> Settlement | None:
        """One settlement, or None."""
        stmt = select(UsageSettlementRow).where(UsageSettlementRow.id == settlement_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return _settlement(row) if row else None

    async def settlement_items(self, settlement_id: int) -> list[SettlementItem]:
        """The items of one settlement."""
        stmt = select(UsageSettlementItemRow).where(
            UsageSettlementItemRow.settlement_id == settlement_id
        ).order_by(UsageSettlementItemRow.id)
        async with self._engine.connect() as conn:
            return [_item(r) for r in await conn.execute(stmt)]

    async def mark_settlement(self, settlement_id: int, status: SettlementStatus,
                              **values: Any) -> None:
        """Set a settlement's status and any of its transaction columns."""
        await self._write(
            update(UsageSettlementRow).where(UsageSettlementRow.id == settlement_id)
            .values(status=status.value, **values),
            f"settlement {settlement_id}",
        )

    async def release_skipped(self, settlement_id: int, asset_keys: Collection[bytes]) -> None:
        """The chain skipped these items of a confirmed settlement (their split version was
        superseded when it ran) and charged nothing for them: drop them from the settlement,
        so it records what was charged, and free their events to be settled again under
        another part. Doing it again changes nothing."""
        keys = list(asset_keys)
        s, i = UsageSettlementRow, UsageSettlementItemRow
        try:
            async with self._engine.begin() as conn:
                items = list(await conn.execute(
                    select(i.units, i.amount).where(i.settlement_id == settlement_id,
                                                    i.asset_key.in_(keys))))
                if not items:
                    return
                row = (await conn.execute(select(s.units, s.total).where(s.id == settlement_id))
                       ).one()
                await conn.execute(update(s).where(s.id == settlement_id).values(
                    units=row.units - sum(int(r.units) for r in items),
                    total=str(int(row.total) - sum(int(r.amount) for r in items))))
                await conn.execute(delete(i).where(i.settlement_id == settlement_id,
                                                   i.asset_key.in_(keys)))
                await conn.execute(
                    update(UsageEventRow).where(UsageEventRow.settlement_id == settlement_id,
                                                UsageEventRow.asset_key.in_(keys))
                    .values(settlement_id=None))
        except SQLAlchemyError as exc:
            raise StorageError(f"could not release skipped items of settlement {settlement_id}: "
                               f"{_reason(exc)}") from exc

    async def fail_settlement(self, settlement_id: int) -> None:
        """The settlement's transaction failed for good: free its events for another part."""
        try:
            async with self._engine.begin() as conn:
                # The part number goes back (a negative one keeps the row unique), so the
                # events settle again under the same root, which the chain takes once.
                await conn.execute(
                    update(UsageSettlementRow).where(UsageSettlementRow.id == settlement_id)
                    .values(status=SettlementStatus.FAILED.value, part=-settlement_id)
                )
                await conn.execute(
                    update(UsageEventRow).where(UsageEventRow.settlement_id == settlement_id)
                    .values(settlement_id=None)
                )
        except SQLAlchemyError as exc:
            raise StorageError(f"could not fail settlement {settlement_id}: {_reason(exc)}") \
                from exc

    async def set_holds(self, batch_number: int, buyer: str, holds: Sequence[Hold]) -> None:
        """Record why these (batch, buyer, asset key) groups are held; replaces older reasons."""
        if not holds:
            return
        stmt = self._insert(UsageHoldRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["batch_number", "buyer", "asset_key"],
            set_={"reason": stmt.excluded.reason, "units": stmt.excluded.units},
        )
        await self._write(stmt, "holds", [
            {"batch_number": h.batch_number, "buyer": h.buyer, "asset_key": h.asset_key,
             "token": h.token, "creator_id": h.creator_id, "reason": h.reason[:300],
             "units": h.units, "held_at": h.held_at}
            for h in holds
        ])

    async def holds(self, *, buyer: str | None = None, creator_id: str | None = None
                    ) -> list[Hold]:
        """Current holds, of a buyer or of a creator's assets."""
        stmt = select(UsageHoldRow).order_by(UsageHoldRow.batch_number)
        if buyer is not None:
            stmt = stmt.where(UsageHoldRow.buyer == buyer)
        if creator_id is not None:
            stmt = stmt.where(UsageHoldRow.creator_id == creator_id)
        async with self._engine.connect() as conn:
            return [Hold(r.batch_number, r.buyer, r.asset_key, r.token, r.creator_id, r.reason,
                         r.units, r.held_at) for r in await conn.execute(stmt)]

    # -- views ------------------------------------------------------------------------

    async def usage_totals(self, *, creator_id: str | None = None, buyer: str | None = None
                           ) -> list[UsageTotal]:
        """Units and events per (creator, asset, buyer, token) and state."""
        e = UsageEventRow
        settlement, batch = UsageSettlementRow.status, BatchRow.status
        stmt = (
            select(e.creator_id, e.asset_key, e.asset_id, e.buyer, e.token,
                   settlement.label("settlement"), batch.label("batch"),
                   func.sum(e.units).label("units"), func.count().label("events"))
            .outerjoin(BatchRow, BatchRow.number == e.batch_number)
            .outerjoin(UsageSettlementRow, UsageSettlementRow.id == e.settlement_id)
            .group_by(e.creator_id, e.asset_key, e.asset_id, e.buyer, e.token, settlement, batch)
        )
        if creator_id is not None:
            stmt = stmt.where(e.creator_id == creator_id)
        if buyer is not None:
            stmt = stmt.where(e.buyer == buyer)
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(stmt))
        return [UsageTotal(r.creator_id, r.asset_key, r.asset_id, r.buyer, r.token,
                           _state(r.settlement, r.batch), int(r.units), int(r.events))
                for r in rows]

    async def item_lines(self, *, creator_id: str | None = None, buyer: str | None = None
                         ) -> list[ItemLine]:
        """Settlement items (of a creator's assets, or charged to a buyer), oldest first."""
        i, s = UsageSettlementItemRow, UsageSettlementRow
        stmt = (
            select(i, s.buyer, s.token, s.status, s.tx_hash, s.usage_root)
            .join(s, s.id == i.settlement_id)
            .where(s.status != SettlementStatus.FAILED.value)
            .order_by(i.id)
        )
        if creator_id is not None:
            stmt = stmt.where(i.creator_id == creator_id)
        if buyer is not None:
            stmt = stmt.where(s.buyer == buyer)
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(stmt))
        return [ItemLine(_item(r), r.settlement_id, r.buyer, r.token, SettlementStatus(r.status),
                         r.tx_hash, r.usage_root) for r in rows]

    # -- co-signed settlement proposals ------------------------------------------------------

    async def add_proposal(self, draft: SettlementDraft, *, deadline: int, now: int) -> Proposal:
        """Record an open proposal of ``draft``, signable until ``deadline``; claims nothing."""
        d = draft
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(insert(UsageProposalRow).values(
                    batch_number=d.batch_number, buyer=d.buyer, token=d.token, part=d.part,
                    usage_root=d.usage_root, items=_items_json(d.items), units=d.units,
                    events=d.events, total=str(d.total), deadline=deadline, signature=None,
                    status=ProposalStatus.OPEN.value, settlement_id=None, created_at=now,
                ).returning(UsageProposalRow.id))
                pid = int(result.scalar_one())
        except SQLAlchemyError as exc:
            raise StorageError(f"could not record a proposal: {_reason(exc)}") from exc
        return Proposal(pid, d.batch_number, d.buyer, d.token, d.part, d.usage_root, d.items,
                        d.units, d.events, d.total, deadline, None, ProposalStatus.OPEN, None,
                        now)

    async def proposals(
        self, statuses: Sequence[ProposalStatus] = (), *, buyer: str | None = None,
        token: str | None = None, usage_root: bytes | None = None,
        batch_number: int | None = None,
    ) -> list[Proposal]:
        """Proposals in ``statuses`` (all if empty), filtered by the other arguments given."""
        p = UsageProposalRow
        stmt = select(p).order_by(p.id)
        if statuses:
            stmt = stmt.where(p.status.in_([s.value for s in statuses]))
        for column, value in ((p.buyer, buyer), (p.token, token), (p.usage_root, usage_root),
                              (p.batch_number, batch_number)):
            if value is not None:
                stmt = stmt.where(column == value)
        async with self._engine.connect() as conn:
            return [_proposal(r) for r in await conn.execute(stmt)]

    async def sign_proposal(self, proposal_id: int, signature: bytes) -> bool:
        """Keep the buyer's signature of an open proposal; False (nothing stored) if the
        proposal is no longer open."""
        p = UsageProposalRow
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    update(p).where(p.id == proposal_id, p.status == ProposalStatus.OPEN.value)
                    .values(signature=signature, status=ProposalStatus.SIGNED.value)
                )
        except SQLAlchemyError as exc:
            raise StorageError(f"could not keep a signature: {_reason(exc)}") from exc
        return bool(result.rowcount == 1)

    async def mark_proposal(self, proposal_id: int, status: ProposalStatus,
                            settlement_id: int | None = None) -> None:
        """Set a proposal's status (and the settlement made from it)."""
        await self._write(
            update(UsageProposalRow).where(UsageProposalRow.id == proposal_id)
            .values(status=status.value, settlement_id=settlement_id),
            f"proposal {proposal_id}",
        )

    async def live_parts(self, batch_number: int, buyer: str, token: str) -> set[int]:
        """The part numbers of (batch, buyer, token) that open or signed proposals hold."""
        p = UsageProposalRow
        stmt = select(p.part).where(p.batch_number == batch_number, p.buyer == buyer,
                                    p.token == token,
                                    p.status.in_([s.value for s in LIVE_PROPOSALS]))
        async with self._engine.connect() as conn:
            return set((await conn.execute(stmt)).scalars())

    # -- split signatures ------------------------------------------------------------------

    async def add_split_signature(self, sig: SplitSignature, now: int) -> None:
        """Keep a split owner's signature to relay (a newer one for the same asset replaces it)."""
        stmt = self._insert(SplitSignatureRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["manifest_digest", "asset_id"],
            set_={"version": stmt.excluded.version, "deadline": stmt.excluded.deadline,
                  "signature": stmt.excluded.signature, "status": stmt.excluded.status,
                  "tx_key": None, "received_at": stmt.excluded.received_at},
        )
        await self._write(stmt, "split signature", [{
            "manifest_digest": sig.manifest_digest, "asset_id": sig.asset_id,
            "version": sig.version, "deadline": sig.deadline, "signature": sig.signature,
            "status": sig.status, "tx_key": None, "received_at": now,
        }])

    async def split_signatures(self, status: str) -> list[SplitSignature]:
        """Signatures in ``status`` ("waiting", "sent", "done", "failed")."""
        stmt = select(SplitSignatureRow).where(SplitSignatureRow.status == status)
        async with self._engine.connect() as conn:
            return [SplitSignature(r.manifest_digest, r.asset_id, r.version, r.deadline,
                                   r.signature, r.status, r.tx_key)
                    for r in await conn.execute(stmt)]

    async def mark_split_signature(self, manifest_digest: bytes, asset_id: str, status: str,
                                   tx_key: str | None) -> None:
        """Record what became of a relayed signature."""
        await self._write(
            update(SplitSignatureRow)
            .where(SplitSignatureRow.manifest_digest == manifest_digest,
                   SplitSignatureRow.asset_id == asset_id)
            .values(status=status, tx_key=tx_key),
            "split signature",
        )

    # -- plumbing ---------------------------------------------------------------------

    async def _write(self, stmt: Any, what: str, params: Any = None) -> None:
        try:
            async with self._engine.begin() as conn:
                if params is None:
                    await conn.execute(stmt)
                else:
                    await conn.execute(stmt, params)
        except SQLAlchemyError as exc:
            raise StorageError(f"could not update {what}: {_reason(exc)}") from exc


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


def _item_row(settlement_id: int, i: SettlementItem) -> dict[str, Any]:
    return {
        "settlement_id": settlement_id, "asset_key": i.asset_key, "version": i.version,
        "creator_id": i.creator_id, "asset_id": i.asset_id, "manifest_digest": i.manifest_digest,
        "units": i.units, "price": str(i.price), "amount": str(i.amount),
    }


def _item(r: Row[*tuple[Any, ...]]) -> SettlementItem:
    return SettlementItem(r.asset_key, r.version, r.creator_id, r.asset_id, r.manifest_digest,
                          int(r.units), int(r.price))


def _items_json(items: Sequence[SettlementItem]) -> str:
    return json.dumps([{"assetKey": i.asset_key.hex(), "version": i.version,
                        "creatorId": i.creator_id, "assetId": i.asset_id,
                        "manifestDigest": i.manifest_digest.hex(), "units": i.units,
                        "price": str(i.price)} for i in items])


def _items_from_json(text: str) -> tuple[SettlementItem, ...]:
    return tuple(SettlementItem(bytes.fromhex(o["assetKey"]), o["version"], o["creatorId"],
                                o["assetId"], bytes.fromhex(o["manifestDigest"]), o["units"],
                                int(o["price"])) for o in json.loads(text))


def _proposal(r: Row[*tuple[Any, ...]]) -> Proposal:
    return Proposal(
        id=r.id, batch_number=r.batch_number, buyer=r.buyer, token=r.token, part=r.part,
        usage_root=r.usage_root, items=_items_from_json(r.items), units=int(r.units),
        events=int(r.events), total=int(r.total), deadline=int(r.deadline),
        signature=r.signature, status=ProposalStatus(r.status), settlement_id=r.settlement_id,
        created_at=r.created_at,
    )


def _settlement(r: Row[*tuple[Any, ...]]) -> Settlement:
    return Settlement(
        id=r.id, batch_number=r.batch_number, buyer=r.buyer, token=r.token, part=r.part,
        usage_root=r.usage_root, units=int(r.units), total=int(r.total),
        status=SettlementStatus(r.status), tx_key=r.tx_key, tx_hash=r.tx_hash,
        block_number=r.block_number, block_timestamp=r.block_timestamp, gas_used=r.gas_used,
        created_at=r.created_at,
    )


def _state(settlement: str | None, batch: str | None) -> str:
    if settlement in SETTLED:
        return "settled"
    if settlement is not None:
        return "settling"
    if batch == BatchStatus.CONFIRMED.value:
        return "unsettled"
    return PENDING


def _record(r: Row[*tuple[Any, ...]]) -> UsageRecord:
    if r.settlement_status in SETTLED:
        status = "settled"
    elif r.settlement_status in (SettlementStatus.PREPARED.value,
                                 SettlementStatus.SUBMITTED.value):
        status = "settling"
    elif r.hold_reason is not None and r.settlement_id is None:
        status = "held"
    else:
        status = r.batch_status or PENDING
    return UsageRecord(
        event_id=r.event_id, digest=r.digest, body=r.body, buyer=r.buyer,
        creator_id=r.creator_id, asset_key=r.asset_key, token=r.token, units=int(r.units),
        accepted_at=r.accepted_at, batch_number=r.batch_number, leaf_index=r.leaf_index,
        status=status, settlement_id=r.settlement_id, hold_reason=r.hold_reason,
    )


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]


def _max_bytes(column: Any, dialect: str) -> Any:
    """max() of a binary column: PostgreSQL has none for bytea, so compare fixed-length
    lowercase hex in byte order (collation "C") there."""
    if dialect == "postgresql":
        return func.decode(func.max(func.encode(column, "hex").collate("C")), "hex")
    return func.max(column)
