"""Schema migrations: they make exactly the models' schema, adopt databases made
before them, refuse databases behind or ahead of this ledger, and run once when
replicas start together (SQLite, and PostgreSQL for what only it can show)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.cli.main import main
from ledger.errors import StorageError
from ledger.storage import schema
from ledger.storage.engine import open_engine
from ledger.storage.models import Base
from tests.pg import ThrowawayPostgres

HEAD = "0014"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = open_engine(sqlite_url(tmp_path / "ledger.db"))
    yield made
    await made.dispose()


@pytest.fixture
async def other(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = open_engine(sqlite_url(tmp_path / "other.db"))
    yield made
    await made.dispose()


async def differences(engine: AsyncEngine) -> list[Any]:
    """What autogenerate would change to make the database match the models."""

    def compare(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


async def create_all(engine: AsyncEngine, tables: list[Any] | None = None) -> None:
    """What `create_schema` did before migrations existed."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: Base.metadata.create_all(sync, tables=tables))


async def create_released(engine: AsyncEngine, *, without: str | None = None) -> None:
    """What `create_schema` made before migrations existed: revision 0001's tables
    (the models have moved on since), unversioned, less `without`."""
    await schema.upgrade(engine)
    await schema.downgrade(engine, "0001")
    await execute(engine, "DROP TABLE alembic_version")
    if without is not None:
        await execute(engine, f"DROP TABLE {without}")


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def execute(engine: AsyncEngine, sql: str) -> list[Any]:
    async with engine.begin() as conn:
        result = await conn.execute(text(sql))
        return list(result.all()) if result.returns_rows else []


async def sqlite_ddl(engine: AsyncEngine) -> set[Any]:
    """Each index's DDL byte for byte; each table's as its set of column and constraint
    definitions, since a column a migration added, or a table it rebuilt in batch mode,
    is placed and quoted differently from the way create_all writes them."""
    rows = await execute(
        engine,
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE tbl_name != 'alembic_version'",
    )
    return {
        (kind, name, table, _table_lines(sql) if kind == "table" else sql)
        for kind, name, table, sql in rows
    }


def _table_lines(sql: str) -> frozenset[str]:
    head, _, body = sql.replace('"', "").partition("(")
    # Definitions are separated by the commas outside parentheses.
    parts = re.split(r",(?![^()]*\))", body.rstrip().removesuffix(")"))
    return frozenset({head.strip(), *(" ".join(part.split()) for part in parts)})


# -- SQLite ------------------------------------------------------------------------------


async def test_upgrade_from_empty_makes_the_models_schema(
    engine: AsyncEngine, other: AsyncEngine
) -> None:
    assert await schema.current(engine) is None
    assert await schema.upgrade(engine) == HEAD == schema.head()
    assert await schema.current(engine) == HEAD
    assert await differences(engine) == []
    # Byte for byte the DDL create_all makes, partial indexes' WHERE clauses included,
    # which compare_metadata does not look at.
    await create_all(other)
    assert await sqlite_ddl(engine) == await sqlite_ddl(other)


async def test_downgrade_to_base_and_back(engine: AsyncEngine) -> None:
    await schema.upgrade(engine)
    await schema.downgrade(engine, "0001")
    assert await schema.current(engine) == "0001"
    assert "leases" not in await tables(engine)
    await schema.downgrade(engine, "base")
    assert await tables(engine) == {"alembic_version"}
    assert await schema.current(engine) is None
    assert await schema.upgrade(engine) == HEAD
    assert await differences(engine) == []
    with pytest.raises(StorageError, match="cannot downgrade to 0999"):
        await schema.downgrade(engine, "0999")


