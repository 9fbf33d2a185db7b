"""The storage tests' database: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.storage.engine import open_engine
from ledger.storage.schema import upgrade
from tests.pg import ThrowawayPostgres


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database of each kind."""
    if request.param == "postgresql":
        postgres: ThrowawayPostgres = request.getfixturevalue("postgres")
        url = postgres.new_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    made = open_engine(url)
    await upgrade(made)
    yield made
    await made.dispose()
