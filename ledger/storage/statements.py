"""Lifecycle statements: every accepted statement about a manifest's assets, sealed into
batches of the shared sequence and anchored like creator records.

A statement is stored whole (its canonical JSON) under the manifest it targets; which of
that manifest's assets it names is read from the body (`ledger.core.statements.Target`),
so the statements of one asset are those of its manifest that cover it. The assets each
names are also kept in ``statement_targets``, for whoever asks about given assets of many
manifests (a dataset check) and would otherwise read all their statements.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    LargeBinary,
    Row,
    String,
    bindparam,
    column,
    func,
    insert,
    select,
    text,
    values,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import TextClause

from ledger.core.records import PENDING, StatementRecord
from ledger.errors import StorageError
from ledger.storage.batching import LeafQueue
from ledger.storage.engine import repository, storage_errors
from ledger.storage.models import AssetRow, BatchRow, StatementRow, StatementTargetRow
from ledger.storage.sqlite_fast import fast_path

#: Work done in the transaction that stores a statement (an outbox entry announcing it).
InTransaction = Callable[[AsyncConnection], Awaitable[None]]
#: The last check of a statement in the transaction that stores it, given the bodies of
#: the statements stored about its manifest (none can be added meanwhile); it raises
#: (a ValidationError naming the conflict) to store nothing.
Admit = Callable[[list[bytes]], Awaitable[None]]

# (manifest, asset id) pairs bound in one lookup: within SQLite's default limit of bound
# parameters, and PostgreSQL's.
_PAIRS_PER_SELECT = 250
# Names the advisory locks of statement intake (a manifest's key is the other half).
_LOCK_SPACE = 0x6C_7374  # "lst"

_COLUMNS = (
    StatementRow.digest,
    StatementRow.manifest_digest,
    StatementRow.type,
    StatementRow.body,
    StatementRow.accepted_at,
    StatementRow.batch_number,
    StatementRow.leaf_index,
    BatchRow.status,
)

_ASSET_COLUMNS = (AssetRow.asset_index, AssetRow.asset_id, AssetRow.entry)


@repository
class StatementStore:
    """Repository of lifecycle statements and the batches that hold them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._fast = fast_path(engine)
        #: The statements awaiting a batch, for the batcher.
        self.queue = LeafQueue(engine, StatementRow, "statement")

    async def add(self, record: StatementRecord, *, admit: Admit | None = None,
                  also: InTransaction | None = None) -> bool:
        """Store `record` unless `admit` refuses it, and run `also` in the same transaction
        (what announces it); False, storing nothing, when a statement with its digest is
        stored already. Intakes about one manifest run one at a time, across processes
        and replicas (`_lock_manifest`), so what `admit` read is still all there is."""
        try:
            with storage_errors("could not store a statement"):
                async with self._engine.begin() as conn:
                    await _lock_manifest(conn, record.manifest_digest)
                    found = await conn.execute(
                        select(StatementRow.seq).where(StatementRow.digest == record.digest))
                    if found.first() is not None:
                        return False
                    if admit is not None:
                        await admit(await _bodies(conn, record.manifest_digest))
                    seq = (await conn.execute(insert(StatementRow).values(
                        digest=record.digest, manifest_digest=record.manifest_digest,
                        type=record.type, body=record.body, accepted_at=record.accepted_at,
                    ).returning(StatementRow.seq))).scalar_one()
                    await conn.execute(insert(StatementTargetRow), _targets(record, seq))
                    if also is not None:
                        await also(conn)
        except StorageError as exc:
            # Another replica stored the same statement between the look and the insert.
            if isinstance(exc.__cause__, IntegrityError):
                return False
            raise
        return True

    async def get(self, digest: bytes) -> StatementRecord | None:
        """The statement with this digest, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_query().where(StatementRow.digest == digest))).first()
        return _record(row) if row else None

    async def about(self, manifest_digest: bytes) -> list[StatementRecord]:
        """Every statement targeting assets of this manifest, in acceptance order."""
        stmt = (_query().where(StatementRow.manifest_digest == manifest_digest)
                .order_by(StatementRow.seq))
        async with self._engine.connect() as conn:
            return [_record(row) for row in await conn.execute(stmt)]

    async def bodies(self, manifest_digest: bytes) -> list[bytes]:
        """The canonical JSON of every statement targeting assets of this manifest, in
        acceptance order (`about` without the rest of each record). On a SQLite file
        read on the event loop (`SqliteFastPath.read_all`): a cold status asks this."""
        if self._fast is not None:
            try:
                return [body for body, in self._fast.read_all(_BODIES, manifest=manifest_digest)]
            except sqlite3.Error:
                pass  # busy or broken: the engine answers now, the fast path reconnects
        async with self._engine.connect() as conn:
            return await _bodies(conn, manifest_digest)

    async def bodies_about(self, assets: Sequence[tuple[bytes, str]]
                           ) -> dict[bytes, list[bytes]]:
        """The canonical JSON of every statement naming one of these (manifest digest,
        asset id) pairs or their whole manifests, by manifest in acceptance order (a
        manifest with none is absent), found through ``statement_targets``: a dataset
        check reads only what was said about the assets it was asked about."""
        pairs = sorted({*assets, *((digest, "") for digest, _ in assets)})
        rows: list[Any] | None = None
        if self._fast is not None:
            with contextlib.suppress(sqlite3.Error):  # busy or broken: the engine answers
                rows = await self._fast.read_many(_about_targets_sqlite, pairs,
                                                  _PAIRS_PER_SELECT)
        if rows is None:
            rows = []
            async with self._engine.connect() as conn:
                for start in range(0, len(pairs), _PAIRS_PER_SELECT):
                    chunk = pairs[start : start + _PAIRS_PER_SELECT]
                    rows += (await conn.execute(_about_targets(chunk))).all()
        found: dict[bytes, dict[int, bytes]] = {}
        for row in rows:
            found.setdefault(row.manifest_digest, {})[row.seq] = row.body
        return {digest: [bodies[seq] for seq in sorted(bodies)]
                for digest, bodies in found.items()}

    async def latest_seq(self) -> int:
        """The seq of the latest stored statement (0: none)."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.max(StatementRow.seq)))).scalar() or 0)

    async def changed_since(self, seq: int) -> tuple[int, set[bytes]]:
        """The latest statement's seq, and the manifests of statements stored after `seq`
        (by any replica): what a cache of statements must forget."""
        stmt = select(StatementRow.seq, StatementRow.manifest_digest).where(
            StatementRow.seq > seq)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return max((r.seq for r in rows), default=seq), {r.manifest_digest for r in rows}

    async def assets(self, manifest_digest: bytes, *, start: int = 0, limit: int | None = None
                     ) -> list[tuple[int, str, bytes]]:
        """The stored assets of a manifest as (index, asset id, canonical entry), in index
        order: from index `start`, at most `limit` (None: all)."""
        stmt = (select(*_ASSET_COLUMNS)
                .where(AssetRow.manifest_digest == manifest_digest,
                       AssetRow.asset_index >= start)
                .order_by(AssetRow.asset_index).limit(limit))
        async with self._engine.connect() as conn:
            return [(r.asset_index, r.asset_id, r.entry) for r in await conn.execute(stmt)]

    async def assets_named(self, manifest_digest: bytes, asset_ids: Sequence[str]
                           ) -> list[tuple[int, str, bytes]]:
        """The manifest's assets with these ids (at most 1,024), as `assets` gives them."""
        stmt = (select(*_ASSET_COLUMNS)
                .where(AssetRow.manifest_digest == manifest_digest,
                       AssetRow.asset_id.in_(asset_ids))
                .order_by(AssetRow.asset_index))
        async with self._engine.connect() as conn:
            return [(r.asset_index, r.asset_id, r.entry) for r in await conn.execute(stmt)]


