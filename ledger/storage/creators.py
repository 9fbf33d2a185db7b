"""Creators, how each id was verified, and their signing and recovery keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.core.creators import KeyState
from ledger.core.records import NewCreatorRecord
from ledger.errors import ValidationError
from ledger.storage.creator_records import insert_record
from ledger.storage.engine import repository
from ledger.storage.models import CreatorKeyRow, CreatorRow

SIGNING = "signing"
RECOVERY = "recovery"


@dataclass(frozen=True)
class CreatorKey:
    """One public key of a creator; `revoked_at` None while it is valid."""

    public_key: str
    added_at: int
    revoked_at: int | None
    role: str = SIGNING

    def valid_at(self, when: int) -> bool:
        """Whether the key could sign at time `when` (ms)."""
        return self.added_at <= when and (self.revoked_at is None or when < self.revoked_at)


@dataclass(frozen=True)
class Creator:
    """A registered creator: how its id was verified (`verification`, one of
    ``key``/``domain``/``operator``, with a human-readable `detail`) and every key
    it ever had. Unverified (`verified_at` None) creators' manifests are refused."""

    id: str
    registered_at: int
    verification: str
    verified_at: int | None
    detail: str | None
    keys: tuple[CreatorKey, ...]

    @property
    def verified(self) -> bool:
        """Whether the id is bound to its holder, so its manifests are accepted."""
        return self.verified_at is not None

    def can_sign(self, public_key: str, when: int) -> bool:
        """Whether `public_key` is a signing key of this creator valid at `when`."""
        return any(
            k.public_key == public_key and k.role == SIGNING and k.valid_at(when)
            for k in self.keys
        )

    def key_state(self) -> KeyState:
        """The keys as the action rules (`ledger.core.creators`) need them."""
        current = [k for k in self.keys if k.revoked_at is None]
        recovery = [k.public_key for k in current if k.role == RECOVERY]
        return KeyState(
            signing=frozenset(k.public_key for k in current if k.role == SIGNING),
            recovery=recovery[0] if recovery else None,
            used=frozenset(k.public_key for k in self.keys),
        )


@dataclass(frozen=True)
class Verification:
    """How a new creator's id was verified; `verified_at` None while it waits."""

    method: str
    verified_at: int | None
    detail: str


