"""The assets of anchored manifests, as the RSL documents and the licence server list
them: only manifests whose batch is confirmed on chain are published."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.core.records import BatchStatus
from ledger.storage.engine import repository
from ledger.storage.models import AssetRow, BatchRow, ManifestRow, StatementRow


@dataclass(frozen=True)
class PublishedAsset:
    """One asset of an anchored manifest: where it is, its entry's canonical JSON, its
    creator and when its manifest was confirmed (ms)."""

    manifest_digest: bytes
    asset_index: int
    asset_id: str
    entry: bytes
    creator_id: str
    confirmed_at: int


@repository
class PublishedAssets:
    """Reads of anchored manifests' assets, by creator, by manifest or all."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def assets(self, *, creator_id: str | None = None,
                     manifest_digest: bytes | None = None, asset_index: int | None = None,
                     limit: int = 100_000) -> list[PublishedAsset]:
        """Anchored assets, in manifest then asset order, filtered as asked."""
        m, a, b = ManifestRow, AssetRow, BatchRow
        stmt = (select(a.manifest_digest, a.asset_index, a.asset_id, a.entry, m.creator_id,
                       b.confirmed_at)
                .join(m, m.digest == a.manifest_digest)
                .join(b, b.number == m.batch_number)
                .where(b.status == BatchStatus.CONFIRMED.value))
        if creator_id is not None:
            stmt = stmt.where(m.creator_id == creator_id)
        if manifest_digest is not None:
            stmt = stmt.where(m.digest == manifest_digest)
        if asset_index is not None:
            stmt = stmt.where(a.asset_index == asset_index)
        stmt = stmt.order_by(m.seq, a.asset_index).limit(limit)
        async with self._engine.connect() as conn:
            return [PublishedAsset(r.manifest_digest, r.asset_index, r.asset_id, r.entry,
                                   r.creator_id, r.confirmed_at or 0)
                    for r in await conn.execute(stmt)]

    async def version(self) -> tuple[int, ...]:
        """What changes whenever what is published, or said about it, may have: the
        latest statement's seq, and the number and latest confirmation of confirmed
        batches (an anchor confirmed, or undone by a reorganisation). One read of three
        indexed aggregates, by any replica's writes."""
        confirmed = BatchRow.status == BatchStatus.CONFIRMED.value
        stmt = select(select(func.max(StatementRow.seq)).scalar_subquery(),
                      select(func.count()).where(confirmed).scalar_subquery(),
                      select(func.max(BatchRow.confirmed_at)).where(confirmed).scalar_subquery())
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).one()
        return tuple(int(value or 0) for value in row)
