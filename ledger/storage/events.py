"""The event outbox, webhook subscriptions and their delivery state (issue 17).

Events are read in `seq` order by the pull feed and by each subscription's cursor.
On PostgreSQL concurrent transactions could commit their events out of `seq` order,
and a reader past a later seq would skip an earlier one committed after it, so
every insert first takes a transaction-level advisory lock: announcing
transactions commit one at a time, in `seq` order (SQLite writes one at a time anyway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledger.core.events import (
    ASSET_STATUS_TYPES,
    DeadLetter,
    Filters,
    NewEvent,
    StoredEvent,
    Subject,
    Subscription,
)
from ledger.core.hashing import checksum_address
from ledger.storage.engine import repository, storage_errors
from ledger.storage.models import (
    EventRow,
    MetaRow,
    UsageEventRow,
    WebhookDeadLetterRow,
    WebhookRow,
)

#: Any constant naming the outbox's lock (schema migrations use another).
_LOCK_KEY = 0x6C65_6476_6E74  # "ledvnt"

_EVENT_COLUMNS = (EventRow.seq, EventRow.id, EventRow.type, EventRow.created_at, EventRow.body)
_WEBHOOK_COLUMNS = tuple(WebhookRow.__table__.c)


async def insert_events(conn: AsyncConnection, events: Sequence[NewEvent]) -> int:
    """Store `events` in the caller's transaction, skipping ids stored already; how
    many were new."""
    if not events:
        return 0
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    dialect: Any = postgresql if postgres else sqlite
    stmt = dialect.insert(EventRow).on_conflict_do_nothing(index_elements=["id"])
    result = await conn.execute(stmt, [_event_values(e) for e in events])
    return int(result.rowcount or 0)


async def set_mark(conn: AsyncConnection, name: str, value: int) -> None:
    """Record how far the announcer named `name` got, in the caller's transaction."""
    postgres = conn.dialect.name == "postgresql"
    dialect: Any = postgresql if postgres else sqlite
    stmt = dialect.insert(MetaRow).values(key=name, value=str(value))
    await conn.execute(stmt.on_conflict_do_update(index_elements=["key"],
                                                  set_={"value": str(value)}))


@dataclass(frozen=True)
class Backlog:
    """What the outbox holds undelivered (the webhook metrics): `depth` events after the
    slowest enabled subscription's cursor, the oldest announced at `oldest_at` (ms; None
    when there is none), and `dead` dead letters not redelivered."""

    depth: int
    oldest_at: int | None
    dead: int


def _event_values(event: NewEvent) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "created_at": event.created_at,
            "creator_id": event.subject.creator_id, "buyer": event.subject.buyer,
            "manifest_digest": event.subject.manifest_digest, "body": event.body}


