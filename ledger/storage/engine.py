"""Opening the database: SQLite (the embedded default) or PostgreSQL.

Its schema is made and migrated by `ledger.storage.schema`.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ledger.errors import StorageError


def open_engine(url: str) -> AsyncEngine:
    """An async engine for `url`, with SQLite made durable and concurrent."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        database = engine.url.database
        if database not in (None, "", ":memory:"):
            guard = FileGuard(str(database))
            event.listen(engine.sync_engine, "connect", guard.remember)
            event.listen(engine.sync_engine, "commit", guard.check)
    else:
        engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    event.listen(engine.sync_engine, "do_connect", _wrapped_connect)
    return engine


def _wrapped_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    # SQLAlchemy wraps only the driver's own errors: a refused connection would
    # reach the stores as a bare OSError; as the driver's error it becomes an
    # OperationalError like every other database failure.
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:
        raise dialect.loaded_dbapi.OperationalError(str(exc)) from exc


class FileGuard:
    """Refuses commits once the SQLite file is no longer at its path.

    SQLite in WAL mode keeps committing into a file that was moved or deleted,
    so every write after that would be acknowledged and lost.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._identity: tuple[int, int] | None = None

    def remember(self, _dbapi_connection: Any, _record: Any) -> None:
        """Note which file the path names now (a "connect" event listener)."""
        if self._identity is None:
            stat = os.stat(self._path)
            self._identity = (stat.st_dev, stat.st_ino)

    def check(self, _connection: Any) -> None:
        """Raise StorageError if the path names another file now (a "commit" listener)."""
        try:
            stat = os.stat(self._path)
        except FileNotFoundError:
            stat = None
        if stat is None or (stat.st_dev, stat.st_ino) != self._identity:
            raise StorageError(
                "the database file was moved or deleted while the service "
                "ran; writes are refused until it is back"
            )


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Make a new SQLite connection durable and concurrent (a "connect" listener)."""
    # WAL lets readers run beside the one writer; synchronous=FULL makes every
    # commit durable across power loss, not just across a process crash.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
