"""Durable documents of the chain sender's transactions (its journal's storage)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.errors import StorageError
from ledger.storage.leases import Fence, check_fence
from ledger.storage.models import ChainTxRow


class TxDocStore:
    """Transaction documents keyed by purpose; each write is committed before it returns."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def put(
        self, key: str, sender: str, nonce: int, status: str, document: str,
        *, fence: Fence | None = None,
    ) -> None:
        """Insert or replace the document of `key`; with `fence`, only while it holds
        (LeaseLostError otherwise, and nothing is written)."""
        stmt = self._insert(ChainTxRow).values(
            key=key, sender=sender, nonce=nonce, status=status, document=document
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"sender": sender, "nonce": nonce, "status": status, "document": document},
        )
        try:
            async with self._engine.begin() as conn:
                if fence is not None:
                    await check_fence(conn, fence)
                await conn.execute(stmt)
        except SQLAlchemyError as exc:
            raise StorageError(f"could not journal transaction {key}: {exc}") from exc

    async def get(self, key: str) -> str | None:
        """The document of `key`, or None."""
        async with self._engine.connect() as conn:
            stmt = select(ChainTxRow.document).where(ChainTxRow.key == key)
            return (await conn.execute(stmt)).scalar()

    async def by_status(self, sender: str, statuses: Sequence[str]) -> list[str]:
        """Documents of `sender` in one of `statuses`, in nonce order."""
        stmt = (
            select(ChainTxRow.document)
            .where(ChainTxRow.sender == sender, ChainTxRow.status.in_(statuses))
            .order_by(ChainTxRow.nonce)
        )
        async with self._engine.connect() as conn:
            return list((await conn.execute(stmt)).scalars())

    async def max_nonce(self, sender: str) -> int | None:
        """The highest nonce journaled for `sender`."""
        stmt = select(func.max(ChainTxRow.nonce)).where(ChainTxRow.sender == sender)
        async with self._engine.connect() as conn:
            return (await conn.execute(stmt)).scalar()

    async def forget_sender(self, sender: str) -> None:
        """Delete every document of `sender`: only for a chain that was reset."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(ChainTxRow).where(ChainTxRow.sender == sender))
