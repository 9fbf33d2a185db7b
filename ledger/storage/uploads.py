"""1.1 uploads: the signed header, then the asset chunks, each stored in one transaction.

The chunk that completes an upload also writes the manifest's `manifests` row, in the
same transaction: before it commits nothing shows the manifest as registered, after it
the batcher takes it like any 1.0 manifest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.storage.assets import (
    NewAsset,
    index_upload,
    index_upload_plain,
    insert_assets,
    insert_assets_plain,
)
from ledger.storage.engine import repository, storage_errors
from ledger.storage.models import AssetChunkRow, AssetRow, ManifestRow, UploadRow
from ledger.storage.sqlite_fast import fast_path

# SQLite caps bound parameters per statement.
_IDS_PER_QUERY = 500


@dataclass(frozen=True)
class NewUpload:
    """A verified, admitted 1.1 header to start an upload with."""

    digest: bytes
    creator_id: str
    signing_key: str
    body: bytes
    asset_count: int
    assets_root: bytes
    chunk_size: int
    created_at: int


@dataclass(frozen=True)
class Upload(NewUpload):
    """A stored upload: its header's facts and the chunks received so far."""

    completed_at: int | None
    received: frozenset[int]


@dataclass(frozen=True)
class NewChunk:
    """A checked chunk: its index, root, leaves and asset rows."""

    index: int
    root: bytes
    leaves: bytes
    assets: Sequence[NewAsset]


@dataclass(frozen=True)
class ChunkStored:
    """What storing a chunk did: stored it (False: it was stored before), completed the
    upload, or refused it because an asset id is already used (`duplicate`: the
    position in the chunk and the index of the stored asset with that id)."""

    stored: bool
    completed: bool
    duplicate: tuple[int, int] | None = None


