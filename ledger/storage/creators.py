"""Creators and their signing keys, with rotation and permanent revocation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.errors import ValidationError
from ledger.storage.models import CreatorKeyRow, CreatorRow


@dataclass(frozen=True)
class CreatorKey:
    """One public key of a creator; `revoked_at` None while it is valid."""

    public_key: str
    added_at: int
    revoked_at: int | None

    def valid_at(self, when: int) -> bool:
        """Whether the key could sign at time `when` (ms)."""
        return self.added_at <= when and (self.revoked_at is None or when < self.revoked_at)


class CreatorStore:
    """Repository of creators and keys."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def keys(self, creator_id: str) -> list[CreatorKey] | None:
        """Every key the creator ever had, or None for an unknown creator."""
        async with self._engine.connect() as conn:
            known = await conn.execute(select(CreatorRow.id).where(CreatorRow.id == creator_id))
            if known.first() is None:
                return None
            rows = await conn.execute(
                select(CreatorKeyRow.public_key, CreatorKeyRow.added_at, CreatorKeyRow.revoked_at)
                .where(CreatorKeyRow.creator_id == creator_id)
                .order_by(CreatorKeyRow.id)
            )
            return [CreatorKey(r.public_key, r.added_at, r.revoked_at) for r in rows]

    async def register(self, creator_id: str, keys: Sequence[str], now: int) -> bool:
        """Create the creator with `keys`; False if the id is taken already."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(CreatorRow).values(id=creator_id, registered_at=now))
                await conn.execute(
                    insert(CreatorKeyRow),
                    [{"creator_id": creator_id, "public_key": k, "added_at": now} for k in keys],
                )
        except IntegrityError:
            return False
        return True

    async def add_key(self, creator_id: str, key: str, now: int) -> None:
        """Add a key. A key once revoked can never return (a replayed rotation can't revive it)."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(CreatorKeyRow).values(
                        creator_id=creator_id, public_key=key, added_at=now
                    )
                )
        except IntegrityError as exc:
            raise ValidationError("key was already added to this creator", field="key") from exc

    async def revoke_key(self, creator_id: str, key: str, now: int) -> bool:
        """Revoke a key from `now` on; False if it was not a valid key."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(CreatorKeyRow)
                .where(
                    CreatorKeyRow.creator_id == creator_id,
                    CreatorKeyRow.public_key == key,
                    CreatorKeyRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        return result.rowcount == 1
