"""Manifests and batches: intake, sealing, anchoring state, and proof lookups."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.core.receipt import Receipt
from ledger.core.records import (
    PENDING,
    AnchorInfo,
    BatchRecord,
    BatchStatus,
    ManifestRecord,
    NewManifest,
    stored_answers,
)
from ledger.errors import StorageError
from ledger.storage import batching
from ledger.storage.assets import (
    NewAsset,
    insert_assets,
    insert_assets_plain,
    manifest_asset_rows,
)
from ledger.storage.batching import claim_leaves, insert_batch
from ledger.storage.engine import repository, storage_errors
from ledger.storage.models import MANIFEST_COLUMNS, BatchLevelsRow, BatchRow, ManifestRow
from ledger.storage.sqlite_fast import fast_path

# SQLite caps bound parameters per statement; stay well under it.
_CHUNK = 500


@repository
class ManifestStore:
    """Repository of manifests and batches over one engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._fast = fast_path(engine)

    def close(self) -> None:
        """Release the SQLite fast path's connections (the engine is disposed by its owner)."""
        if self._fast is not None:
            self._fast.close()

    async def add(self, manifests: Sequence[NewManifest]) -> list[tuple[ManifestRecord, bool]]:
        """Store manifests in one durable transaction.

        Returns, in input order, each manifest's record and whether this call
        created it; a digest already stored keeps its first record (idempotent intake),
        and so does a digest repeated within `manifests`. A 1.0 manifest's assets get
        their rows (`ledger.storage.assets`) in the same transaction.
        """
        if self._fast is not None:
            group = list(manifests)
            return stored_answers(group, *await self._fast.write(
                lambda conn: _write_plain(conn, group), "could not store manifests"))
        rows = [_row(m) for m in manifests]
        # The insert reports the rows it created, so only digests stored before
        # (rare: resubmissions) need reading back.
        stmt = (
            self._insert(ManifestRow)
            .on_conflict_do_nothing(index_elements=["digest"])
            .returning(ManifestRow.digest)
        )
        with storage_errors("could not store manifests"):
            async with self._engine.begin() as conn:
                created: set[bytes] = set()
                for start in range(0, len(rows), _CHUNK):
                    result = await conn.execute(stmt, rows[start : start + _CHUNK])
                    created.update(result.scalars())
                await insert_assets(conn, _new_assets(manifests, created), indexed=True)
                known = await self._existing(
                    conn, [m.digest for m in manifests if m.digest not in created]
                )
        return stored_answers(manifests, created, known)

    async def _existing(
        self, conn: AsyncConnection, digests: Sequence[bytes]
    ) -> dict[bytes, ManifestRecord]:
        found: dict[bytes, ManifestRecord] = {}
        unique = list(dict.fromkeys(digests))
        for start in range(0, len(unique), _CHUNK):
            stmt = (
                select(*MANIFEST_COLUMNS)
                .outerjoin(BatchRow, BatchRow.number == ManifestRow.batch_number)
                .where(ManifestRow.digest.in_(unique[start : start + _CHUNK]))
            )
            result = await conn.execute(stmt)
            for row in result:
                found[row.digest] = _manifest(row)
        return found

    async def get(self, digest: bytes) -> ManifestRecord | None:
        """The record of one manifest, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_RECORD, {"digest": digest})).first()
        return _manifest(row) if row else None

    async def get_with_batch(
        self, digest: bytes
    ) -> tuple[ManifestRecord, BatchRecord | None] | None:
        """A manifest's record and its batch, in one query (the proof read's path)."""
        row: Any = None
        if self._fast is not None:
            try:
                row = self._fast.read_one(_WITH_BATCH, digest=digest)
                if row is None:
                    return None
            except sqlite3.Error:
                pass  # busy or broken: the engine answers now, the fast path reconnects
        if row is None:
            async with self._engine.connect() as conn:
                row = (await conn.execute(_WITH_BATCH, {"digest": digest})).first()
        if row is None:
            return None
        return _manifest(row), (_batch(row) if row.number is not None else None)

    async def keep_receipt(self, receipt: Receipt) -> Receipt:
        """Store `receipt` with its manifest unless one is stored already; return the
        stored one (a replica that signed first wins, and every answer agrees)."""
        digest = receipt.manifest_digest
        stmt = (
            update(ManifestRow)
            .where(ManifestRow.digest == digest, ManifestRow.receipt_signature.is_(None))
            .values(**_receipt_columns(receipt))
        )
        with storage_errors("could not store a receipt"):
            async with self._engine.begin() as conn:
                await conn.execute(stmt)
                row = (await conn.execute(_RECORD, {"digest": digest})).first()
        stored = None if row is None else _manifest(row).receipt
        if stored is None:
            raise StorageError(f"manifest {digest.hex()} is not stored: no receipt kept")
        return stored

    async def body(self, digest: bytes) -> bytes | None:
        """The stored canonical JSON of one manifest, or None."""
        async with self._engine.connect() as conn:
            stmt = select(ManifestRow.body).where(ManifestRow.digest == digest)
            return (await conn.execute(stmt)).scalar()

    async def pending_stats(self) -> tuple[int, int | None]:
        """How many manifests await a batch, and when the oldest was accepted."""
        return await batching.pending_stats(self._engine, ManifestRow)

    async def pending(self, limit: int) -> list[tuple[int, bytes]]:
        """Up to `limit` unbatched manifests, oldest first, as (seq, digest)."""
        return await batching.pending(self._engine, ManifestRow, limit)

    async def seal(
        self, seqs: Sequence[int], root: bytes, levels: bytes, sealed_at: int
    ) -> BatchRecord | None:
        """Put the manifests `seqs` (in leaf order) into the next batch.

        Returns None, changing nothing, when any of them was sealed meanwhile
        (another replica's batcher won the race).
        """
        async with self._engine.begin() as conn:
            number = await insert_batch(conn, root, len(seqs), levels, sealed_at)
            if not await claim_leaves(conn, ManifestRow, seqs, number):
                await conn.rollback()
                return None
        return BatchRecord(number, root, len(seqs), sealed_at, BatchStatus.SEALED, None, None)

    async def batch(self, number: int) -> BatchRecord | None:
        """One batch, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_batch_query().where(BatchRow.number == number))).first()
        return _batch(row) if row else None

    async def last_batch_number(self) -> int:
        """The highest batch number sealed so far (manifests or usage), 0 if none."""
        async with self._engine.connect() as conn:
            last = (await conn.execute(select(func.max(BatchRow.number)))).scalar()
        return int(last or 0)

    async def batch_by_root(self, root: bytes) -> BatchRecord | None:
        """The batch whose tree has this root, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_batch_query().where(BatchRow.root == root))).first()
        return _batch(row) if row else None

    async def batches(self, *, after: int = 0, limit: int = 100) -> list[BatchRecord]:
        """Batches numbered above `after`, lowest first."""
        stmt = _batch_query().where(BatchRow.number > after).order_by(BatchRow.number).limit(limit)
        async with self._engine.connect() as conn:
            return [_batch(r) for r in await conn.execute(stmt)]

    async def batches_in(self, statuses: Sequence[BatchStatus]) -> list[BatchRecord]:
        """Every batch in one of `statuses`, lowest number first."""
        stmt = (
            _batch_query()
            .where(BatchRow.status.in_([s.value for s in statuses]))
            .order_by(BatchRow.number)
        )
        async with self._engine.connect() as conn:
            return [_batch(r) for r in await conn.execute(stmt)]

    async def levels(self, number: int) -> bytes | None:
        """The stored tree levels of one batch."""
        async with self._engine.connect() as conn:
            stmt = select(BatchLevelsRow.levels).where(BatchLevelsRow.number == number)
            return (await conn.execute(stmt)).scalar()

    async def mark_submitted(self, number: int) -> None:
        """The batch's anchor transaction was signed and journaled."""
        await self._set_batch(number, status=BatchStatus.SUBMITTED.value)

    async def mark_anchored(self, number: int, anchor: AnchorInfo, *, confirmed_at: int) -> None:
        """The anchor reached the confirmation depth."""
        await self._set_batch(
            number,
            status=BatchStatus.CONFIRMED.value,
            tx_hash=anchor.tx_hash,
            block_number=anchor.block_number,
            block_hash=anchor.block_hash,
            block_timestamp=anchor.block_timestamp,
            gas_used=anchor.gas_used,
            confirmed_at=confirmed_at,
        )

    async def mark_unanchored(self, number: int) -> None:
        """The anchor failed for good: the batch goes back to be anchored again."""
        await self._set_batch(number, **_UNANCHORED)

    async def reset_anchors(self) -> None:
        """Every batch goes back to be anchored again (the chain was replaced)."""
        await self._set_batch(None, **_UNANCHORED)

    async def _set_batch(self, number: int | None, **values: object) -> None:
        stmt = update(BatchRow).values(**values)
        if number is not None:
            stmt = stmt.where(BatchRow.number == number)
        with storage_errors(f"could not update batch {number}"):
            async with self._engine.begin() as conn:
                await conn.execute(stmt)


