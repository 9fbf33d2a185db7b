"""The database schema's revision: upgrading, checking and adopting, through Alembic.

The migrations live in `ledger.storage.migrations`. A database is in one of four
states: empty; at a revision this ledger knows (at head, or behind it); at one it
does not know (a newer ledger migrated it); or holding tables that ``create_all``
made before migrations existed, which are adopted as the revision they match.

Every change runs in one transaction that first takes a lock, so replicas starting
together on one empty PostgreSQL database migrate it once: the first holds
``pg_advisory_xact_lock`` and the others wait, then find it at head. On SQLite the
transaction is ``BEGIN IMMEDIATE``, which holds the file's write lock.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.errors import StorageError

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).with_name("migrations")
_VERSION_TABLE = "alembic_version"
# Any fixed 64-bit key works; this is b"ledgerdb" read as a big-endian integer.
_LOCK_KEY = int.from_bytes(b"ledgerdb", "big")

Shape = dict[str, frozenset[str]]  # table name → its column names


@dataclass(frozen=True)
class _Found:
    """What a database holds: its revision (None when empty) and whether it is recorded."""

    revision: str | None
    recorded: bool


def head() -> str:
    """The revision this ledger's code needs."""
    revision = _scripts().get_current_head()
    assert revision is not None, "ledger ships at least one migration"
    return revision


async def current(engine: AsyncEngine) -> str | None:
    """The database's revision: the recorded one, else the one tables made before
    migrations match; None when the database has no ledger tables."""
    async with engine.connect() as conn:
        found = await conn.run_sync(_find)
    return found.revision


async def upgrade(engine: AsyncEngine) -> str:
    """Migrate the database to head (adopting tables made before migrations); return head."""
    async with _locked(engine) as conn:
        return await conn.run_sync(_upgrade, _display_url(engine))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Migrate the database down to `revision` ("base" drops every ledger table)."""
    async with _locked(engine) as conn:
        await conn.run_sync(_downgrade, revision)


async def check(engine: AsyncEngine) -> None:
    """Return if the database is at head, else raise StorageError saying what to run."""
    async with engine.connect() as conn:
        found = await conn.run_sync(_find)
    if found.revision is None:
        raise StorageError(
            f"database has no schema yet, this ledger needs {head()}: "
            f"run `ledger db upgrade --db-url {_display_url(engine)}`"
        )
    if found.revision != head():
        _refuse(found, _display_url(engine))


async def prepare(engine: AsyncEngine, *, auto_upgrade: bool) -> None:
    """Make the database ready at start-up, or raise StorageError with one line.

    An empty database is migrated to head; one behind head only with `auto_upgrade`
    (else the operator runs `ledger db upgrade`); one ahead of head is refused.
    """
    async with _locked(engine) as conn:
        await conn.run_sync(_prepare, auto_upgrade, _display_url(engine))


@asynccontextmanager
async def _locked(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        elif conn.dialect.name == "sqlite":
            # pysqlite would start its transaction only at the first write, and
            # run the DDL before it outside any transaction.
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def _prepare(conn: Connection, auto_upgrade: bool, url: str) -> None:
    found = _find(conn)
    if found.revision is not None and found.revision != head() and not auto_upgrade:
        _refuse(found, url)
    _migrate(conn, found, url)


def _upgrade(conn: Connection, url: str) -> str:
    _migrate(conn, _find(conn), url)
    return head()


def _downgrade(conn: Connection, revision: str) -> None:
    try:
        command.downgrade(_config(conn), revision)
    except CommandError as exc:
        raise StorageError(f"cannot downgrade to {revision}: {exc}") from exc


def _migrate(conn: Connection, found: _Found, url: str) -> None:
    target = head()
    if found.recorded and found.revision == target:
        return
    if found.revision is not None and found.revision not in _known():
        _refuse(found, url)
    if found.revision is not None and not found.recorded:
        log.info("adopting the tables made before migrations as revision %s", found.revision)
        command.stamp(_config(conn), found.revision)
    if found.revision != target:
        log.info("migrating the database schema from %s to %s", found.revision or "empty", target)
        command.upgrade(_config(conn), target)


def _refuse(found: _Found, url: str) -> None:
    """Raise the one line that says why the database cannot be used as it is."""
    assert found.revision is not None
    if found.revision not in _known():
        raise StorageError(
            f"database schema is at revision {found.revision}, which this ledger does not "
            f"know (a newer ledger migrated it; this one needs {head()}): run a newer ledger"
        )
    at = found.revision if found.recorded else f"{found.revision} (made before migrations)"
    raise StorageError(
        f"database schema is at revision {at}, this ledger needs {head()}: "
        f"run `ledger db upgrade --db-url {url}`"
    )


def _find(conn: Connection) -> _Found:
    inspector = inspect(conn)
    names = set(inspector.get_table_names())
    if _VERSION_TABLE in names:
        recorded = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
        if len(recorded) > 1:
            raise StorageError(f"database records several schema revisions: {sorted(recorded)}")
        if recorded:
            return _Found(recorded[0], recorded=True)
    if not names - {_VERSION_TABLE}:
        return _Found(None, recorded=False)
    known = {table for shape in _shapes().values() for table in shape}
    present = {
        table: frozenset(column["name"] for column in inspector.get_columns(table))
        for table in names & known
    }
    if not present:
        return _Found(None, recorded=False)
    for revision, shape in _shapes().items():
        if shape == present:
            return _Found(revision, recorded=False)
    raise StorageError(
        "database has ledger tables but no schema revision, and they match no released "
        f"schema ({', '.join(sorted(present))}): restore a backup or start on an empty database"
    )


@functools.cache
def _shapes() -> dict[str, Shape]:
    """Each revision's tables and columns, oldest first, read off a scratch in-memory
    SQLite database migrated one revision at a time."""
    scratch = create_engine("sqlite://")
    shapes: dict[str, Shape] = {}
    try:
        with scratch.begin() as conn:
            for script in reversed(list(_scripts().walk_revisions())):
                command.upgrade(_config(conn), script.revision)
                inspector = inspect(conn)
                shapes[script.revision] = {
                    table: frozenset(column["name"] for column in inspector.get_columns(table))
                    for table in inspector.get_table_names()
                    if table != _VERSION_TABLE
                }
    finally:
        scratch.dispose()
    return shapes


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(None))


def _config(conn: Connection | None) -> Config:
    config = Config()
    # Config values go through configparser interpolation, where % is special.
    config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = conn
    return config


def _display_url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=True)
