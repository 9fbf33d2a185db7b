"""Asset-level records: every stored asset of 1.0 and 1.1 manifests, found by content hash.

Rows are written by the manifest intake (1.0: `manifest_asset_rows`, in the transaction
that stores the manifest) and by `ledger.storage.uploads` (1.1: one chunk a transaction).
Lookups by content hash go through `asset_hashes`, which a 1.1 manifest's rows enter
only in the transaction that completes it (`index_upload`), and every read here joins
`manifests`, whose row a 1.1 manifest gets then too: nothing of an upload in progress
is ever shown.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.core.canonical import canonicalize
from ledger.core.manifest import MANIFEST_VERSION
from ledger.core.records import PENDING
from ledger.storage.engine import repository
from ledger.storage.models import (
    AssetHashRow,
    AssetRow,
    BatchRow,
    CreatorRow,
    ManifestRow,
    UploadRow,
)

#: One asset to store: manifest digest, index, asset id, content hash (32 bytes), entry.
NewAsset = tuple[bytes, int, str, bytes, bytes]

# A 1.0 manifest's canonical body opens with its assets: "assets" sorts before every
# other member name. A 1.1 header opens with "assetCount".
_ASSETS_FIRST = b'{"assets":['
_HASH_PREFIX = len("sha256:")
# SQLite caps bound parameters per statement; 5 columns a row.
_ROWS_PER_INSERT = 100
# Hashes bound in one lookup, under the same cap.
_HASHES_PER_SELECT = 500


@dataclass(frozen=True)
class AnchorFacts:
    """Where a registration's batch was anchored."""

    batch_number: int
    tx_hash: bytes
    block_number: int
    block_timestamp: int


@dataclass(frozen=True)
class Registration:
    """One stored asset of a complete manifest, with its manifest's and creator's facts."""

    manifest_digest: bytes
    manifest_version: str
    asset_index: int
    asset_id: str
    entry: bytes
    creator_id: str
    verification_method: str | None
    verification_detail: str | None
    status: str
    accepted_at: int
    anchor: AnchorFacts | None

    def sort_key(self) -> tuple[int, int, int, int]:
        """Earliest anchor first, then the unanchored by acceptance time."""
        if self.anchor is None:
            return (1, 0, self.accepted_at, self.asset_index)
        return (0, self.anchor.block_number, self.accepted_at, self.asset_index)


def manifest_asset_rows(digest: bytes, body: bytes) -> list[NewAsset]:
    """The asset rows of a stored 1.0 manifest from its canonical body; none for any
    other body (a 1.1 header, whose assets come in chunks)."""
    if not body.startswith(_ASSETS_FIRST):
        return []
    rows: list[NewAsset] = []
    at = len(_ASSETS_FIRST)
    for index, entry in enumerate(orjson.loads(body)["assets"]):
        # Each entry's canonical bytes are in the canonical body already: orjson with
        # sorted keys spells almost every entry so (a tenth of `canonicalize`'s time,
        # in the intake's write), and where it does not (floats, keys beyond the BMP)
        # the comparison sends it to `canonicalize`.
        raw = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)
        if not body.startswith(raw, at):
            raw = canonicalize(entry)
        rows.append((digest, index, entry["id"], bytes.fromhex(entry["hash"][_HASH_PREFIX:]),
                     raw))
        at += len(raw) + 1  # and the comma
    return rows


