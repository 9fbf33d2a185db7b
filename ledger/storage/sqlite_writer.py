"""Manifest intake writes on SQLite through plain `sqlite3`, on a thread of their own.

Through SQLAlchemy's async engine and aiosqlite, one group-commit transaction
costs the event loop about 1.5 ms of CPU (statement execution, result rows,
hops between threads), which at a few dozen manifests a group is most of the
storage cost of a manifest. Here the event loop only hands the group to a
dedicated thread, which runs the same transaction on its own connection:
`sqlite3` lets go of the GIL while SQLite works and syncs, so the loop goes on
serving meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement

from ledger.core.records import PENDING, ManifestRecord, NewManifest, stored_answers
from ledger.errors import StorageError
from ledger.storage.engine import FileGuard, sqlite_pragmas
from ledger.storage.models import MANIFEST_COLUMNS, BatchRow, ManifestRow


def _sql(stmt: ClauseElement) -> str:
    return str(stmt.compile(dialect=sqlite.dialect()))


_INSERT = _sql(
    sqlite.insert(ManifestRow)
    .values(
        digest=bindparam("digest"),
        creator_id=bindparam("creator_id"),
        signing_key=bindparam("signing_key"),
        body=bindparam("body"),
        accepted_at=bindparam("accepted_at"),
    )
    .on_conflict_do_nothing(index_elements=["digest"])
    .returning(ManifestRow.digest)
)
_EXISTING = _sql(
    select(*MANIFEST_COLUMNS)
    .outerjoin(BatchRow, BatchRow.number == ManifestRow.batch_number)
    .where(ManifestRow.digest == bindparam("digest"))
)


class SqliteManifestWriter:
    """`ManifestStore.add` on one SQLite file, through one connection on one thread."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        # The engine's rule: no commit once the file is no longer the one first opened.
        self._guard = FileGuard(database)

    async def add(self, manifests: Sequence[NewManifest]) -> list[tuple[ManifestRecord, bool]]:
        """Store manifests in one durable transaction; answers as `ManifestStore.add`."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._add, list(manifests))

    def close(self) -> None:
        """Close the connection and stop the thread (after the writes under way)."""
        self._thread.submit(self._disconnect)
        self._thread.shutdown(wait=True)

    def _add(self, manifests: list[NewManifest]) -> list[tuple[ManifestRecord, bool]]:
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                created, known = self._write(conn, manifests)
                self._guard.check(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            # The connection may be unusable (a failed rollback, a moved file):
            # the next group opens a new one.
            self._disconnect()
            raise StorageError(f"could not store manifests: {exc}") from exc
        return stored_answers(manifests, created, known)

    @staticmethod
    def _write(
        conn: sqlite3.Connection, manifests: list[NewManifest]
    ) -> tuple[set[bytes], dict[bytes, ManifestRecord]]:
        created: set[bytes] = set()
        for m in manifests:
            params = (m.digest, m.creator_id, m.signing_key, m.body, m.accepted_at)
            if conn.execute(_INSERT, params).fetchone() is not None:
                created.add(m.digest)
        # Only digests stored before (rare: resubmissions) are read back.
        known: dict[bytes, ManifestRecord] = {}
        for digest in dict.fromkeys(m.digest for m in manifests if m.digest not in created):
            row = conn.execute(_EXISTING, (digest,)).fetchone()
            known[digest] = _record(row)
        return created, known

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # Transactions are begun and ended explicitly (autocommit otherwise).
            conn = sqlite3.connect(self._database, isolation_level=None, timeout=30)
            sqlite_pragmas(conn, None)  # the engine's: WAL, synchronous=FULL, timeouts
            self._guard.remember(conn, None)
            self._conn = conn
        return self._conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def _record(row: tuple[Any, ...]) -> ManifestRecord:
    digest, creator_id, signing_key, accepted_at, batch_number, leaf_index, status = row
    return ManifestRecord(
        digest, creator_id, signing_key, accepted_at, batch_number, leaf_index, status or PENDING
    )