@repository
class CreatorStore:
    """Repository of creators and keys.

    Each signed action is written with its record (``record``, stored in
    ``creator_records`` by `ledger.storage.creator_records.insert_record`) in one
    transaction: the action applies and its record is kept, or neither.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, creator_id: str) -> Creator | None:
        """The creator with every key it ever had, or None for an unknown creator."""
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(select(CreatorRow).where(CreatorRow.id == creator_id))
            ).first()
            if found is None:
                return None
            rows = await conn.execute(
                select(
                    CreatorKeyRow.public_key,
                    CreatorKeyRow.added_at,
                    CreatorKeyRow.revoked_at,
                    CreatorKeyRow.role,
                )
                .where(CreatorKeyRow.creator_id == creator_id)
                .order_by(CreatorKeyRow.id)
            )
            keys = tuple(CreatorKey(r.public_key, r.added_at, r.revoked_at, r.role) for r in rows)
        return Creator(
            id=creator_id,
            registered_at=found.registered_at,
            verification=found.verification,
            verified_at=found.verified_at,
            detail=found.verification_detail,
            keys=keys,
        )

    async def register(
        self,
        creator_id: str,
        keys: Sequence[str],
        recovery_key: str,
        verification: Verification,
        now: int,
        *,
        record: NewCreatorRecord,
    ) -> bool:
        """Create the creator with signing `keys` and `recovery_key`; False if the id
        is taken already."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    insert(CreatorRow).values(
                        id=creator_id,
                        registered_at=now,
                        verification=verification.method,
                        verified_at=verification.verified_at,
                        verification_detail=verification.detail,
                    )
                )
                await _add(conn, creator_id, keys, now)
                await _add(conn, creator_id, [recovery_key], now, role=RECOVERY)
                await insert_record(conn, creator_id, record, now)
        except IntegrityError:
            return False
        return True

    async def add_key(
        self,
        creator_id: str,
        key: str,
        now: int,
        *,
        authorised_by: Sequence[str],
        record: NewCreatorRecord,
    ) -> None:
        """Add a signing key, if one of `authorised_by` is still a valid key of the
        creator when the write happens (a recovery that just ran revoked the
        thief's key). A key once revoked can never return (the unique constraint)."""
        try:
            async with self._engine.begin() as conn:
                still = await conn.execute(
                    select(CreatorKeyRow.id).where(
                        CreatorKeyRow.creator_id == creator_id,
                        CreatorKeyRow.public_key.in_(authorised_by),
                        CreatorKeyRow.revoked_at.is_(None),
                    )
                )
                if still.first() is None:
                    raise ValidationError(
                        "the keys that signed this were revoked meanwhile", field="signatures"
                    )
                await _add(conn, creator_id, [key], now)
                await insert_record(conn, creator_id, record, now)
        except IntegrityError as exc:
            raise ValidationError("key was already added to this creator", field="key") from exc

    async def revoke_key(
        self, creator_id: str, key: str, now: int, *, record: NewCreatorRecord
    ) -> bool:
        """Revoke a signing key from `now` on; False, storing no record, if it was not
        a valid one."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(CreatorKeyRow)
                .where(
                    CreatorKeyRow.creator_id == creator_id,
                    CreatorKeyRow.public_key == key,
                    CreatorKeyRow.role == SIGNING,
                    CreatorKeyRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            if result.rowcount == 1:
                await insert_record(conn, creator_id, record, now)
        return result.rowcount == 1

    async def recover(
        self,
        creator_id: str,
        keys: Sequence[str],
        recovery_key: str,
        now: int,
        *,
        record: NewCreatorRecord,
    ) -> None:
        """Revoke every signing key, add `keys`, and make `recovery_key` the recovery
        key (retiring the current one if it differs), in one transaction."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(CreatorKeyRow)
                    .where(
                        CreatorKeyRow.creator_id == creator_id,
                        CreatorKeyRow.revoked_at.is_(None),
                        (CreatorKeyRow.role == SIGNING)
                        | (CreatorKeyRow.public_key != recovery_key),
                    )
                    .values(revoked_at=now)
                )
                await _add(conn, creator_id, keys, now)
                current = await conn.execute(
                    select(CreatorKeyRow.id).where(
                        CreatorKeyRow.creator_id == creator_id,
                        CreatorKeyRow.public_key == recovery_key,
                    )
                )
                if current.first() is None:
                    await _add(conn, creator_id, [recovery_key], now, role=RECOVERY)
                await insert_record(conn, creator_id, record, now)
        except IntegrityError as exc:
            raise ValidationError("lists a key this creator had already", field="keys") from exc

    async def approve(self, creator_id: str, detail: str, now: int) -> bool:
        """Mark an operator-verified creator approved; False if there is no such
        creator waiting for approval."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(CreatorRow)
                .where(CreatorRow.id == creator_id, CreatorRow.verified_at.is_(None))
                .values(verified_at=now, verification_detail=detail)
            )
        return result.rowcount == 1

    async def reject(self, creator_id: str) -> bool:
        """Delete a creator waiting for approval (freeing its id); False if there is
        no such creator. Verified creators are never deleted: their manifests name them."""
        async with self._engine.begin() as conn:
            pending = await conn.execute(
                select(CreatorRow.id).where(
                    CreatorRow.id == creator_id, CreatorRow.verified_at.is_(None)
                )
            )
            if pending.first() is None:
                return False
            await conn.execute(delete(CreatorKeyRow).where(CreatorKeyRow.creator_id == creator_id))
            await conn.execute(delete(CreatorRow).where(CreatorRow.id == creator_id))
        return True


async def _add(
    conn: AsyncConnection, creator_id: str, keys: Sequence[str], now: int, *, role: str = SIGNING
) -> None:
    if keys:
        await conn.execute(
            insert(CreatorKeyRow),
            [
                {"creator_id": creator_id, "public_key": k, "added_at": now, "role": role}
                for k in keys
            ],
        )
