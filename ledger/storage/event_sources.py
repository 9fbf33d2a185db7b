"""The facts some events announce, read in the order they became final: anchored
batches' manifests and confirmed settlements (`ledger.app.events.FactAnnouncer`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.core.records import BatchStatus
from ledger.core.royalty.settlement import SettlementStatus
from ledger.storage.engine import repository
from ledger.storage.models import (
    BatchRow,
    ManifestRow,
    UsageSettlementItemRow,
    UsageSettlementRow,
)


@dataclass(frozen=True)
class AnchoredBatch:
    """A confirmed batch and the manifests it anchors, as (digest, creator id)."""

    number: int
    root: bytes
    tx_hash: bytes
    block_number: int
    block_timestamp: int
    manifests: list[tuple[bytes, str]]


@dataclass(frozen=True)
class PaidShare:
    """One creator's share of a confirmed settlement."""

    settlement_id: int
    batch_number: int
    buyer: str
    token: str
    creator_id: str
    units: int
    amount: int
    tx_hash: bytes


#: Settlements that will not change any more, paid or not.
_DONE = (SettlementStatus.CONFIRMED.value, SettlementStatus.FINAL.value,
         SettlementStatus.FAILED.value)
_PAID = (SettlementStatus.CONFIRMED.value, SettlementStatus.FINAL.value)


@repository
class EventSources:
    """Reads of the facts announced after they happened."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def next_batch(self, after: int) -> AnchoredBatch | None:
        """Batch ``after + 1`` with its manifests once it is confirmed, else None (anchors
        confirm in number order, so no later one is looked at before it)."""
        number = after + 1
        b = BatchRow
        stmt = select(b.status, b.root, b.tx_hash, b.block_number, b.block_timestamp
                      ).where(b.number == number)
        async with self._engine.connect() as conn:
            batch = (await conn.execute(stmt)).first()
            if batch is None or batch.status != BatchStatus.CONFIRMED.value:
                return None
            manifests = await conn.execute(
                select(ManifestRow.digest, ManifestRow.creator_id)
                .where(ManifestRow.batch_number == number).order_by(ManifestRow.leaf_index))
            return AnchoredBatch(number, batch.root, batch.tx_hash, batch.block_number,
                                 batch.block_timestamp, [(m.digest, m.creator_id)
                                                         for m in manifests])

    async def settled(self, after: int, limit: int) -> tuple[list[PaidShare], int]:
        """The creators' shares of settlements after id `after` that are done, up to the
        first still open, and the last settlement id they reach."""
        s = UsageSettlementRow
        stmt = (select(s.id, s.status).where(s.id > after).order_by(s.id).limit(limit))
        async with self._engine.connect() as conn:
            done: list[int] = []
            for row in await conn.execute(stmt):
                if row.status not in _DONE:
                    break
                done.append(row.id)
            if not done:
                return [], after
            return await self._shares(conn, done[0], done[-1]), done[-1]

    async def _shares(self, conn: AsyncConnection, first: int, last: int) -> list[PaidShare]:
        s, i = UsageSettlementRow, UsageSettlementItemRow
        stmt = (select(s.id, s.batch_number, s.buyer, s.token, s.tx_hash, i.creator_id,
                       i.units, i.amount)
                .join(i, i.settlement_id == s.id)
                .where(s.id >= first, s.id <= last, s.status.in_(_PAID))
                .order_by(s.id, i.creator_id))
        shares: dict[tuple[int, str], PaidShare] = {}
        for row in await conn.execute(stmt):
            key = (row.id, row.creator_id)
            seen = shares.get(key)
            shares[key] = PaidShare(
                row.id, row.batch_number, row.buyer, row.token, row.creator_id,
                row.units + (seen.units if seen else 0),
                int(row.amount) + (seen.amount if seen else 0), row.tx_hash or b"")
        return list(shares.values())

    async def starting_points(self) -> tuple[int, int]:
        """The newest confirmed batch and settlement: where announcing starts on a
        database that had facts before notifications existed (they are not announced)."""
        b, s = BatchRow, UsageSettlementRow
        async with self._engine.connect() as conn:
            batch = (await conn.execute(select(func.max(b.number))
                                        .where(b.status == BatchStatus.CONFIRMED.value))).scalar()
            settlement = (await conn.execute(select(func.max(s.id))
                                             .where(s.status.in_(_DONE)))).scalar()
        return int(batch or 0), int(settlement or 0)
