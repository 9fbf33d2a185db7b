"""What `ledger export proofs` walks: the manifests of a batch and the content hashes of
their assets, a page at a time (a 1.1 manifest may hold 16.7 million assets)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.storage.engine import repository
from ledger.storage.models import AssetRow, ManifestRow


@repository
class ExportStore:
    """Reads the manifests and asset rows the export writes files for."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def manifests_in(self, batch_number: int) -> list[bytes]:
        """The digests of the manifests in batch `batch_number`, in leaf order (none for
        a batch of usage events or creator records)."""
        stmt = (select(ManifestRow.digest).where(ManifestRow.batch_number == batch_number)
                .order_by(ManifestRow.leaf_index))
        async with self._engine.connect() as conn:
            return [bytes(digest) for digest in (await conn.scalars(stmt)).all()]

    async def assets(self, digest: bytes, *, after: int = -1, limit: int = 1000
                     ) -> list[tuple[int, bytes]]:
        """Up to `limit` assets of manifest `digest` with an index above `after`, as
        (index, content SHA-256), in index order."""
        stmt = (select(AssetRow.asset_index, AssetRow.content_hash)
                .where(AssetRow.manifest_digest == digest, AssetRow.asset_index > after)
                .order_by(AssetRow.asset_index).limit(limit))
        async with self._engine.connect() as conn:
            return [(row.asset_index, bytes(row.content_hash))
                    for row in await conn.execute(stmt)]
