"""Asset-level records: every stored asset of 1.0 and 1.1 manifests, found by content hash.

Rows are written by the manifest intake (1.0: `manifest_asset_rows`, in the transaction
that stores the manifest) and by `ledger.storage.uploads` (1.1: one chunk a transaction).
Lookups by content hash go through `asset_hashes`, which a 1.1 manifest's rows enter
only in the transaction that completes it (`index_upload`), and every read here joins
`manifests` (or, for many hashes at once, reads it), whose row a 1.1 manifest gets then
too: nothing of an upload in progress is ever shown.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from sqlalchemy import bindparam, insert, select
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
from ledger.storage.sqlite_fast import fast_path

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
class ManifestFacts:
    """What every registration in one complete manifest shares (`AssetStore.by_hashes`)."""

    digest: bytes
    creator_id: str
    accepted_at: int
    anchor: AnchorFacts | None


class HashMatch(NamedTuple):
    """One stored asset with a content hash asked about: its manifest's facts, read once
    per manifest and shared by every match in it, and its own."""

    manifest: ManifestFacts
    asset_index: int
    asset_id: str
    entry: bytes


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
        return _order(self.anchor, self.accepted_at, self.asset_index)


def _order(anchor: AnchorFacts | None, accepted_at: int, asset_index: int
           ) -> tuple[int, int, int, int]:
    if anchor is None:
        return (1, 0, accepted_at, asset_index)
    return (0, anchor.block_number, accepted_at, asset_index)


def _match_order(match: HashMatch) -> tuple[int, int, int, int]:
    return _order(match.manifest.anchor, match.manifest.accepted_at, match.asset_index)


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
        self._fast = fast_path(engine)

    async def by_hash(self, content_hash: bytes) -> list[Registration]:
        """Every asset with this content hash in a complete manifest, earliest anchor
        first, then the unanchored by acceptance time."""
        stmt = _REGISTRATIONS.where(AssetHashRow.content_hash == content_hash)
        async with self._engine.connect() as conn:
            found = [_registration(row) for row in await conn.execute(stmt)]
        return sorted(found, key=Registration.sort_key)

    async def registrations(self, content_hashes: Sequence[bytes]
                            ) -> dict[bytes, list[Registration]]:
        """`by_hash` for many hashes at once (a batch lookup): the registrations of each
        hash that has any, in `by_hash`'s order; a hash with none is absent."""
        found: dict[bytes, list[Registration]] = {}
        for row in await self._read_chunked(_registrations_of, sorted(set(content_hashes))):
            found.setdefault(row.content_hash, []).append(_registration(row))
        for registrations in found.values():
            registrations.sort(key=Registration.sort_key)
        return found

    async def by_hashes(self, content_hashes: Sequence[bytes]
                        ) -> dict[bytes, list[HashMatch]]:
        """`by_hash` for many hashes at once (a dataset check): the stored assets of
        each hash that has any, in `by_hash`'s order; a hash with none is absent. Each
        manifest's facts are read once, for every match in it, not joined to each row
        (a large dataset has hundreds of matches a manifest: the join was a third of a
        check's time, docs/benchmarks.md)."""
        rows = await self._read_chunked(_assets_by_hashes, content_hashes)
        facts = {row.digest: ManifestFacts(row.digest, row.creator_id, row.accepted_at,
                                           _anchor(row))
                 for row in await self._read_chunked(
                     _manifest_facts, sorted({row.manifest_digest for row in rows}))}
        found: dict[bytes, list[HashMatch]] = {}
        for content_hash, digest, asset_index, asset_id, entry in rows:
            manifest = facts.get(digest)
            if manifest is not None:  # a complete manifest, as `by_hash` joins
                found.setdefault(content_hash, []).append(
                    HashMatch(manifest, asset_index, asset_id, entry))
        for matches in found.values():
            if len(matches) > 1:
                matches.sort(key=_match_order)
        return found

    async def _read_chunked(self, stmt_of: Callable[[Sequence[bytes]], Any],
                            values: Sequence[bytes]) -> list[Any]:
        """Every row of ``stmt_of(chunk)`` over the chunks of `values`."""
        if self._fast is not None:
            # On a SQLite file with plain sqlite3: through the async engine the rows
            # cost five times what SQLite needs (docs/benchmarks.md, issue 17).
            try:
                return await self._fast.read_many(stmt_of, values, _HASHES_PER_SELECT)
            except sqlite3.Error:
                pass  # busy or broken: the engine answers
        rows: list[Any] = []
        async with self._engine.connect() as conn:
            for start in range(0, len(values), _HASHES_PER_SELECT):
                chunk = values[start : start + _HASHES_PER_SELECT]
                rows += (await conn.execute(stmt_of(chunk))).all()
        return rows

    async def entry(self, manifest_digest: bytes, index: int) -> bytes | None:
        """The canonical entry of one asset of a stored manifest, or None."""
        stmt = select(AssetRow.entry).where(
            AssetRow.manifest_digest == manifest_digest, AssetRow.asset_index == index
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(stmt)).scalar()

    async def entry_by_id(self, manifest_digest: bytes, asset_id: str) -> bytes | None:
        """The canonical entry of the asset with this id in a stored manifest, or None.
        On a SQLite file read on the event loop: a cold status asks this."""
        params = {"manifest": manifest_digest, "asset_id": asset_id}
        if self._fast is not None:
            try:
                row = self._fast.read_one(_ENTRY_BY_ID, **params)
                return None if row is None else bytes(row.entry)
            except sqlite3.Error:
                pass  # busy or broken: the engine answers now, the fast path reconnects
        async with self._engine.connect() as conn:
            return (await conn.execute(_ENTRY_BY_ID, params)).scalar()


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


def _registrations_of(chunk: Sequence[bytes]) -> Any:
    return _REGISTRATIONS.add_columns(AssetHashRow.content_hash).where(
        AssetHashRow.content_hash.in_(chunk))


_ENTRY_BY_ID = select(AssetRow.entry).where(
    AssetRow.manifest_digest == bindparam("manifest"), AssetRow.asset_id == bindparam("asset_id"))


def _assets_by_hashes(chunk: Sequence[bytes]) -> Any:
    return (select(AssetHashRow.content_hash, AssetHashRow.manifest_digest,
                   AssetHashRow.asset_index, AssetRow.asset_id, AssetRow.entry)
            .select_from(AssetHashRow)
            .join(AssetRow, (AssetRow.manifest_digest == AssetHashRow.manifest_digest)
                  & (AssetRow.asset_index == AssetHashRow.asset_index))
            .where(AssetHashRow.content_hash.in_(chunk)))


def _manifest_facts(chunk: Sequence[bytes]) -> Any:
    return (select(ManifestRow.digest, ManifestRow.creator_id, ManifestRow.accepted_at,
                   ManifestRow.batch_number, BatchRow.tx_hash, BatchRow.block_number,
                   BatchRow.block_timestamp)
            .outerjoin(BatchRow, BatchRow.number == ManifestRow.batch_number)
            .where(ManifestRow.digest.in_(chunk)))


def _anchor(row: Any) -> AnchorFacts | None:
    if row.tx_hash is None:
        return None
    return AnchorFacts(row.batch_number, row.tx_hash, row.block_number, row.block_timestamp)


def _registration(row: Any) -> Registration:
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
        anchor=_anchor(row),
    )