async def test_prepare_adopts_a_database_made_by_create_all(engine: AsyncEngine) -> None:
    await create_released(engine)
    await execute(engine, "INSERT INTO creators (id, registered_at) VALUES ('creator:a', 1)")
    assert await schema.current(engine) == "0001"
    await schema.prepare(engine, auto_upgrade=True)
    assert await execute(engine, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert await execute(engine, "SELECT id FROM creators") == [("creator:a",)]
    assert await differences(engine) == []


async def test_prepare_adopts_create_all_at_head_without_upgrading(engine: AsyncEngine) -> None:
    await create_all(engine)
    await schema.prepare(engine, auto_upgrade=False)
    assert await execute(engine, "SELECT version_num FROM alembic_version") == [(HEAD,)]


async def test_prepare_refuses_unversioned_tables_behind_without_writing(
    engine: AsyncEngine,
) -> None:
    await create_released(engine)
    with pytest.raises(StorageError) as caught:
        await schema.prepare(engine, auto_upgrade=False)
    assert str(caught.value) == (
        "database schema is at revision 0001 (made before migrations), this ledger needs "
        f"{HEAD}: run `ledger db upgrade --db-url {engine.url}`"
    )
    assert "alembic_version" not in await tables(engine)


async def test_prepare_refuses_tables_matching_no_revision(engine: AsyncEngine) -> None:
    await create_released(engine, without="usage_holds")
    with pytest.raises(StorageError, match="match no released schema"):
        await schema.prepare(engine, auto_upgrade=True)
    with pytest.raises(StorageError, match="match no released schema"):
        await schema.upgrade(engine)


async def test_prepare_ignores_tables_of_other_applications(engine: AsyncEngine) -> None:
    await execute(engine, "CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)")
    await schema.prepare(engine, auto_upgrade=False)
    assert await schema.current(engine) == HEAD


async def test_prepare_behind_upgrades_only_when_allowed(engine: AsyncEngine) -> None:
    await schema.upgrade(engine)
    await schema.downgrade(engine, "0001")
    with pytest.raises(StorageError) as caught:
        await schema.prepare(engine, auto_upgrade=False)
    assert str(caught.value) == (
        f"database schema is at revision 0001, this ledger needs {HEAD}: "
        f"run `ledger db upgrade --db-url {engine.url}`"
    )
    with pytest.raises(StorageError, match=f"at revision 0001, this ledger needs {HEAD}"):
        await schema.check(engine)
    await schema.prepare(engine, auto_upgrade=True)
    assert await schema.current(engine) == HEAD
    await schema.check(engine)


async def test_prepare_refuses_a_revision_from_a_newer_ledger(engine: AsyncEngine) -> None:
    await schema.upgrade(engine)
    await execute(engine, "UPDATE alembic_version SET version_num = '0999'")
    message = (
        "database schema is at revision 0999, which this ledger does not know "
        f"(a newer ledger migrated it; this one needs {HEAD}): run a newer ledger"
    )
    for auto_upgrade in (True, False):
        with pytest.raises(StorageError) as caught:
            await schema.prepare(engine, auto_upgrade=auto_upgrade)
        assert str(caught.value) == message
    with pytest.raises(StorageError, match="which this ledger does not know"):
        await schema.upgrade(engine)


async def test_check_names_an_empty_database(engine: AsyncEngine) -> None:
    with pytest.raises(StorageError, match=f"database has no schema yet, this ledger needs {HEAD}"):
        await schema.check(engine)


# -- ledger db -----------------------------------------------------------------------


@pytest.fixture
def no_ledger_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("LEDGER_DB_URL", "LEDGER_DATA_DIR", "LEDGER_RPC_URL"):
        monkeypatch.delenv(name, raising=False)
    yield


def test_db_commands_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_ledger_env: None
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["db", "check", *data]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()

    assert main(["db", "upgrade", *data]) == 0
    assert capsys.readouterr().out == f"database schema is at revision {HEAD} (head)\n"
    assert main(["db", "check", *data]) == 0
    assert main(["db", "current", *data]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"{HEAD} (head)"

    url = sqlite_url(tmp_path / "data" / "ledger.db")
    asyncio.run(_downgrade(url, "0001"))
    assert main(["db", "current", "--db-url", url]) == 0
    assert capsys.readouterr().out == f"0001 (this ledger needs {HEAD})\n"
    assert main(["db", "check", "--db-url", url]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"ledger: error: database schema is at revision 0001, this ledger needs {HEAD}: "
        f"run `ledger db upgrade --db-url {url}`\n"
    )
    assert main(["db", "upgrade", "--db-url", url]) == 0
    assert main(["db", "check", "--db-url", url]) == 0


def test_db_commands_take_one_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "check", "--db-url", "sqlite+aiosqlite:///x", "--data-dir", "y"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


async def _downgrade(url: str, revision: str) -> None:
    engine = open_engine(url)
    try:
        await schema.downgrade(engine, revision)
    finally:
        await engine.dispose()


# -- PostgreSQL ----------------------------------------------------------------------

PG_CATALOG = {
    "columns": "SELECT table_name, column_name, data_type, character_maximum_length, "
    "is_nullable, column_default FROM information_schema.columns "
    "WHERE table_schema = 'public' AND table_name != 'alembic_version'",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
    "FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
    "AND conrelid::regclass::text != 'alembic_version'",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = 'public' AND tablename != 'alembic_version'",
}


async def pg_catalog(engine: AsyncEngine) -> dict[str, set[Any]]:
    return {name: set(await execute(engine, sql)) for name, sql in PG_CATALOG.items()}


@pytest.fixture
async def pg_engines(postgres: ThrowawayPostgres) -> AsyncIterator[list[AsyncEngine]]:
    """Three engines on one fresh database, as three replicas would have."""
    url = postgres.new_database()
    made = [open_engine(url) for _ in range(3)]
    yield made
    for each in made:
        await each.dispose()


async def test_postgres_upgrade_makes_what_create_all_made(
    postgres: ThrowawayPostgres, pg_engines: list[AsyncEngine]
) -> None:
    engine = pg_engines[0]
    assert await schema.upgrade(engine) == HEAD
    assert await differences(engine) == []
    made = open_engine(postgres.new_database())
    try:
        await create_all(made)
        # Same columns, defaults (sequences), constraint names and partial indexes: an
        # adopted database and a migrated one are interchangeable.
        assert await pg_catalog(engine) == await pg_catalog(made)
    finally:
        await made.dispose()


async def test_postgres_replicas_starting_together_migrate_once(
    pg_engines: list[AsyncEngine],
) -> None:
    # In one process as here, unserialised runs would also trample Alembic's global
    # `op` and `context` proxies and hang; the timeout turns that into a failure.
    async with asyncio.timeout(30):
        await asyncio.gather(*(schema.prepare(e, auto_upgrade=False) for e in pg_engines))
    assert await execute(pg_engines[0], "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert await differences(pg_engines[0]) == []


async def test_postgres_behind_is_refused_at_start(pg_engines: list[AsyncEngine]) -> None:
    engine = pg_engines[0]
    await schema.upgrade(engine)
    await schema.downgrade(engine, "0001")
    with pytest.raises(StorageError, match=rf"at revision 0001, this ledger needs {HEAD}: run `"):
        await schema.prepare(engine, auto_upgrade=False)
    await schema.upgrade(engine)
    await schema.check(engine)
