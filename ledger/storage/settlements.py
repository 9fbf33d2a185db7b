"""Settlements, their items, and holds: what was charged, what is being charged,
and what could not be."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.core.records import BatchStatus
from ledger.core.royalty.settlement import (
    Hold,
    ItemLine,
    Settlement,
    SettlementDraft,
    SettlementItem,
    SettlementStatus,
    UsageGroup,
    item_totals,
)
from ledger.storage.engine import repository, storage_errors
from ledger.storage.models import (
    BatchRow,
    UsageEventRow,
    UsageHoldRow,
    UsageSettlementItemRow,
    UsageSettlementRow,
)
from ledger.storage.table_store import TableStore

_CHUNK = 500


@repository
class SettlementStore(TableStore):
    """Repository of settlements, settlement items and holds."""

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
                func.count(e.manifest_digest.distinct()).label("manifests"),
            )
            .join(BatchRow, BatchRow.number == e.batch_number)
            .where(e.settlement_id.is_(None), e.batch_number.is_not(None), e.refusal.is_(None),
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
                           r.asset_id, r.manifest_digest, r.token, int(r.units), int(r.events),
                           manifests=int(r.manifests))
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
        with storage_errors("could not record a settlement"):
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
                    if await _claim(conn, d, sid) != d.events:
                        await conn.rollback()
                        return None
                    await conn.execute(delete(UsageHoldRow).where(
                        UsageHoldRow.batch_number == d.batch_number, UsageHoldRow.buyer == d.buyer,
                        UsageHoldRow.asset_key.in_(keys),
                    ))
            except IntegrityError:
                return None
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
        with storage_errors(f"could not release skipped items of settlement {settlement_id}"):
            async with self._engine.begin() as conn:
                items = [_item(r) for r in await conn.execute(
                    select(i).where(i.settlement_id == settlement_id, i.asset_key.in_(keys)))]
                if not items:
                    return
                units, amount = item_totals(items)
                row = (await conn.execute(select(s.units, s.total).where(s.id == settlement_id))
                       ).one()
                await conn.execute(update(s).where(s.id == settlement_id).values(
                    units=row.units - units, total=str(int(row.total) - amount)))
                await conn.execute(delete(i).where(i.settlement_id == settlement_id,
                                                   i.asset_key.in_(keys)))
                await conn.execute(
                    update(UsageEventRow).where(UsageEventRow.settlement_id == settlement_id,
                                                UsageEventRow.asset_key.in_(keys))
                    .values(settlement_id=None))

    async def fail_settlement(self, settlement_id: int) -> None:
        """The settlement's transaction failed for good: free its events for another part."""
        with storage_errors(f"could not fail settlement {settlement_id}"):
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


async def _claim(conn: AsyncConnection, d: SettlementDraft, sid: int) -> int:
    """Claim the draft's events for settlement ``sid``: every unsettled, unrefused event of
    its asset keys, or of a key priced for one period only, the events named; returns how
    many were claimed."""
    e = UsageEventRow
    free = (e.batch_number == d.batch_number, e.buyer == d.buyer, e.settlement_id.is_(None),
            e.refusal.is_(None))
    named = dict(d.seqs)
    whole = [i.asset_key for i in d.items if i.asset_key not in named]
    claimed = 0
    if whole:
        result = await conn.execute(update(e).where(*free, e.asset_key.in_(whole))
                                    .values(settlement_id=sid))
        claimed += result.rowcount
    for key, seqs in named.items():
        for start in range(0, len(seqs), _CHUNK):
            result = await conn.execute(
                update(e).where(*free, e.asset_key == key,
                                e.seq.in_(seqs[start : start + _CHUNK]))
                .values(settlement_id=sid))
            claimed += result.rowcount
    return claimed


def _item_row(settlement_id: int, i: SettlementItem) -> dict[str, Any]:
    return {
        "settlement_id": settlement_id, "asset_key": i.asset_key, "version": i.version,
        "creator_id": i.creator_id, "asset_id": i.asset_id, "manifest_digest": i.manifest_digest,
        "units": i.units, "price": str(i.price), "amount": str(i.amount),
    }


def _item(r: Row[*tuple[Any, ...]]) -> SettlementItem:
    return SettlementItem(r.asset_key, r.version, r.creator_id, r.asset_id, r.manifest_digest,
                          int(r.units), int(r.price))


def _settlement(r: Row[*tuple[Any, ...]]) -> Settlement:
    return Settlement(
        id=r.id, batch_number=r.batch_number, buyer=r.buyer, token=r.token, part=r.part,
        usage_root=r.usage_root, units=int(r.units), total=int(r.total),
        status=SettlementStatus(r.status), tx_key=r.tx_key, tx_hash=r.tx_hash,
        block_number=r.block_number, block_timestamp=r.block_timestamp, gas_used=r.gas_used,
        created_at=r.created_at,
    )


def _max_bytes(column: Any, dialect: str) -> Any:
    """max() of a binary column: PostgreSQL has none for bytea, so compare fixed-length
    lowercase hex in byte order (collation "C") there."""
    if dialect == "postgresql":
        return func.decode(func.max(func.encode(column, "hex").collate("C")), "hex")
    return func.max(column)
