"""Delivering events to subscribers as signed webhooks (Standard Webhooks).

Each subscription is drained in event order, one request at a time: an event is
sent only after every earlier one it wants was delivered or dead-lettered
(per-subscriber ordering). A failed event is retried with exponential backoff and
jitter (honouring ``Retry-After``) for `WebhookSettings.retry_for_s` after its first
failure, then dead-lettered and the cursor moves on. The cursor is stored after
each window of up to 100 deliveries and before each failure is recorded, so a crash
repeats at most a window's deliveries, with the same ``webhook-id`` (at-least-once).
Requests to all subscribers share a bounded pool and each has a timeout, so a slow
receiver holds only its own queue; intake only writes the outbox and never waits
for any of this.

Under ``webhook_urls = "public"`` a subscription's URL is checked again before each
attempt and its host's addresses when the worker connects (`PublicResolver`), so a
name resolving or rebound to a private address is never connected to. Redirects are
not followed. Either is a failed attempt, retried and dead-lettered like any other:
DNS that points somewhere private may be a mistake its owner mends.

One replica delivers: the lease holder (`ledger.run.duties`). It counts every attempt
by outcome and, once a second, reads the outbox's backlog for the gauges
(docs/operations.md, "Metrics"); the other replicas' gauges stay 0, so a sum over
replicas is the leader's value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from standardwebhooks import Webhook

from ledger.app.clock import now_ms
from ledger.app.webhooks import check_url
from ledger.config import WebhookSettings
from ledger.core.events import StoredEvent, Subscription
from ledger.errors import LedgerError, ValidationError
from ledger.metrics import Metrics
from ledger.storage.events import Backlog, EventStore
from ledger.workers.public_resolver import NotPublicError, PublicResolver
from ledger.workers.tasks import stop_tasks

log = logging.getLogger(__name__)

#: Events read per query of a subscription's queue, and seqs scanned for them.
_BATCH = 100
_SPAN = 10_000
_USER_AGENT = "ledger-webhooks/1"
#: Seconds between reads of the backlog for the gauges.
_BACKLOG_EVERY_S = 1.0
_EMPTY = Backlog(0, None, 0)


@dataclass(frozen=True)
class Outcome:
    """How one delivery attempt ended: `error` None if the receiver took it."""

    error: str | None = None
    #: The receiver answered 410 Gone: it wants nothing more.
    gone: bool = False
    #: Seconds the receiver asked to wait (``Retry-After``), if it did.
    retry_after_s: float | None = None
    #: How the attempt ended, as ``ledger_webhook_deliveries_total`` counts it.
    kind: str = "delivered"


def signed_headers(sub_secret: str, event: StoredEvent, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of `event` sent at `at` with `sub_secret`."""
    signature = Webhook(sub_secret).sign(event.id, at, event.body)
    return {
        "webhook-id": event.id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
    }


def backoff_s(settings: WebhookSettings, attempts: int, rng: random.Random) -> float:
    """Seconds before retry number `attempts`: doubling from `backoff_s` up to
    `backoff_max_s`, of which a random half is jitter (so receivers that failed
    together are not retried together)."""
    delay = min(settings.backoff_max_s, settings.backoff_s * 2 ** min(attempts - 1, 40))
    return float(delay / 2 + rng.uniform(0, delay / 2))