@repository
class UploadStore:
    """Repository of 1.1 uploads and their chunks."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        # On a SQLite file a chunk is written on the fast path's write thread: thousands
        # of rows cost the event loop nothing, and a tenth of the engine's time.
        self._fast = fast_path(engine)

    async def start(self, new: NewUpload) -> tuple[Upload, bool]:
        """Store the upload unless its digest is stored already; return the stored one
        (the first, whatever its chunk size) and whether this call created it."""
        stmt = (
            self._insert(UploadRow)
            .values(digest=new.digest, creator_id=new.creator_id, signing_key=new.signing_key,
                    body=new.body, asset_count=new.asset_count, assets_root=new.assets_root,
                    chunk_size=new.chunk_size, created_at=new.created_at)
            .on_conflict_do_nothing(index_elements=["digest"])
            .returning(UploadRow.digest)
        )
        with storage_errors("could not store the upload"):
            async with self._engine.begin() as conn:
                created = (await conn.execute(stmt)).first() is not None
                upload = await _read(conn, new.digest)
        assert upload is not None
        return upload, created

    async def get(self, digest: bytes) -> Upload | None:
        """The upload with this header digest, or None."""
        async with self._engine.connect() as conn:
            return await _read(conn, digest)

    async def store_chunk(
        self, digest: bytes, chunk: NewChunk, chunk_count: int, now: int
    ) -> ChunkStored:
        """Store one checked chunk in one transaction; the last missing one also writes
        the manifest row, accepted at `now`, and the chunk roots."""
        if self._fast is not None:
            return await self._fast.write(
                lambda conn: _store_chunk_plain(conn, digest, chunk, chunk_count, now),
                "could not store the chunk")
        with storage_errors("could not store the chunk"):
            async with self._engine.begin() as conn:
                if conn.dialect.name == "sqlite":
                    # Take the write lock first: a deferred transaction that read
                    # before its first write could fail when another writer commits.
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                outcome = await _store_chunk(conn, digest, chunk, chunk_count, now)
                if outcome.duplicate is not None:
                    await conn.rollback()
        return outcome

    async def proof_parts(self, digest: bytes, chunk_index: int) -> tuple[bytes, bytes] | None:
        """A complete upload's chunk leaves and chunk roots (what an asset's proof is
        built from), or None unless the upload is complete."""
        stmt = (
            select(AssetChunkRow.leaves, UploadRow.chunk_roots)
            .join(UploadRow, UploadRow.digest == AssetChunkRow.digest)
            .where(AssetChunkRow.digest == digest, AssetChunkRow.chunk_index == chunk_index,
                   UploadRow.completed_at.is_not(None))
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None or row.chunk_roots is None:
            return None
        return row.leaves, row.chunk_roots


_UPLOAD = tuple(column for column in UploadRow.__table__.c if column.name != "chunk_roots")


async def _read(conn: AsyncConnection, digest: bytes) -> Upload | None:
    found = (await conn.execute(select(*_UPLOAD).where(UploadRow.digest == digest))).first()
    if found is None:
        return None
    received = await conn.execute(
        select(AssetChunkRow.chunk_index).where(AssetChunkRow.digest == digest)
    )
    return Upload(
        digest=found.digest, creator_id=found.creator_id, signing_key=found.signing_key,
        body=found.body, asset_count=found.asset_count, assets_root=found.assets_root,
        chunk_size=found.chunk_size, created_at=found.created_at,
        completed_at=found.completed_at, received=frozenset(received.scalars()),
    )


async def _store_chunk(
    conn: AsyncConnection, digest: bytes, chunk: NewChunk, chunk_count: int, now: int
) -> ChunkStored:
    # FOR UPDATE (PostgreSQL; SQLite holds its write lock already): two last chunks
    # arriving together must not each miss the other and leave the upload open.
    upload = (await conn.execute(
        select(*_UPLOAD).where(UploadRow.digest == digest).with_for_update()
    )).one()
    have = select(AssetChunkRow.chunk_index).where(
        AssetChunkRow.digest == digest, AssetChunkRow.chunk_index == chunk.index
    )
    if (await conn.execute(have)).first() is not None:
        return ChunkStored(stored=False, completed=upload.completed_at is not None)
    duplicate = await _duplicate(conn, digest, [row[2] for row in chunk.assets])
    if duplicate is not None:
        return ChunkStored(stored=False, completed=False, duplicate=duplicate)
    await conn.execute(insert(AssetChunkRow).values(
        digest=digest, chunk_index=chunk.index, root=chunk.root, leaves=chunk.leaves))
    await insert_assets(conn, list(chunk.assets), indexed=False)
    received = (await conn.execute(
        select(func.count()).select_from(AssetChunkRow).where(AssetChunkRow.digest == digest)
    )).scalar_one()
    if received < chunk_count:
        return ChunkStored(stored=True, completed=False)
    await _complete(conn, upload, now)
    return ChunkStored(stored=True, completed=True)


async def _duplicate(
    conn: AsyncConnection, digest: bytes, ids: Sequence[str]
) -> tuple[int, int] | None:
    """The first id of `ids` already stored for `digest`: (its position, stored index)."""
    position = {asset_id: k for k, asset_id in enumerate(ids)}
    found: list[tuple[int, int]] = []
    unique = list(position)
    for start in range(0, len(unique), _IDS_PER_QUERY):
        stmt = select(AssetRow.asset_id, AssetRow.asset_index).where(
            AssetRow.manifest_digest == digest,
            AssetRow.asset_id.in_(unique[start : start + _IDS_PER_QUERY]),
        )
        found.extend((position[row.asset_id], row.asset_index)
                     for row in await conn.execute(stmt))
    return min(found) if found else None


async def _complete(conn: AsyncConnection, upload: Any, now: int) -> None:
    roots = await conn.execute(
        select(AssetChunkRow.root)
        .where(AssetChunkRow.digest == upload.digest)
        .order_by(AssetChunkRow.chunk_index)
    )
    await conn.execute(
        update(UploadRow)
        .where(UploadRow.digest == upload.digest)
        .values(chunk_roots=b"".join(roots.scalars()), completed_at=now)
    )
    await index_upload(conn, upload.digest)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(
        dialect.insert(ManifestRow)
        .values(digest=upload.digest, creator_id=upload.creator_id,
                signing_key=upload.signing_key, body=upload.body, accepted_at=now)
        .on_conflict_do_nothing(index_elements=["digest"])
    )


# -- the same on the SQLite fast path's write connection ------------------------------


def _store_chunk_plain(
    conn: sqlite3.Connection, digest: bytes, chunk: NewChunk, chunk_count: int, now: int
) -> ChunkStored:
    """`_store_chunk`'s statements on a plain `sqlite3` connection in its transaction."""
    upload = conn.execute(
        "SELECT creator_id, signing_key, body, completed_at FROM uploads WHERE digest = ?",
        (digest,)).fetchone()
    if conn.execute("SELECT 1 FROM asset_chunks WHERE digest = ? AND chunk_index = ?",
                    (digest, chunk.index)).fetchone() is not None:
        return ChunkStored(stored=False, completed=upload[3] is not None)
    duplicate = _duplicate_plain(conn, digest, [row[2] for row in chunk.assets])
    if duplicate is not None:
        return ChunkStored(stored=False, completed=False, duplicate=duplicate)
    conn.execute("INSERT INTO asset_chunks (digest, chunk_index, root, leaves) "
                 "VALUES (?, ?, ?, ?)", (digest, chunk.index, chunk.root, chunk.leaves))
    insert_assets_plain(conn, list(chunk.assets), indexed=False)
    (received,) = conn.execute("SELECT count(*) FROM asset_chunks WHERE digest = ?",
                               (digest,)).fetchone()
    if received < chunk_count:
        return ChunkStored(stored=True, completed=False)
    roots = b"".join(root for (root,) in conn.execute(
        "SELECT root FROM asset_chunks WHERE digest = ? ORDER BY chunk_index", (digest,)))
    conn.execute("UPDATE uploads SET chunk_roots = ?, completed_at = ? WHERE digest = ?",
                 (roots, now, digest))
    index_upload_plain(conn, digest)
    conn.execute("INSERT INTO manifests (digest, creator_id, signing_key, body, accepted_at) "
                 "VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                 (digest, upload[0], upload[1], upload[2], now))
    return ChunkStored(stored=True, completed=True)


def _duplicate_plain(
    conn: sqlite3.Connection, digest: bytes, ids: Sequence[str]
) -> tuple[int, int] | None:
    position = {asset_id: k for k, asset_id in enumerate(ids)}
    unique = list(position)
    found: list[tuple[int, int]] = []
    for start in range(0, len(unique), _IDS_PER_QUERY):
        part = unique[start : start + _IDS_PER_QUERY]
        marks = ",".join("?" * len(part))
        rows = conn.execute(
            "SELECT asset_id, asset_index FROM assets WHERE manifest_digest = ? "
            f"AND asset_id IN ({marks})", (digest, *part))
        found.extend((position[asset_id], index) for asset_id, index in rows)
    return min(found) if found else None