@repository
class EventStore:
    """Repository of events, subscriptions, their cursors and dead letters."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- the outbox -------------------------------------------------------------------

    async def add(self, events: Sequence[NewEvent], *, mark: tuple[str, int] | None = None
                  ) -> int:
        """Store `events` (and the announcer's `mark`) in one transaction; how many
        were new."""
        with storage_errors("could not store events"):
            async with self._engine.begin() as conn:
                added = await insert_events(conn, events)
                if mark is not None:
                    await set_mark(conn, *mark)
        return added

    async def mark(self, name: str) -> int | None:
        """How far the announcer `name` got, or None before its first run."""
        stmt = select(MetaRow.value).where(MetaRow.key == name)
        async with self._engine.connect() as conn:
            value = (await conn.execute(stmt)).scalar()
        return None if value is None else int(value)

    async def last_seq(self) -> int:
        """The newest event's seq (0 while none)."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.max(EventRow.seq)))).scalar() or 0)

    async def feed(self, after: int, limit: int, filters: Filters, *,
                   owner: str | None = None) -> list[StoredEvent]:
        """Up to `limit` events after seq `after` that `filters` want, oldest first; read
        by `owner` (`ledger.core.events.owner_of`), within its scope."""
        stmt = (select(*_EVENT_COLUMNS).where(EventRow.seq > after, *_wanted(filters, owner))
                .order_by(EventRow.seq).limit(limit))
        async with self._engine.connect() as conn:
            return [_stored(row) for row in await conn.execute(stmt)]

    async def window(self, sub: Subscription, span: int, limit: int) -> list[StoredEvent]:
        """Up to `limit` events `sub` wants among the `span` seqs after its cursor."""
        stmt = (select(*_EVENT_COLUMNS)
                .where(EventRow.seq > sub.cursor, EventRow.seq <= sub.cursor + span,
                       *_wanted(sub.filters, sub.owner))
                .order_by(EventRow.seq).limit(limit))
        async with self._engine.connect() as conn:
            return [_stored(row) for row in await conn.execute(stmt)]

    async def backlog(self) -> Backlog:
        """What is undelivered now (see `Backlog`)."""
        w, d = WebhookRow, WebhookDeadLetterRow
        async with self._engine.connect() as conn:
            slowest = (await conn.execute(select(func.min(w.cursor))
                                          .where(w.disabled_at.is_(None)))).scalar()
            dead = int((await conn.execute(select(func.count()).select_from(d)
                                           .where(d.delivered_at.is_(None)))).scalar() or 0)
            if slowest is None:
                return Backlog(0, None, dead)
            after = EventRow.seq > slowest
            depth = (await conn.execute(select(func.count()).where(after))).scalar()
            oldest = (await conn.execute(select(EventRow.created_at).where(after)
                                         .order_by(EventRow.seq).limit(1))).scalar()
        return Backlog(int(depth or 0), oldest, dead)

    # -- subscriptions ------------------------------------------------------------------

    async def subscribe(self, sub: Subscription) -> None:
        """Store a new subscription (its cursor: where it starts)."""
        subject = sub.filters.subject
        types = " ".join(sorted(sub.filters.types)) if sub.filters.types is not None else "*"
        values = {"id": sub.id, "url": sub.url, "types": types,
                  "creator_id": subject.creator_id, "buyer": subject.buyer,
                  "manifest_digest": subject.manifest_digest, "secret": sub.secret,
                  "created_at": sub.created_at, "cursor": sub.cursor, "owner": sub.owner}
        await self._write(insert(WebhookRow).values(values), "the subscription")

    async def get(self, webhook_id: str) -> Subscription | None:
        """The subscription `webhook_id`, or None."""
        stmt = select(*_WEBHOOK_COLUMNS).where(WebhookRow.id == webhook_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return _subscription(row) if row else None

    async def subscriptions(self, owner: str | None = None) -> list[Subscription]:
        """Every subscription (of `owner` when given), oldest first."""
        stmt = select(*_WEBHOOK_COLUMNS).order_by(WebhookRow.created_at, WebhookRow.id)
        if owner is not None:
            stmt = stmt.where(WebhookRow.owner == owner)
        async with self._engine.connect() as conn:
            return [_subscription(row) for row in await conn.execute(stmt)]

    async def unsubscribe(self, webhook_id: str) -> bool:
        """Delete the subscription and its dead letters; False if there was none."""
        with storage_errors("could not delete the subscription"):
            async with self._engine.begin() as conn:
                await conn.execute(delete(WebhookDeadLetterRow)
                                   .where(WebhookDeadLetterRow.webhook_id == webhook_id))
                result = await conn.execute(delete(WebhookRow)
                                            .where(WebhookRow.id == webhook_id))
        return bool(result.rowcount)

    async def due(self, now: int, last_seq: int) -> list[Subscription]:
        """Enabled subscriptions with events after their cursor, whose next attempt is due."""
        w = WebhookRow
        stmt = select(*_WEBHOOK_COLUMNS).where(w.disabled_at.is_(None), w.next_attempt_at <= now,
                               w.cursor < last_seq)
        async with self._engine.connect() as conn:
            return [_subscription(row) for row in await conn.execute(stmt)]

    # -- delivery -----------------------------------------------------------------------

    async def advance(self, webhook_id: str, cursor: int) -> None:
        """Everything up to `cursor` is done for the subscription: reset its failures."""
        w = WebhookRow
        stmt = (update(w).where(w.id == webhook_id, w.cursor < cursor)
                .values(cursor=cursor, attempts=0, first_failed_at=None, next_attempt_at=0,
                        last_error=None))
        await self._write(stmt, "the delivery cursor")

    async def failed(self, webhook_id: str, *, attempts: int, first_failed_at: int,
                     next_attempt_at: int, error: str) -> None:
        """The event after the cursor failed again: when to try it next, and why."""
        stmt = (update(WebhookRow).where(WebhookRow.id == webhook_id)
                .values(attempts=attempts, first_failed_at=first_failed_at,
                        next_attempt_at=next_attempt_at, last_error=error[:300]))
        await self._write(stmt, "the delivery state")

    async def disable(self, webhook_id: str, now: int, error: str) -> None:
        """Send the subscription nothing more (its receiver answered 410 Gone)."""
        stmt = (update(WebhookRow).where(WebhookRow.id == webhook_id)
                .values(disabled_at=now, last_error=error[:300]))
        await self._write(stmt, "the subscription")

    async def bury(self, webhook_id: str, event: StoredEvent, *, attempts: int, error: str,
                   now: int) -> None:
        """Dead-letter `event` for the subscription and move its cursor past it."""
        w = WebhookRow
        with storage_errors("could not dead-letter the event"):
            async with self._engine.begin() as conn:
                moved = await conn.execute(
                    update(w).where(w.id == webhook_id, w.cursor < event.seq)
                    .values(cursor=event.seq, attempts=0, first_failed_at=None,
                            next_attempt_at=0, last_error=error[:300]))
                if moved.rowcount:
                    await conn.execute(insert(WebhookDeadLetterRow).values(
                        webhook_id=webhook_id, event_seq=event.seq, attempts=attempts,
                        last_error=error[:300], dead_at=now))

    # -- dead letters -------------------------------------------------------------------

    async def dead_letters(self, webhook_id: str, limit: int) -> list[DeadLetter]:
        """The subscription's dead letters, oldest first."""
        stmt = _dead_query().where(WebhookDeadLetterRow.webhook_id == webhook_id)
        async with self._engine.connect() as conn:
            rows = await conn.execute(stmt.order_by(WebhookDeadLetterRow.event_seq).limit(limit))
            return [_dead_letter(row) for row in rows]

    async def ask_redelivery(self, webhook_id: str, event_id: str, now: int) -> bool:
        """Ask the worker to send a dead letter once more; False if there is none."""
        d = WebhookDeadLetterRow
        seq = select(EventRow.seq).where(EventRow.id == event_id).scalar_subquery()
        stmt = (update(d).where(d.webhook_id == webhook_id, d.event_seq == seq)
                .values(redeliver_at=now, delivered_at=None))
        with storage_errors("could not ask for redelivery"):
            async with self._engine.begin() as conn:
                return bool((await conn.execute(stmt)).rowcount)

    async def redeliveries(self, now: int, limit: int
                           ) -> list[tuple[Subscription, DeadLetter]]:
        """Dead letters whose redelivery was asked for, with their enabled subscription."""
        d = WebhookDeadLetterRow
        stmt = (select(*_WEBHOOK_COLUMNS, *_dead_columns())
                .join(d, d.webhook_id == WebhookRow.id).join(EventRow, EventRow.seq == d.event_seq)
                .where(d.redeliver_at.is_not(None), d.redeliver_at <= now,
                       WebhookRow.disabled_at.is_(None))
                .order_by(d.redeliver_at).limit(limit))
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(stmt))
        return [(_subscription(row), _dead_letter(row)) for row in rows]

    async def redelivered(self, webhook_id: str, event_seq: int, *, now: int,
                          error: str | None) -> None:
        """A redelivery went (`error` None) or failed: either way it is not asked again."""
        d = WebhookDeadLetterRow
        values: dict[str, Any] = {"redeliver_at": None}
        if error is None:
            values["delivered_at"] = now
        else:
            values.update(attempts=d.attempts + 1, last_error=error[:300])
        stmt = update(d).where(d.webhook_id == webhook_id, d.event_seq == event_seq)
        await self._write(stmt.values(values), "the dead letter")

    async def _write(self, stmt: Any, what: str) -> None:
        with storage_errors(f"could not update {what}"):
            async with self._engine.begin() as conn:
                await conn.execute(stmt)


def _wanted(filters: Filters, owner: str | None) -> list[Any]:
    conditions: list[Any] = []
    if filters.types is not None:
        conditions.append(EventRow.type.in_(sorted(filters.types)))
    subject = filters.subject
    if subject.creator_id is not None:
        conditions.append(EventRow.creator_id == subject.creator_id)
    if subject.buyer is not None:
        named = EventRow.buyer == subject.buyer
        if owner == f"buyer:{subject.buyer}":
            conditions.append(or_(named, _used_by(subject.buyer)))
        else:
            conditions.append(named)
    if subject.manifest_digest is not None:
        conditions.append(EventRow.manifest_digest == subject.manifest_digest)
    return [and_(*conditions)] if conditions else []


def _used_by(buyer: str) -> Any:
    """Status events of manifests with usage of `buyer` stored: a buyer's own scope."""
    used = select(UsageEventRow.manifest_digest).where(
        UsageEventRow.buyer == checksum_address(buyer))
    return and_(EventRow.type.in_(ASSET_STATUS_TYPES), EventRow.manifest_digest.in_(used))


def _stored(row: Row[*tuple[Any, ...]]) -> StoredEvent:
    return StoredEvent(row.seq, row.id, row.type, row.created_at, row.body)


def _subscription(row: Row[*tuple[Any, ...]]) -> Subscription:
    types = None if row.types == "*" else frozenset(row.types.split())
    subject = Subject(row.creator_id, row.buyer, row.manifest_digest)
    return Subscription(
        id=row.id, url=row.url, filters=Filters(types, subject), secret=row.secret,
        created_at=row.created_at, disabled_at=row.disabled_at, cursor=row.cursor,
        attempts=row.attempts, first_failed_at=row.first_failed_at,
        next_attempt_at=row.next_attempt_at, last_error=row.last_error, owner=row.owner,
    )


def _dead_columns() -> tuple[Any, ...]:
    d = WebhookDeadLetterRow
    return (d.webhook_id.label("dead_webhook_id"), d.attempts.label("dead_attempts"),
            d.last_error.label("dead_error"), d.dead_at, d.redeliver_at, d.delivered_at,
            *(column.label(f"event_{column.key}") for column in _EVENT_COLUMNS))


def _dead_query() -> Any:
    d = WebhookDeadLetterRow
    return select(*_dead_columns()).join(EventRow, EventRow.seq == d.event_seq)


def _dead_letter(row: Row[*tuple[Any, ...]]) -> DeadLetter:
    event = StoredEvent(row.event_seq, row.event_id, row.event_type, row.event_created_at,
                        row.event_body)
    return DeadLetter(row.dead_webhook_id, event, row.dead_attempts, row.dead_error,
                      row.dead_at, row.redeliver_at, row.delivered_at)