_UNANCHORED: dict[str, object] = {
    "status": BatchStatus.SEALED.value,
    "tx_hash": None,
    "block_number": None,
    "block_hash": None,
    "block_timestamp": None,
    "gas_used": None,
    "confirmed_at": None,
}


_BATCH_COLUMNS = (
    BatchRow.number,
    BatchRow.root,
    BatchRow.leaf_count,
    BatchRow.sealed_at,
    BatchRow.status,
    BatchRow.tx_hash,
    BatchRow.block_number,
    BatchRow.block_hash,
    BatchRow.block_timestamp,
    BatchRow.gas_used,
    BatchRow.confirmed_at,
)


def _batch_query() -> Select[*tuple[Any, ...]]:
    return select(*_BATCH_COLUMNS)


#: One manifest's record, by ``digest``.
_RECORD = (
    select(*MANIFEST_COLUMNS)
    .outerjoin(BatchRow, BatchRow.number == ManifestRow.batch_number)
    .where(ManifestRow.digest == bindparam("digest"))
)

_WITH_BATCH = (
    select(*MANIFEST_COLUMNS[:-1], *_BATCH_COLUMNS)
    .outerjoin(BatchRow, BatchRow.number == ManifestRow.batch_number)
    .where(ManifestRow.digest == bindparam("digest"))
)


