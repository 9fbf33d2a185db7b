"""The base of the royalty repositories: an engine, the dialect's upsert, and
one-statement writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.storage.engine import storage_errors


class TableStore:
    """Tables reached through one async engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def _write(self, stmt: Any, what: str, params: Any = None) -> None:
        """Run one write in its own transaction; StorageError names ``what`` on failure."""
        with storage_errors(f"could not update {what}"):
            async with self._engine.begin() as conn:
                if params is None:
                    await conn.execute(stmt)
                else:
                    await conn.execute(stmt, params)
