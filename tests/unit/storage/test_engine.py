"""The repository boundary: the database's failures leave the stores as StorageError,
and only as that; a wrong statement stays a bug."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import sqlalchemy.exc

from ledger.errors import StorageError
from ledger.storage.creators import CreatorStore
from ledger.storage.engine import DATABASE_FAILED, open_engine, repository, storage_errors
from ledger.storage.manifests import ManifestStore


def _driver_error(kind: type[sqlalchemy.exc.DBAPIError], message: str) -> Exception:
    return kind("SELECT 1", {}, Exception(message))


async def test_a_database_that_cannot_be_opened_is_a_storage_error(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'ledger.db'}")
    try:
        with pytest.raises(StorageError) as creators:
            await CreatorStore(engine).get("creator:a")
        with pytest.raises(StorageError) as batches:
            await ManifestStore(engine).batches()
    finally:
        await engine.dispose()
        # The failed opens leave aiosqlite connection objects behind; finalized by a
        # later collection, after this test's event loop has closed, their worker
        # thread calls that closed loop and the next test fails (1 run in 4).
        gc.collect()
    assert creators.value.message == batches.value.message == DATABASE_FAILED
    assert isinstance(creators.value.__cause__, sqlalchemy.exc.OperationalError)


def test_a_refused_connection_is_the_database_failing() -> None:
    with pytest.raises(StorageError, match=DATABASE_FAILED), storage_errors():
        raise ConnectionRefusedError("connection refused")


@pytest.mark.parametrize("bug", [sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.IntegrityError,
                                 sqlalchemy.exc.DataError])
def test_a_wrong_statement_is_not_wrapped(bug: type[sqlalchemy.exc.DBAPIError]) -> None:
    with pytest.raises(bug), storage_errors():
        raise _driver_error(bug, "syntax error")


def test_a_described_write_reports_any_database_error_with_its_reason() -> None:
    with pytest.raises(StorageError) as info, storage_errors("could not store manifests"):
        raise _driver_error(sqlalchemy.exc.IntegrityError, "UNIQUE failed\nmore")
    assert info.value.message == "could not store manifests: UNIQUE failed"


async def test_repository_guards_public_coroutines_only() -> None:
    @repository
    class Store:
        async def read(self) -> None:
            raise _driver_error(sqlalchemy.exc.OperationalError, "disk I/O error")

        async def _inner(self) -> None:
            raise _driver_error(sqlalchemy.exc.OperationalError, "disk I/O error")

        def close(self) -> None:
            raise OSError("closing")

    store = Store()
    with pytest.raises(StorageError, match=DATABASE_FAILED):
        await store.read()
    with pytest.raises(sqlalchemy.exc.OperationalError):
        await store._inner()
    with pytest.raises(OSError):
        store.close()
    assert Store.read.__name__ == "read"