async def _lock_manifest(conn: AsyncConnection, manifest_digest: bytes) -> None:
    """Make the caller's transaction the only one storing statements about this manifest
    until it ends. PostgreSQL: a transaction-level advisory lock keyed by the manifest
    (two manifests sharing a key only wait for each other). SQLite: the file's write
    lock, taken before the first read (one writer at a time anyway)."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(manifest_digest[:4], "big", signed=True)
        await conn.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"),
                           {"space": _LOCK_SPACE, "key": key})
    elif conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("BEGIN IMMEDIATE")


_BODIES = (select(StatementRow.body)
           .where(StatementRow.manifest_digest == bindparam("manifest"))
           .order_by(StatementRow.seq))


async def _bodies(conn: AsyncConnection, manifest_digest: bytes) -> list[bytes]:
    return list((await conn.execute(_BODIES, {"manifest": manifest_digest})).scalars())


def _targets(record: StatementRecord, seq: int) -> list[dict[str, Any]]:
    """The ``statement_targets`` rows of a statement: each asset it names, or ""."""
    names: list[str] = orjson.loads(record.body)["target"].get("assetIds", [""])
    return [{"manifest_digest": record.manifest_digest, "asset_id": asset_id, "seq": seq}
            for asset_id in names]


def _about_targets(pairs: Sequence[tuple[bytes, str]]) -> Any:
    # Joined from the pairs as a table (a CTE: SQLite names no VALUES' columns), each
    # looked up in the primary key.
    asked = values(column("manifest_digest", LargeBinary), column("asset_id", String),
                   name="asked").data(list(pairs)).cte("asked")
    return (select(StatementRow.seq, StatementRow.manifest_digest, StatementRow.body)
            .select_from(asked)
            .join(StatementTargetRow,
                  (StatementTargetRow.manifest_digest == asked.c.manifest_digest)
                  & (StatementTargetRow.asset_id == asked.c.asset_id))
            .join(StatementRow, StatementRow.seq == StatementTargetRow.seq))


def _about_targets_sqlite(pairs: Sequence[tuple[bytes, str]]) -> TextClause:
    """`_about_targets` as SQLite must be told it: its planner would scan the whole
    table rather than look each pair up (for a join as for a tuple IN), unless the
    pairs are the outer loop, which only CROSS JOIN makes them."""
    rows = ", ".join(["(?, ?)"] * len(pairs))
    return text(f"WITH asked(manifest_digest, asset_id) AS (VALUES {rows}) "
                "SELECT s.seq, s.manifest_digest, s.body FROM asked "
                "CROSS JOIN statement_targets AS t ON t.manifest_digest = asked.manifest_digest"
                " AND t.asset_id = asked.asset_id JOIN statements AS s ON s.seq = t.seq")


def _query() -> Any:
    return select(*_COLUMNS).outerjoin(BatchRow, BatchRow.number == StatementRow.batch_number)


def _record(row: Row[*tuple[Any, ...]]) -> StatementRecord:
    return StatementRecord(
        digest=row.digest,
        manifest_digest=row.manifest_digest,
        type=row.type,
        body=row.body,
        accepted_at=row.accepted_at,
        batch_number=row.batch_number,
        leaf_index=row.leaf_index,
        status=row.status or PENDING,
    )