def _manifest(row: Row[*tuple[Any, ...]]) -> ManifestRecord:
    return ManifestRecord(
        digest=row.digest,
        creator_id=row.creator_id,
        signing_key=row.signing_key,
        accepted_at=row.accepted_at,
        batch_number=row.batch_number,
        leaf_index=row.leaf_index,
        status=row.status or PENDING,
        receipt=_receipt(row.digest, row.accepted_at, row.anchor_by, row.receipt_key,
                         row.receipt_signature),
    )


def _receipt(digest: bytes, accepted_at: int, anchor_by: int | None, key: str | None,
             signature: str | None) -> Receipt | None:
    """The stored receipt of a manifest row, None if it has none yet."""
    if anchor_by is None or key is None or signature is None:
        return None
    return Receipt(digest, accepted_at, anchor_by, key, signature)


def _row(m: NewManifest) -> dict[str, Any]:
    """A new manifest's row, as both write paths insert it."""
    return {"digest": m.digest, "creator_id": m.creator_id, "signing_key": m.signing_key,
            "body": m.body, "accepted_at": m.accepted_at, **_receipt_columns(m.receipt)}


def _receipt_columns(receipt: Receipt | None) -> dict[str, Any]:
    """A receipt's columns of its manifest row (the digest and acceptedAt are the row's)."""
    if receipt is None:
        return {"anchor_by": None, "receipt_key": None, "receipt_signature": None}
    return {"anchor_by": receipt.anchor_by, "receipt_key": receipt.service_key,
            "receipt_signature": receipt.signature}


def _batch(row: Row[*tuple[Any, ...]]) -> BatchRecord:
    anchor = None
    if row.tx_hash is not None:
        anchor = AnchorInfo(
            tx_hash=row.tx_hash,
            block_number=row.block_number,
            block_hash=row.block_hash,
            block_timestamp=row.block_timestamp,
            gas_used=row.gas_used,
        )
    return BatchRecord(
        number=row.number,
        root=row.root,
        leaf_count=row.leaf_count,
        sealed_at=row.sealed_at,
        status=BatchStatus(row.status),
        anchor=anchor,
        confirmed_at=row.confirmed_at,
    )


def _plain(stmt: Any) -> str:
    return str(stmt.compile(dialect=sqlite.dialect()))


# Named parameters (":digest"), so the fast path binds the same row dict (`_row`) as
# the engine's path, whatever the order of the columns.
_PLAIN_INSERT = str(
    sqlite.insert(ManifestRow)
    .values({column: bindparam(column) for column in (
        "digest", "creator_id", "signing_key", "body", "accepted_at", "anchor_by",
        "receipt_key", "receipt_signature")})
    .on_conflict_do_nothing(index_elements=["digest"])
    .returning(ManifestRow.digest)
    .compile(dialect=sqlite.dialect(paramstyle="named"))
)
_PLAIN_EXISTING = _plain(_RECORD)


def _new_assets(manifests: Sequence[NewManifest], created: set[bytes]) -> list[NewAsset]:
    """The asset rows of the manifests this write created (each digest once)."""
    rows: list[NewAsset] = []
    for m in {m.digest: m for m in manifests if m.digest in created}.values():
        rows.extend(manifest_asset_rows(m.digest, m.body))
    return rows


def _write_plain(
    conn: sqlite3.Connection, manifests: Sequence[NewManifest]
) -> tuple[set[bytes], dict[bytes, ManifestRecord]]:
    """`ManifestStore.add`'s statements on the SQLite fast path's write connection."""
    created: set[bytes] = set()
    for m in manifests:
        if conn.execute(_PLAIN_INSERT, _row(m)).fetchone() is not None:
            created.add(m.digest)
    insert_assets_plain(conn, _new_assets(manifests, created), indexed=True)
    # Only digests stored before (rare: resubmissions) are read back.
    known: dict[bytes, ManifestRecord] = {}
    for digest in dict.fromkeys(m.digest for m in manifests if m.digest not in created):
        (digest_, creator_id, signing_key, accepted_at, batch_number, leaf_index, anchor_by,
         key, signature, status) = conn.execute(_PLAIN_EXISTING, (digest,)).fetchone()
        known[digest] = ManifestRecord(
            digest_, creator_id, signing_key, accepted_at, batch_number, leaf_index,
            status or PENDING, _receipt(digest_, accepted_at, anchor_by, key, signature))
    return created, known
