"""Point reads on SQLite without the async driver's thread hops.

An indexed lookup in SQLite takes tens of microseconds, while going through
SQLAlchemy's async engine and aiosqlite costs one to three milliseconds of
queueing between threads. For the hottest read (a proof: a manifest and its
batch) a plain `sqlite3` connection answers on the event loop itself: WAL
readers never wait for the writer, and a short busy timeout bounds the rare
wait on a checkpoint; on any error the caller falls back to the async engine.
"""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Select
from sqlalchemy.dialects import sqlite


class PointReader:
    """One read-only connection answering one compiled statement at a time."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._conn: sqlite3.Connection | None = None
        self._sql: dict[int, tuple[str, list[str]]] = {}

    def one(self, stmt: Select[Any], **params: Any) -> SimpleNamespace | None:
        """The first row of `stmt` with `params`, columns as attributes; raises sqlite3.Error."""
        sql, names = self._compiled(stmt)
        cursor = self._connection().execute(sql, [params[n] for n in names])
        row = cursor.fetchone()
        if row is None:
            return None
        return SimpleNamespace(**{d[0]: v for d, v in zip(cursor.description, row, strict=True)})

    def _compiled(self, stmt: Select[Any]) -> tuple[str, list[str]]:
        key = id(stmt)
        if key not in self._sql:
            compiled = stmt.compile(dialect=sqlite.dialect())
            self._sql[key] = (compiled.string, list(compiled.positiontup or []))
        return self._sql[key]

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                f"file:{self._database}?mode=ro", uri=True, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=50")
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Close the connection (it reopens on the next read)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
