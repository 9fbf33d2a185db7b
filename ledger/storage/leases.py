"""Leases: one leader per role among replicas sharing a database, with fencing.

A lease row names its holder, a fencing token and an expiry on the database's
clock (replicas' clocks may disagree; the database's is the one they share).
The holder renews it; once it has expired anyone may take it, and taking it
raises the token. Every write the leader's role makes that must not come from a
deposed leader (the transaction journal: nothing is signed for broadcast before
it is journaled) runs `check_fence` inside its own transaction, which fails once
the token moved on. On PostgreSQL that statement locks the lease row until the
write commits, so a takeover waits for an in-flight journal write and then sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, and_, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.errors import LeaseLostError, StorageError
from ledger.storage.models import LeaseRow


@dataclass(frozen=True)
class Fence:
    """A held lease: the role, the holder, and the token that proves it is current."""

    name: str
    holder: str
    token: int


def db_now_ms(dialect: str) -> ColumnElement[int]:
    """The database's current time in Unix milliseconds, as an SQL expression."""
    if dialect == "postgresql":
        sql = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    else:
        sql = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    return literal_column(sql, BigInteger())


class LeaseStore:
    """Acquires, renews and releases leases; each call commits before returning."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert

    async def acquire(
        self, name: str, holder: str, ttl_ms: int, held: Fence | None
    ) -> Fence | None:
        """Take or renew lease `name` for `ttl_ms`; the fence now held, or None.

        With `held` (the fence from the last call) the lease is renewed only if its
        token is still that one: a holder that lost the lease, even briefly, must
        start afresh with a new token. Without it the lease is taken when free,
        expired, or held by an earlier instance of the same replica (`holder` is
        ``replica/instance``), with the token raised by one.
        """
        now = db_now_ms(self._dialect)
        try:
            async with self._engine.begin() as conn:
                if held is not None:
                    return await self._renew(conn, held, ttl_ms, now)
                created = await conn.execute(
                    self._insert(LeaseRow)
                    .values(name=name, holder=holder, token=1, expires_at=now + ttl_ms)
                    .on_conflict_do_nothing(index_elements=["name"])
                )
                if created.rowcount == 1:
                    return Fence(name, holder, 1)
                # "replica/instance": a restarted replica takes its own lease back.
                replica = holder.rsplit("/", 1)[0] + "/"
                taken = await conn.execute(
                    update(LeaseRow)
                    .where(
                        LeaseRow.name == name,
                        or_(
                            LeaseRow.expires_at <= now,
                            LeaseRow.holder.startswith(replica, autoescape=True),
                        ),
                    )
                    .values(holder=holder, token=LeaseRow.token + 1, expires_at=now + ttl_ms)
                    .returning(LeaseRow.token)
                )
                token = taken.scalar()
                return None if token is None else Fence(name, holder, int(token))
        except SQLAlchemyError as exc:
            raise StorageError(f"could not take or renew lease {name!r}: {exc}") from exc

    async def _renew(
        self, conn: AsyncConnection, held: Fence, ttl_ms: int, now: ColumnElement[int]
    ) -> Fence | None:
        renewed = await conn.execute(
            update(LeaseRow)
            .where(_is_held(held))
            .values(expires_at=now + ttl_ms)
            .returning(LeaseRow.token)
        )
        return held if renewed.scalar() is not None else None

    async def release(self, fence: Fence) -> None:
        """Give the lease up at once (a clean shutdown), if still held."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(LeaseRow).where(_is_held(fence)).values(expires_at=0)
                )
        except SQLAlchemyError as exc:
            raise StorageError(f"could not release lease {fence.name!r}: {exc}") from exc

    async def holder(self, name: str) -> tuple[str, int, bool] | None:
        """Who holds `name`: (holder, token, still valid), or None if never taken."""
        now = db_now_ms(self._dialect)
        stmt = select(LeaseRow.holder, LeaseRow.token, LeaseRow.expires_at > now).where(
            LeaseRow.name == name
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else (row[0], int(row[1]), bool(row[2]))


async def check_fence(conn: AsyncConnection, fence: Fence) -> None:
    """Fail unless `fence` is still the lease's holder and token, inside `conn`'s transaction.

    Touching the row takes its write lock (PostgreSQL: row lock; SQLite: the
    database write lock) until the caller commits, so no takeover can interleave.
    Expiry alone does not fail the check: until someone else takes the lease,
    nobody else can have written under it.
    """
    result = await conn.execute(
        update(LeaseRow).where(_is_held(fence)).values(token=LeaseRow.token)
    )
    if result.rowcount != 1:
        raise LeaseLostError(
            f"lease {fence.name!r} is no longer held by {fence.holder} with token {fence.token}"
        )


def _is_held(fence: Fence) -> ColumnElement[bool]:
    return and_(
        LeaseRow.name == fence.name,
        LeaseRow.holder == fence.holder,
        LeaseRow.token == fence.token,
    )