class Dispatcher:
    """Drains every due subscription's queue, and sends the redeliveries asked for."""

    def __init__(self, store: EventStore, settings: WebhookSettings, *,
                 clock: Callable[[], int] = now_ms, rng: random.Random | None = None,
                 metrics: Metrics | None = None,
                 resolver: AbstractResolver | None = None) -> None:
        self._store = store
        #: Resolves receivers' names (None: aiohttp's default, made and closed in `run`).
        self._resolver = resolver
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._woken = asyncio.Event()
        self._running: dict[object, asyncio.Task[None]] = {}
        #: When each piece of work ended, counted in ends (`_ends`), kept while a `step`
        #: that began reading before it is still reading.
        self._ended: dict[object, int] = {}
        self._ends = 0
        self._reading: list[int] = []
        self._session: aiohttp.ClientSession | None = None
        self._metrics = metrics
        #: The outbox's backlog as last read (empty while this replica does not deliver).
        self.backlog = _EMPTY
        if metrics is not None:
            metrics.gauge("ledger_webhook_outbox_depth", "Events after the slowest enabled "
                          "webhook subscription's cursor.", lambda: self.backlog.depth)
            metrics.gauge("ledger_webhook_oldest_undelivered_seconds", "Age of the oldest "
                          "of those events (0 when there is none).", self.oldest_age_s)
            metrics.gauge("ledger_webhook_dead_letters", "Dead letters not redelivered.",
                          lambda: self.backlog.dead)

    def oldest_age_s(self) -> float:
        """Seconds since the oldest undelivered event was announced (0: none)."""
        oldest = self.backlog.oldest_at
        return 0.0 if oldest is None else max(0.0, (self._clock() - oldest) / 1000)

    def wake(self) -> None:
        """Look for new events now rather than at the next poll."""
        self._woken.set()

    async def run(self) -> None:
        """Deliver for ever; cancel to stop (deliveries in flight are abandoned and
        sent again by whoever delivers next)."""
        resolver = self._resolver or aiohttp.DefaultResolver()
        if self._settings.urls == "public":
            resolver = PublicResolver(resolver)
        connector = aiohttp.TCPConnector(limit=self._settings.concurrency, resolver=resolver)
        read_at = 0.0
        async with aiohttp.ClientSession(connector=connector) as self._session:
            try:
                while True:
                    try:
                        await self.step()
                        if time.monotonic() - read_at >= _BACKLOG_EVERY_S:
                            self.backlog = await self._store.backlog()
                            read_at = time.monotonic()
                    except LedgerError as exc:
                        log.warning("webhooks: %s", exc)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._settings.poll_interval_s):
                            await self._woken.wait()
                    self._woken.clear()
            finally:
                self.backlog = _EMPTY
                await stop_tasks(list(self._running.values()))
                if self._resolver is None:
                    await resolver.close()

    async def step(self) -> None:
        """Start draining each due subscription, and each asked redelivery, that is not
        under way already.

        What a read returns may predate the progress stored by work that ended during
        the read; that work is skipped this round (its end woke the loop, so the next
        step reads again), or its events would be sent twice. Each read is judged by
        the ends since it began, so two steps at once (a test's beside the loop's) do
        not undo each other's judgement."""
        now = self._clock()
        with self._reading_from() as began:
            last = await self._store.last_seq()
            for sub in await self._store.due(now, last):
                self._start(sub.id, self._drain(sub, last), began)
        with self._reading_from() as began:
            for sub, letter in await self._store.redeliveries(now, _BATCH):
                self._start(("again", sub.id, letter.event.seq),
                            self._redeliver(sub, letter.event), began)

    @contextlib.contextmanager
    def _reading_from(self) -> Iterator[int]:
        """The count of ends as a read of the outbox begins, for the length of the read;
        then the ends no read still under way began before are forgotten."""
        began = self._ends
        self._reading.append(began)
        try:
            yield began
        finally:
            self._reading.remove(began)
            oldest = min(self._reading, default=self._ends)
            self._ended = {key: end for key, end in self._ended.items() if end > oldest}

    async def idle(self) -> None:
        """Wait until no delivery is under way (tests and benchmarks)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    def _start(self, key: object, work: Coroutine[Any, Any, None], read_from: int) -> None:
        """Run ``work`` under ``key`` unless it is under way, or ended after the read
        that found it began (``read_from``, in ends)."""
        if key in self._running or self._ended.get(key, -1) > read_from:
            work.close()
            return
        task = asyncio.create_task(work)
        self._running[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: object, task: asyncio.Task[None]) -> None:
        self._running.pop(key, None)
        self._ends += 1
        self._ended[key] = self._ends
        if not task.cancelled() and task.exception() is not None:
            log.warning("webhooks: delivery failed: %s", task.exception())
        self._woken.set()

    async def _drain(self, sub: Subscription, last: int) -> None:
        while sub.cursor < last:
            events = await self._store.window(sub, _SPAN, _BATCH)
            if not events:
                # Nothing this subscription wants in the span: skip it for good.
                scanned = min(sub.cursor + _SPAN, last)
                await self._store.advance(sub.id, scanned)
                sub = replace(sub, cursor=scanned)
                continue
            stored = sub.cursor
            for event in events:
                fresh = event.seq != _head(sub, events)
                outcome = await self.send(sub, event)
                if outcome.error is not None:
                    if sub.cursor > stored:
                        await self._store.advance(sub.id, sub.cursor)
                        stored = sub.cursor
                    if not await self._failed(sub, event, outcome, fresh=fresh):
                        return
                    stored = event.seq
                sub = replace(sub, cursor=event.seq, attempts=0, first_failed_at=None)
            # Once a window, not once an event: a commit per delivery would cap a
            # subscriber at the database's commit rate; a crash repeats at most a window.
            if sub.cursor > stored:
                await self._store.advance(sub.id, sub.cursor)

    async def _failed(self, sub: Subscription, event: StoredEvent, outcome: Outcome, *,
                      fresh: bool) -> bool:
        """Record the failed attempt; True if the drain goes on (the event was buried)."""
        now = self._clock()
        attempts = 1 if fresh else sub.attempts + 1
        first = now if fresh or sub.first_failed_at is None else sub.first_failed_at
        error = outcome.error or "failed"
        if outcome.gone:
            log.warning("webhook %s answered 410 Gone: disabled", sub.id)
            await self._store.disable(sub.id, now, error)
            return False
        if now - first >= self._settings.retry_for_s * 1000:
            log.warning("webhook %s: event %s dead-lettered after %d attempts: %s",
                        sub.id, event.id, attempts, error)
            await self._store.bury(sub.id, event, attempts=attempts, error=error, now=now)
            if self._metrics is not None:
                self._metrics.webhook_dead_letters.inc()
            return True
        delay = backoff_s(self._settings, attempts, self._rng)
        if outcome.retry_after_s is not None:
            delay = max(delay, min(outcome.retry_after_s, self._settings.backoff_max_s))
        await self._store.failed(sub.id, attempts=attempts, first_failed_at=first,
                                 next_attempt_at=now + int(delay * 1000), error=error)
        return False

    async def _redeliver(self, sub: Subscription, event: StoredEvent) -> None:
        outcome = await self.send(sub, event)
        await self._store.redelivered(sub.id, event.seq, now=self._clock(),
                                      error=outcome.error)

    async def send(self, sub: Subscription, event: StoredEvent) -> Outcome:
        """One signed attempt to deliver `event` to `sub`, counted by outcome."""
        outcome = await self._attempt(sub, event)
        if self._metrics is not None:
            self._metrics.webhook_delivery(outcome.kind)
        return outcome

    async def _attempt(self, sub: Subscription, event: StoredEvent) -> Outcome:
        assert self._session is not None, "send() runs inside run()"
        if self._settings.urls == "public":
            # An address URL is never resolved, and this one may predate the policy.
            try:
                check_url(sub.url, "public")
            except ValidationError as exc:
                return Outcome(f"url {exc.message}", kind="unreachable")
        headers = signed_headers(sub.secret, event, datetime.now(UTC))
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_s)
        try:
            async with self._session.post(sub.url, data=event.body, headers=headers,
                                          allow_redirects=False, timeout=timeout) as answer:
                status = answer.status
                retry_after = _seconds(answer.headers.get("Retry-After"))
        except TimeoutError:
            return Outcome(f"no answer within {self._settings.timeout_s:g} s", kind="timeout")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Outcome(_unreachable(exc), kind="unreachable")
        if 200 <= status < 300:
            return Outcome()
        if 300 <= status < 400:
            return Outcome(f"HTTP {status}: redirects are not followed", kind="failed")
        return Outcome(f"HTTP {status}", gone=status == 410, retry_after_s=retry_after,
                       kind="gone" if status == 410 else "failed")


def _head(sub: Subscription, events: list[StoredEvent]) -> int:
    """The seq of the event that failed before, if the subscription's queue starts
    with a failure (its `attempts` count that event's failures), else -1."""
    return events[0].seq if sub.attempts and events else -1


def _unreachable(exc: Exception) -> str:
    """Why no connection was made: a host with no public address said plainly, else
    the error's type and text."""
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(cause, NotPublicError):
        return str(cause)[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _seconds(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
