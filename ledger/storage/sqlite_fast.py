"""The one SQLite fast path beside the async engine: a write thread and a point reader.

Through SQLAlchemy's async engine and aiosqlite, one group-commit transaction costs
the event loop about 1.5 ms of CPU (statement execution, result rows, hops between
threads), and an indexed point read one to three milliseconds of queueing, where
SQLite itself needs tens of microseconds (docs/benchmarks.md, "Service"). On a SQLite
file the engine therefore carries one `SqliteFastPath`: writes run on a dedicated
thread with their own connection (`sqlite3` lets go of the GIL while SQLite works and
syncs, so the loop goes on serving), and the hottest read answers on the event loop
from a read-only connection (WAL readers never wait for the writer; a short busy
timeout bounds the rare wait on a checkpoint). Every store of the engine shares it;
PostgreSQL and in-memory SQLite have none and go through the engine alone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ClauseElement

from ledger.errors import StorageError
from ledger.storage.engine import FileGuard, sqlite_pragmas

T = TypeVar("T")

# The most of the file `read_many` maps (SQLite's own cap, 2 GiB by default, applies).
_READ_MANY_MMAP = 1 << 40

_PATHS: weakref.WeakKeyDictionary[Any, SqliteFastPath] = weakref.WeakKeyDictionary()


def fast_path(engine: AsyncEngine) -> SqliteFastPath | None:
    """The fast path of `engine` (one per engine), or None unless it is a SQLite file."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    assert database is not None
    path = _PATHS.get(engine.sync_engine)
    if path is None:
        path = _PATHS[engine.sync_engine] = SqliteFastPath(database)
    return path


class SqliteFastPath:
    """One write connection on one thread, and one read-only connection, on a SQLite file."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._thread: ThreadPoolExecutor | None = None
        self._write_conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._read_sql: dict[int, tuple[str, list[str]]] = {}
        # The engine's rule: no commit once the file is no longer the one first opened.
        self._guard = FileGuard(database)

    # -- writes ---------------------------------------------------------------------------

    async def write(self, work: Callable[[sqlite3.Connection], T], doing: str) -> T:
        """Run `work` in one durable transaction on the write thread; a failure is a
        `StorageError` "`doing`: reason" and nothing of `work` is kept."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, work, doing)

    def _transaction(self, work: Callable[[sqlite3.Connection], T], doing: str) -> T:
        conn = self._writer()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                self._guard.check(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            # The connection may be unusable (a failed rollback, a moved file):
            # the next transaction opens a new one.
            self._close_writer()
            raise StorageError(f"{doing}: {exc}") from exc
        return result

    def _writer(self) -> sqlite3.Connection:
        if self._write_conn is None:
            # Transactions are begun and ended explicitly (autocommit otherwise).
            conn = sqlite3.connect(self._database, isolation_level=None, timeout=30)
            sqlite_pragmas(conn, None)  # the engine's: WAL, synchronous=FULL, timeouts
            self._guard.remember(conn, None)
            self._write_conn = conn
        return self._write_conn

    def _close_writer(self) -> None:
        conn, self._write_conn = self._write_conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- point reads ----------------------------------------------------------------------

    def read_one(self, stmt: Select[Any], **params: Any) -> SimpleNamespace | None:
        """The first row of `stmt` with `params`, columns as attributes, read on the
        calling thread; None if there is none. On `sqlite3.Error` (busy, broken) the
        read connection is dropped and the error raised: the caller asks the engine."""
        sql, names = self._compiled(stmt)
        try:
            cursor = self._reader().execute(sql, [params[n] for n in names])
            row = cursor.fetchone()
        except sqlite3.Error:
            self._close_reader()
            raise
        if row is None:
            return None
        return SimpleNamespace(**{d[0]: v for d, v in zip(cursor.description, row, strict=True)})

    def read_all(self, stmt: Select[Any], **params: Any) -> list[tuple[Any, ...]]:
        """Every row of `stmt` with `params`, as tuples in the order of its columns, read
        on the calling thread: for a few rows (the statements of one manifest), as
        `read_one`, whose errors it raises alike."""
        sql, names = self._compiled(stmt)
        try:
            return self._reader().execute(sql, [params[n] for n in names]).fetchall()
        except sqlite3.Error:
            self._close_reader()
            raise

    async def read_many(self, stmt_of: Callable[[Sequence[Any]], ClauseElement],
                        values: Sequence[Any], per_query: int) -> list[Any]:
        """Every row of ``stmt_of(chunk)`` for the chunks of `values`, `per_query` a
        query, as named tuples; read on a thread, with a read-only connection of its own
        (a large read would hold the event loop). ``stmt_of`` binds nothing but the chunk,
        in order (an ``IN`` of values, or SQL with a ``?`` for each member of each
        tuple), as one statement compiled once; the last chunk is padded with its first
        value, so each match must come once however often it is asked, or the caller
        drops repeats."""
        if not values:
            return []
        return await asyncio.to_thread(self._read_many, stmt_of, values, per_query)

    def _read_many(self, stmt_of: Callable[[Sequence[Any]], ClauseElement],
                   values: Sequence[Any], per_query: int) -> list[Any]:
        sql = stmt_of([values[0]] * per_query).compile(
            dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True}).string
        conn = sqlite3.connect(f"file:{self._database}?mode=ro", uri=True)
        # Pages read through a mapping, not a read() and a copy each: a third of a
        # dataset check's lookups (docs/benchmarks.md, issue 17). SQLite caps the size.
        conn.execute(f"PRAGMA mmap_size={_READ_MANY_MMAP}")
        try:
            rows: list[Any] = []
            for start in range(0, len(values), per_query):
                chunk = list(values[start : start + per_query])
                chunk += chunk[:1] * (per_query - len(chunk))
                flat = [v for value in chunk for v in value] if isinstance(chunk[0], tuple) \
                    else chunk
                cursor = conn.execute(sql, flat)
                named = collections.namedtuple(  # type: ignore[misc]
                    "Row", [d[0] for d in cursor.description])
                rows += map(named._make, cursor.fetchall())
            return rows
        finally:
            conn.close()

    def _compiled(self, stmt: Select[Any]) -> tuple[str, list[str]]:
        key = id(stmt)
        if key not in self._read_sql:
            compiled = stmt.compile(dialect=sqlite.dialect())
            self._read_sql[key] = (compiled.string, list(compiled.positiontup or []))
        return self._read_sql[key]

    def _reader(self) -> sqlite3.Connection:
        if self._read_conn is None:
            conn = sqlite3.connect(
                f"file:{self._database}?mode=ro", uri=True, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=50")
            self._read_conn = conn
        return self._read_conn

    def _close_reader(self) -> None:
        conn, self._read_conn = self._read_conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Close both connections and stop the write thread after the writes under way;
        a later call opens them again."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.submit(self._close_writer)
            thread.shutdown(wait=True)
        self._close_reader()
