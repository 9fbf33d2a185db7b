"""Announcing events: the one way any part of the service tells subscribers something.

**How to announce** (Tasks E and F: statement intake, usage refusals)::

    await ctx.events.announce(conn, "status.changed", {
        "manifestDigest": digest.hex(), "assetIds": [...], "creatorId": creator,
        "statement": statement_digest.hex(), "statementType": "revoke",
        "state": "notice", "effectiveAt": effective_ms,
    })

* ``conn``: the `AsyncConnection` of the transaction that stores the fact, so the
  event is stored if and only if the fact is (the outbox); ``None`` stores it in a
  transaction of its own right after (for facts with no row, like a refused usage
  event). Storage code that holds the transaction itself can call
  `ledger.storage.events.insert_events(conn, [make_event(...)])` instead.
* ``type``: one of `ledger.core.events.EVENT_TYPES`.
* ``data``: JSON values. ``creatorId``, ``buyer`` (0x address) and ``manifestDigest``
  (0x and hex) are what subscriptions filter on: include whichever the fact has.
* ``key`` (optional): names the fact; announcing the same type and key again is a
  no-op, so an announcement repeated after a crash is stored and sent once. The
  default key is the data itself.

Announcing only writes a row: delivery (`ledger.workers.webhooks`) happens apart,
so a slow or failing receiver never slows the caller. `manifest.anchored` and
`settlement.paid` are announced here (`FactAnnouncer`), from the database, after
the fact is final; `deposit.leaving` when the leader's withdrawal watch sees a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.clock import now_ms
from ledger.app.withdrawals import Withdrawing
from ledger.core.events import (
    DEPOSIT_LEAVING,
    MANIFEST_ANCHORED,
    SETTLEMENT_PAID,
    Filters,
    Principal,
    make_event,
)
from ledger.core.hashing import to_hex
from ledger.errors import ValidationError
from ledger.storage.event_sources import EventSources
from ledger.storage.events import EventStore, insert_events

log = logging.getLogger(__name__)

#: The most events one feed read returns.
FEED_LIMIT_MAX = 1_000

_ANCHORED_MARK = "events.anchored-batch"
_SETTLED_MARK = "events.settlement"


class Announcer:
    """Stores events in the outbox and wakes the local delivery worker."""

    def __init__(self, store: EventStore, *, clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []

    def listen(self, wake: Callable[[], None]) -> None:
        """Call `wake` after each announcement (a worker in this process polls less)."""
        self._listeners.append(wake)

    async def announce(self, conn: AsyncConnection | None, type: str,
                       data: Mapping[str, Any], *, key: str | None = None) -> str:
        """Store the event of `type` with `data` in `conn`'s transaction (None: in one of
        its own); its id. See the module docstring."""
        event = make_event(type, data, self._clock(), key=key)
        if conn is None:
            await self._store.add([event])
        else:
            await insert_events(conn, [event])
        for wake in self._listeners:
            wake()
        return event.id

    async def feed(self, after: str | None, limit: str | None, filters: Filters,
                   principal: Principal | None = None) -> dict[str, Any]:
        """The pull feed: events after cursor `after` (from the start if None) that
        `filters` want (within `principal`'s scope when given; None: the operator's
        feed), and the cursor to ask from next."""
        start = _cursor(after)
        count = _limit(limit)
        owner = None
        if principal is not None:
            filters, owner = principal.scope(filters), principal.owner
        events = await self._store.feed(start, count, filters, owner=owner)
        return {"events": [e.to_obj() for e in events],
                "next": str(events[-1].seq if events else start)}


class FactAnnouncer:
    """Announces facts that become final in the database after they were stored:
    anchored manifests (`manifest.anchored`) and paid settlements (`settlement.paid`).

    Each kind keeps a mark (the last batch or settlement announced) in the
    transaction that stores its events, and the events' ids are derived from the
    fact, so a crash at any instant neither loses nor repeats one.
    """

    def __init__(self, store: EventStore, sources: EventSources, *, chain_id: int,
                 clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._sources = sources
        self._chain_id = chain_id
        self._clock = clock

    async def step(self) -> int:
        """Announce what became final since the marks; how many events were stored."""
        batch_mark = await self._store.mark(_ANCHORED_MARK)
        settled_mark = await self._store.mark(_SETTLED_MARK)
        if batch_mark is None or settled_mark is None:
            # The first run on this database: start at what is final now, for good.
            batch_start, settled_start = await self._sources.starting_points()
            if batch_mark is None:
                batch_mark = batch_start
                await self._store.add([], mark=(_ANCHORED_MARK, batch_mark))
            if settled_mark is None:
                settled_mark = settled_start
                await self._store.add([], mark=(_SETTLED_MARK, settled_mark))
        return await self._anchored(batch_mark) + await self._settled(settled_mark)

    async def _anchored(self, mark: int) -> int:
        added = 0
        while (batch := await self._sources.next_batch(mark)) is not None:
            now = self._clock()
            events = [make_event(MANIFEST_ANCHORED, {
                "manifestDigest": to_hex(digest), "creatorId": creator, "batch": batch.number,
                "root": to_hex(batch.root), "chainId": self._chain_id,
                "txHash": to_hex(batch.tx_hash), "blockNumber": batch.block_number,
                "blockTimestamp": batch.block_timestamp,
            }, now, key=f"{to_hex(digest)}:{batch.number}") for digest, creator in batch.manifests]
            added += await self._store.add(events, mark=(_ANCHORED_MARK, batch.number))
            mark = batch.number
        return added

    async def _settled(self, mark: int) -> int:
        shares, last = await self._sources.settled(mark, 500)
        if last == mark:
            return 0
        now = self._clock()
        events = [make_event(SETTLEMENT_PAID, {
            "settlementId": s.settlement_id, "batch": s.batch_number, "buyer": s.buyer,
            "token": s.token, "creatorId": s.creator_id, "units": s.units,
            "amount": str(s.amount), "chainId": self._chain_id, "txHash": to_hex(s.tx_hash),
        }, now, key=f"{s.settlement_id}:{s.creator_id}") for s in shares]
        return await self._store.add(events, mark=(_SETTLED_MARK, last))


    async def deposit_leaving(self, request: Withdrawing) -> None:
        """Announce a buyer's withdrawal request (`deposit.leaving`), once per request."""
        event = make_event(DEPOSIT_LEAVING, {
            "buyer": request.buyer.lower(), "token": request.token,
            "amount": str(request.amount), "withdrawableAt": request.withdrawable_at,
            "lapsesAt": request.lapses_at, "chainId": self._chain_id,
        }, self._clock(), key=f"{request.buyer}:{request.token}:{request.withdrawable_at}")
        await self._store.add([event])


def _cursor(value: str | None) -> int:
    if value is None or value == "":
        return 0
    if not value.isdigit() or len(value) > 18:
        raise ValidationError("must be a cursor from an earlier answer's next", field="after")
    return int(value)


def _limit(value: str | None) -> int:
    if value is None:
        return 100
    if not value.isdigit() or not 1 <= int(value) <= FEED_LIMIT_MAX:
        raise ValidationError(f"must be 1 to {FEED_LIMIT_MAX}", field="limit")
    return int(value)
