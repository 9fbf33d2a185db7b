"""Opening the database: SQLite (the embedded default) or PostgreSQL.

Its schema is made and migrated by `ledger.storage.schema`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import sqlalchemy.exc
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ledger.errors import StorageError

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)

#: What a client is told when the database fails a request it did not describe further.
DATABASE_FAILED = "the database failed the request; retry later"


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


@contextlib.contextmanager
def storage_errors(doing: str | None = None) -> Iterator[None]:
    """Raise the database's failures inside the block as `StorageError`, the one place
    where driver exceptions stop (`repository` puts every public method in it).

    With `doing` (a write whose failure the caller reports as such), every SQLAlchemy
    error becomes "`doing`: reason". Without it, only a database that is down, full or
    refusing becomes `DATABASE_FAILED`: the client can only wait that out. A wrong
    statement or value is our bug and escapes as it is (an internal error).
    """
    try:
        yield
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as exc:
        if doing is not None and isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
            raise StorageError(f"{doing}: {_reason(exc)}") from exc
        if database_failed(exc):
            raise StorageError(DATABASE_FAILED) from exc
        raise


def repository(cls: C) -> C:
    """`cls` with each public coroutine method run inside `storage_errors`."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, _guarded(member))
    return cls


def _guarded(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        with storage_errors():
            return await method(*args, **kwargs)

    return guarded


def database_failed(exc: BaseException) -> bool:
    """True for a database call that failed because the database is down, full or
    refusing; False for a wrong statement or value (our bug).

    OSError too: SQLAlchemy wraps only the driver's own errors, so a refused or reset
    connection to the database can arrive raw.
    """
    if isinstance(exc, OSError | sqlalchemy.exc.TimeoutError):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and not isinstance(exc, _DATABASE_BUGS)


#: Database errors that mean our statement or data is wrong, not the database.
_DATABASE_BUGS = (
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.NotSupportedError,
)


def _reason(exc: sqlalchemy.exc.SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0]
