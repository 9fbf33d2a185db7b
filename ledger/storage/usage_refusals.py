"""The events of one usage group one by one, and the refusal of those a statement
refuses after they were stored (issue 17).

The settler reads events singly only for assets something was said about (their
lifecycle may refuse some, or price them in several periods); the rest it reads as
groups (`SettlementStore.unsettled_groups`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, exists, func, or_, select, update

from ledger.core.royalty.settlement import SETTLED, UsageGroup
from ledger.storage.engine import repository, storage_errors
from ledger.storage.models import UsageEventRow, UsageHoldRow, UsageSettlementRow
from ledger.storage.table_store import TableStore


@dataclass(frozen=True)
class GroupEvent:
    """One unsettled event of a usage group: its id, manifest, time (ms) and units."""

    seq: int
    manifest_digest: bytes
    event_time: int
    units: int


@repository
class UsageRefusalStore(TableStore):
    """Repository of usage events read one by one, and of their refusals."""

    async def group_events(self, group: UsageGroup) -> list[GroupEvent]:
        """The unsettled, unrefused events of ``group``'s (batch, buyer, asset key)."""
        e = UsageEventRow
        stmt = (select(e.seq, e.manifest_digest, e.event_time, e.units)
                .where(e.batch_number == group.batch_number, e.buyer == group.buyer,
                       e.asset_key == group.asset_key, e.settlement_id.is_(None),
                       e.refusal.is_(None))
                .order_by(e.seq))
        async with self._engine.connect() as conn:
            return [GroupEvent(r.seq, r.manifest_digest, r.event_time, int(r.units))
                    for r in await conn.execute(stmt)]

    async def unsettled_before(self, creator_id: str, asset_key: bytes, before: int
                               ) -> tuple[int, int]:
        """Events and units of ``creator_id``'s asset ``asset_key`` with a time before
        ``before`` (ms) not settled yet: pending, anchored, held or in a settlement not
        confirmed (it may still fail or skip them); refused events do not count."""
        e, s = UsageEventRow, UsageSettlementRow
        stmt = (select(func.count(), func.coalesce(func.sum(e.units), 0))
                .select_from(e).outerjoin(s, s.id == e.settlement_id)
                .where(e.creator_id == creator_id, e.asset_key == asset_key,
                       e.event_time < before, e.refusal.is_(None),
                       or_(e.settlement_id.is_(None), s.status.not_in(SETTLED))))
        async with self._engine.connect() as conn:
            events, units = (await conn.execute(stmt)).one()
        return int(events), int(units)

    async def refuse(self, group: UsageGroup, refusals: Sequence[tuple[int, str]]) -> int:
        """Mark events of ``group`` (seq, reason) refused, so they are never settled; only
        events no settlement holds. Drops the group's hold once nothing of it is left to
        settle. Returns how many were marked; doing it again marks nothing."""
        e = UsageEventRow
        marked = 0
        with storage_errors("could not refuse usage events"):
            async with self._engine.begin() as conn:
                for seq, reason in refusals:
                    result = await conn.execute(
                        update(e).where(e.seq == seq, e.settlement_id.is_(None),
                                        e.refusal.is_(None))
                        .values(refusal=reason[:300]))
                    marked += result.rowcount
                same = and_(e.batch_number == group.batch_number, e.buyer == group.buyer,
                            e.asset_key == group.asset_key)
                left = exists().where(same, e.settlement_id.is_(None), e.refusal.is_(None))
                await conn.execute(delete(UsageHoldRow).where(
                    UsageHoldRow.batch_number == group.batch_number,
                    UsageHoldRow.buyer == group.buyer,
                    UsageHoldRow.asset_key == group.asset_key, ~left))
        return marked