async def insert_assets(conn: AsyncConnection, rows: list[NewAsset], *, indexed: bool) -> None:
    """Insert asset rows on an engine connection (inside the caller's transaction), and
    with `indexed` their `asset_hashes` rows (a 1.0 manifest; a 1.1 chunk waits for
    `index_upload`)."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(AssetRow).on_conflict_do_nothing()
    keys = ("manifest_digest", "asset_index", "asset_id", "content_hash", "entry")
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        await conn.execute(stmt, [dict(zip(keys, row, strict=True))
                                  for row in rows[start : start + _ROWS_PER_INSERT]])
    if indexed:
        hashes = dialect.insert(AssetHashRow).on_conflict_do_nothing()
        await conn.execute(hashes, [
            {"content_hash": row[3], "manifest_digest": row[0], "asset_index": row[1]}
            for row in rows
        ])


async def index_upload(conn: AsyncConnection, digest: bytes) -> None:
    """Enter every asset of the 1.1 manifest `digest` in `asset_hashes`, in hash order."""
    rows = (select(AssetRow.content_hash, AssetRow.manifest_digest, AssetRow.asset_index)
            .where(AssetRow.manifest_digest == digest).order_by(AssetRow.content_hash))
    await conn.execute(insert(AssetHashRow).from_select(
        ["content_hash", "manifest_digest", "asset_index"], rows))


def insert_assets_plain(conn: sqlite3.Connection, rows: list[NewAsset], *,
                        indexed: bool) -> None:
    """`insert_assets` on a plain `sqlite3` connection (the SQLite fast path)."""
    conn.executemany(_PLAIN_INSERT_ASSETS, rows)
    if indexed:
        conn.executemany(_PLAIN_INSERT_HASHES, [(row[3], row[0], row[1]) for row in rows])


def index_upload_plain(conn: sqlite3.Connection, digest: bytes) -> None:
    """`index_upload` on a plain `sqlite3` connection."""
    conn.execute(_PLAIN_INDEX_UPLOAD, (digest,))


_PLAIN_INSERT_ASSETS = (
    "INSERT INTO assets (manifest_digest, asset_index, asset_id, content_hash, entry) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_PLAIN_INSERT_HASHES = (
    "INSERT INTO asset_hashes (content_hash, manifest_digest, asset_index) "
    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
_PLAIN_INDEX_UPLOAD = (
    "INSERT INTO asset_hashes (content_hash, manifest_digest, asset_index) "
    "SELECT content_hash, manifest_digest, asset_index FROM assets "
    "WHERE manifest_digest = ? ORDER BY content_hash"
)


@repository
class AssetStore:
    """Reads of stored assets: by content hash, and one asset of a manifest."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def by_hash(self, content_hash: bytes) -> list[Registration]:
        """Every asset with this content hash in a complete manifest, earliest anchor
        first, then the unanchored by acceptance time."""
        stmt = _REGISTRATIONS.where(AssetHashRow.content_hash == content_hash)
        async with self._engine.connect() as conn:
            found = [_registration(row) for row in await conn.execute(stmt)]
        return sorted(found, key=Registration.sort_key)

    async def by_hashes(self, content_hashes: Sequence[bytes]
                        ) -> dict[bytes, list[Registration]]:
        """`by_hash` for many hashes at once (a dataset check): the registrations of
        each hash that has any, in `by_hash`'s order; a hash with none is absent."""
        found: dict[bytes, list[Registration]] = {}
        async with self._engine.connect() as conn:
            for start in range(0, len(content_hashes), _HASHES_PER_SELECT):
                chunk = content_hashes[start : start + _HASHES_PER_SELECT]
                stmt = _REGISTRATIONS.add_columns(AssetHashRow.content_hash).where(
                    AssetHashRow.content_hash.in_(chunk))
                for row in await conn.execute(stmt):
                    found.setdefault(row.content_hash, []).append(_registration(row))
        for registrations in found.values():
            registrations.sort(key=Registration.sort_key)
        return found

    async def entry(self, manifest_digest: bytes, index: int) -> bytes | None:
        """The canonical entry of one asset of a stored manifest, or None."""
        stmt = select(AssetRow.entry).where(
            AssetRow.manifest_digest == manifest_digest, AssetRow.asset_index == index
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(stmt)).scalar()

    async def entry_by_id(self, manifest_digest: bytes, asset_id: str) -> bytes | None:
        """The canonical entry of the asset with this id in a stored manifest, or None."""
        stmt = select(AssetRow.entry).where(
            AssetRow.manifest_digest == manifest_digest, AssetRow.asset_id == asset_id
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(stmt)).scalar()


_REGISTRATIONS = (
    select(
        AssetRow.manifest_digest, AssetRow.asset_index, AssetRow.asset_id, AssetRow.entry,
        ManifestRow.creator_id, ManifestRow.accepted_at, ManifestRow.batch_number,
        BatchRow.status, BatchRow.tx_hash, BatchRow.block_number, BatchRow.block_timestamp,
        CreatorRow.verification, CreatorRow.verification_detail,
        UploadRow.body.label("header"),
    )
    .select_from(AssetHashRow)
    .join(AssetRow, (AssetRow.manifest_digest == AssetHashRow.manifest_digest)
          & (AssetRow.asset_index == AssetHashRow.asset_index))
    .join(ManifestRow, ManifestRow.digest == AssetRow.manifest_digest)
    .outerjoin(BatchRow, BatchRow.number == ManifestRow.batch_number)
    .outerjoin(CreatorRow, CreatorRow.id == ManifestRow.creator_id)
    .outerjoin(UploadRow, UploadRow.digest == AssetRow.manifest_digest)
)


def _registration(row: Any) -> Registration:
    anchor = None
    if row.tx_hash is not None:
        anchor = AnchorFacts(row.batch_number, row.tx_hash, row.block_number,
                             row.block_timestamp)
    return Registration(
        manifest_digest=row.manifest_digest,
        manifest_version=MANIFEST_VERSION if row.header is None
        else orjson.loads(row.header)["manifestVersion"],
        asset_index=row.asset_index,
        asset_id=row.asset_id,
        entry=row.entry,
        creator_id=row.creator_id,
        verification_method=row.verification,
        verification_detail=row.verification_detail,
        status=row.status or PENDING,
        accepted_at=row.accepted_at,
        anchor=anchor,
    )
