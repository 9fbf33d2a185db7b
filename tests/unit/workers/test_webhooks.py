"""Webhook delivery against a real local HTTP receiver that fails, times out and answers
slowly, each delivery checked with the `standardwebhooks` verifier."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook, WebhookVerificationError

from ledger.app.events import Announcer
from ledger.app.webhooks import Webhooks
from ledger.config import WebhookSettings
from ledger.core.events import DeadLetter, Filters, Subscription
from ledger.metrics import Metrics
from ledger.storage.engine import open_engine
from ledger.storage.events import EventStore
from ledger.storage.models import Base, EventRow, MetaRow, WebhookDeadLetterRow, WebhookRow
from ledger.workers.webhooks import Dispatcher
from tests.pg import ThrowawayPostgres
from tests.support import until

FAST = WebhookSettings(timeout_s=2.0, retry_for_s=3600.0, backoff_s=0.01, backoff_max_s=0.04,
                       concurrency=4, urls="any", poll_interval_s=0.02)
CREATOR = "creator:ana"
OTHER = "creator:ben"
#: Long enough never to fire in a passing run; only stops a broken one from hanging.
HANG_GUARD_S = 30.0

Answer = Callable[[int], Awaitable[web.StreamResponse]]
T = TypeVar("T")


@dataclass
class Receiver:
    """A local webhook receiver: `answer(n)` answers its n-th request (from 0)."""

    answer: Answer
    secret: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        n = len(self.requests)
        self.requests.append((dict(request.headers), body))
        async with self.arrived:
            self.arrived.notify_all()
        return await self.answer(n)

    def taken(self) -> list[dict[str, Any]]:
        """The payload of every request, each checked with the `standardwebhooks` verifier."""
        return [Webhook(self.secret).verify(body, headers) for headers, body in self.requests]

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(HANG_GUARD_S), self.arrived:
            await self.arrived.wait_for(lambda: len(self.requests) >= count)


async def delivered(world: World, sub: str) -> bool:
    """Whether the subscription's queue is empty and its last attempt succeeded."""
    found = await world.store.get(sub)
    last = await world.store.last_seq()
    return found is not None and found.attempts == 0 and found.cursor == last


async def ok(_n: int) -> web.StreamResponse:
    return web.Response(status=204)


@contextlib.asynccontextmanager
async def receiving(answer: Answer = ok) -> AsyncIterator[Receiver]:
    receiver = Receiver(answer)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    tables = [t.__table__ for t in (EventRow, WebhookRow, WebhookDeadLetterRow, MetaRow)]
    async with made.begin() as conn:
        await conn.run_sync(lambda sync: Base.metadata.create_all(sync, tables=tables))
    yield made
    await made.dispose()


@dataclass
class World:
    store: EventStore
    announcer: Announcer
    webhooks: Webhooks

    async def subscribe(self, receiver: Receiver, **filters: Any) -> str:
        made = await self.webhooks.subscribe({"url": receiver.url, **filters})
        receiver.secret = made["secret"]
        return str(made["id"])

    async def status_changed(self, n: int, creator: str = CREATOR) -> str:
        return await self.announcer.announce(None, "status.changed", {
            "creatorId": creator, "manifestDigest": f"0x{n:064x}", "n": n})


async def has_dead_letters(world: World, sub: str) -> bool:
    return bool((await world.webhooks.dead_letters(sub))["deadLetters"])


async def redelivered(world: World, sub: str) -> bool:
    letters = (await world.webhooks.dead_letters(sub))["deadLetters"]
    return letters[0]["deliveredAt"] is not None


async def disabled(world: World, sub: str) -> bool:
    return (await world.webhooks.get(sub))["disabledAt"] is not None


@pytest.fixture
def world(engine: AsyncEngine) -> World:
    store = EventStore(engine)
    return World(store, Announcer(store), Webhooks(store, urls="any"))


@contextlib.asynccontextmanager
async def dispatching(world: World, settings: WebhookSettings = FAST,
                      metrics: Metrics | None = None,
                      resolver: AbstractResolver | None = None) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher(world.store, settings, metrics=metrics, resolver=resolver)
    world.announcer.listen(dispatcher.wake)
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_events_arrive_in_order_signed_and_the_feed_lists_them(world: World) -> None:
    async with receiving() as receiver, dispatching(world):
        await world.subscribe(receiver)
        ids = [await world.status_changed(n) for n in range(5)]
        await receiver.wait_for(5)
    payloads = receiver.taken()
    assert [p["data"]["n"] for p in payloads] == list(range(5))
    assert [h["webhook-id"] for h, _ in receiver.requests] == ids
    assert all(p["type"] == "status.changed" for p in payloads)
    feed = await world.announcer.feed(None, None, Filters())
    assert [e["id"] for e in feed["events"]] == ids
    after = await world.announcer.feed(feed["events"][1]["cursor"], "2", Filters())
    assert [e["id"] for e in after["events"]] == ids[2:4]
    assert after["next"] == feed["events"][3]["cursor"]


async def test_a_tampered_or_foreign_delivery_fails_verification(world: World) -> None:
    async with receiving() as receiver, dispatching(world):
        await world.subscribe(receiver)
        await world.status_changed(1)
        await receiver.wait_for(1)
    headers, body = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secret).verify(body.replace(b'"n":1', b'"n":2'), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secret).verify(body, {**headers, "webhook-id": "evt_other"})
    other = (await world.webhooks.subscribe({"url": receiver.url}))["secret"]
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)


async def test_a_failing_receiver_gets_the_same_id_again_and_nothing_overtakes_it(
        world: World) -> None:
    async def fail_twice(n: int) -> web.StreamResponse:
        return web.Response(status=500 if n < 2 else 200)

    async with receiving(fail_twice) as receiver, dispatching(world):
        await world.subscribe(receiver)
        first = await world.status_changed(1)
        second = await world.status_changed(2)
        await receiver.wait_for(4)
    sent = [h["webhook-id"] for h, _ in receiver.requests]
    assert sent == [first, first, first, second]
    receiver.taken()  # every attempt verifies


async def test_a_receiver_that_times_out_is_retried(world: World) -> None:
    async def hang_first(n: int) -> web.StreamResponse:
        if n == 0:
            await asyncio.sleep(HANG_GUARD_S)
        return web.Response(status=200)

    async with receiving(hang_first) as receiver, dispatching(world, replace(FAST, timeout_s=0.2)):
        sub = await world.subscribe(receiver)
        event = await world.status_changed(1)
        await until(lambda: delivered(world, sub))
    assert [h["webhook-id"] for h, _ in receiver.requests] == [event, event]


async def test_a_slow_receiver_does_not_hold_up_another(world: World) -> None:
    release = asyncio.Event()

    async def stuck(_n: int) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=200)

    async with receiving(stuck) as slow, receiving() as fast, dispatching(world):
        await world.subscribe(slow)
        await world.subscribe(fast)
        for n in range(10):
            await world.status_changed(n)
        await fast.wait_for(10)
        assert len(slow.requests) == 1  # still answering the first
        release.set()
        await slow.wait_for(10)
    assert [p["data"]["n"] for p in slow.taken()] == list(range(10))


class LateAnswers(EventStore):
    """An outbox whose next answer to `due` or `redeliveries` is held back by `stall`:
    read before a running delivery stores its progress, returned after it finished."""

    stall: Callable[[], Awaitable[None]] | None = None

    async def due(self, now: int, last_seq: int) -> list[Subscription]:
        return await self._late(await super().due(now, last_seq))

    async def redeliveries(self, now: int, limit: int) -> list[tuple[Subscription, DeadLetter]]:
        return await self._late(await super().redeliveries(now, limit))

    async def stalled(self) -> bool:
        """Whether the held-back answer was given."""
        return self.stall is None

    async def _late(self, found: list[T]) -> list[T]:
        if self.stall is not None and found:
            stall, self.stall = self.stall, None
            await stall()
        return found


async def test_a_delivery_that_ends_while_the_queue_is_read_is_not_sent_again(
        engine: AsyncEngine) -> None:
    store = LateAnswers(engine)
    world = World(store, Announcer(store), Webhooks(store, urls="any"))
    release = asyncio.Event()

    async def held(n: int) -> web.StreamResponse:
        if n == 0:
            await release.wait()
        return web.Response(status=200)

    async with receiving(held) as receiver, dispatching(world) as dispatcher:
        await world.subscribe(receiver)
        for n in range(4):
            await world.status_changed(n)
        await receiver.wait_for(1)

        async def finish_the_drain() -> None:
            release.set()
            await dispatcher.idle()

        store.stall = finish_the_drain
        await receiver.wait_for(4)
        await until(store.stalled)
        await dispatcher.step()
        await dispatcher.idle()
    assert [p["data"]["n"] for p in receiver.taken()] == [0, 1, 2, 3]


async def test_a_second_step_reading_meanwhile_keeps_the_first_from_resending(
        engine: AsyncEngine) -> None:
    """The sequence CI once hit: a step reads what is due, a drain ends during that
    read, and the loop's own step (woken by that end) reads and finishes first. The
    first step's answer predates the drain's progress: it must still skip the drain,
    which it did not when each step began by forgetting every end (the second step
    had forgotten this one)."""
    dispatcher = Dispatcher(EventStore(engine), FAST)
    started: list[str] = []

    async def work(name: str) -> None:
        started.append(name)

    with dispatcher._reading_from() as first:
        drain = asyncio.create_task(work("the drain"))
        dispatcher._running["wh_1"] = drain
        drain.add_done_callback(lambda done: dispatcher._finished("wh_1", done))
        await drain
        await asyncio.sleep(0)  # its end is recorded by the done callback
        with dispatcher._reading_from():
            pass
        dispatcher._start("wh_1", work("sent again"), first)
    await dispatcher.idle()
    assert started == ["the drain"]
    # A read that began after the end finds the progress: it may start the work.
    with dispatcher._reading_from() as later:
        dispatcher._start("wh_1", work("the next drain"), later)
    await dispatcher.idle()
    assert started == ["the drain", "the next drain"]
    with dispatcher._reading_from():
        pass
    assert dispatcher._ended == {}  # ends are forgotten once no read needs them


async def test_a_redelivery_that_ends_while_they_are_read_is_not_sent_again(
        engine: AsyncEngine) -> None:
    store = LateAnswers(engine)
    world = World(store, Announcer(store), Webhooks(store, urls="any"))
    release = asyncio.Event()
    down = True

    async def outage(n: int) -> web.StreamResponse:
        if not down and not release.is_set():
            await release.wait()
        return web.Response(status=503 if down else 200)

    async with receiving(outage) as receiver, dispatching(
            world, replace(FAST, retry_for_s=0.05)) as dispatcher:
        sub = await world.subscribe(receiver)
        lost = await world.status_changed(1)
        await until(lambda: has_dead_letters(world, sub))
        down = False
        tried = len(receiver.requests)
        await world.webhooks.redeliver(sub, lost)
        dispatcher.wake()
        await receiver.wait_for(tried + 1)

        async def finish_the_redelivery() -> None:
            release.set()
            await dispatcher.idle()

        store.stall = finish_the_redelivery
        await until(lambda: redelivered(world, sub))
        await until(store.stalled)
        await dispatcher.step()
        await dispatcher.idle()
    assert len(receiver.requests) == tried + 1


async def test_after_the_retry_period_an_event_is_dead_lettered_and_can_be_sent_again(
        world: World) -> None:
    down = True

    async def outage(_n: int) -> web.StreamResponse:
        return web.Response(status=503 if down else 200)

    settings = replace(FAST, retry_for_s=0.05)
    async with receiving(outage) as receiver, dispatching(world, settings) as dispatcher:
        sub = await world.subscribe(receiver)
        lost = await world.status_changed(1)
        await until(lambda: has_dead_letters(world, sub))
        down = False
        later = await world.status_changed(2)
        await receiver.wait_for(len(receiver.requests) + 1)
        letters = (await world.webhooks.dead_letters(sub))["deadLetters"]
        assert [d["event"]["id"] for d in letters] == [lost]
        assert letters[0]["attempts"] >= 2 and letters[0]["lastError"] == "HTTP 503"
        await world.webhooks.redeliver(sub, lost)
        dispatcher.wake()
        await until(lambda: redelivered(world, sub))
    ids = [h["webhook-id"] for h, _ in receiver.requests]
    assert ids[-2:] == [later, lost]
    letters = (await world.webhooks.dead_letters(sub))["deadLetters"]
    assert letters[0]["redeliverAt"] is None


async def test_410_gone_disables_the_subscription(world: World) -> None:
    async def gone(_n: int) -> web.StreamResponse:
        return web.Response(status=410)

    async with receiving(gone) as receiver, dispatching(world) as dispatcher:
        sub = await world.subscribe(receiver)
        await world.status_changed(1)
        await receiver.wait_for(1)
        await until(lambda: disabled(world, sub))
        await world.status_changed(2)
        await dispatcher.step()
        await dispatcher.idle()
    assert len(receiver.requests) == 1


async def test_filters_pick_events_by_type_and_subject(world: World) -> None:
    async with receiving() as mine, receiving() as everything, dispatching(world):
        await world.subscribe(mine, creatorId=CREATOR, types=["status.changed"])
        await world.subscribe(everything)
        await world.status_changed(1, OTHER)
        await world.announcer.announce(None, "usage.refused", {"creatorId": CREATOR})
        await world.status_changed(2, CREATOR)
        await everything.wait_for(3)
        await mine.wait_for(1)
    assert [p["data"]["n"] for p in mine.taken()] == [2]
    feed = await world.announcer.feed(None, None, Filters.parse(["usage.refused"]))
    assert [e["type"] for e in feed["events"]] == ["usage.refused"]


async def test_announcing_a_fact_twice_stores_it_once(world: World) -> None:
    first = await world.status_changed(7)
    assert await world.status_changed(7) == first
    keyed = await world.announcer.announce(None, "usage.refused", {"a": 1}, key="event-9")
    again = await world.announcer.announce(None, "usage.refused", {"a": 2}, key="event-9")
    assert keyed == again
    feed = await world.announcer.feed(None, None, Filters())
    assert [e["id"] for e in feed["events"]] == [first, keyed]
    assert orjson.loads(orjson.dumps(feed["events"][1]["data"])) == {"a": 1}


async def test_a_new_subscription_starts_after_the_newest_event(world: World) -> None:
    await world.status_changed(1)
    async with receiving() as receiver, dispatching(world):
        await world.subscribe(receiver)
        await world.status_changed(2)
        await receiver.wait_for(1)
    assert [p["data"]["n"] for p in receiver.taken()] == [2]


async def test_on_postgresql_concurrent_announcers_commit_in_cursor_order(
        postgres: ThrowawayPostgres) -> None:
    """A reader following the feed while many transactions announce at once sees every
    event: none commits behind a cursor a reader has passed (the advisory lock)."""
    engine = open_engine(postgres.new_database())
    tables = [t.__table__ for t in (EventRow, WebhookRow, WebhookDeadLetterRow, MetaRow)]
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: Base.metadata.create_all(sync, tables=tables))
    store = EventStore(engine)
    announcer = Announcer(store)
    seen: list[str] = []
    done = asyncio.Event()

    async def announce_in_a_transaction(n: int) -> None:
        async with engine.begin() as conn:
            await announcer.announce(conn, "usage.refused", {"n": n})
            await asyncio.sleep(0.001 * (n % 7))  # hold the transaction open a little

    async def follow() -> None:
        cursor: str | None = None
        while not done.is_set() or len(seen) < 200:
            page = await announcer.feed(cursor, "50", Filters())
            seen.extend(e["id"] for e in page["events"])
            cursor = page["next"]
            await asyncio.sleep(0)

    try:
        reader = asyncio.create_task(follow())
        await asyncio.gather(*(announce_in_a_transaction(n) for n in range(200)))
        done.set()
        async with asyncio.timeout(HANG_GUARD_S):
            await reader
        assert len(seen) == len(set(seen)) == 200
        assert await store.add([], mark=("test.mark", 5)) == 0
        assert await store.add([], mark=("test.mark", 6)) == 0
        assert await store.mark("test.mark") == 6
    finally:
        await engine.dispose()



async def test_attempts_are_counted_by_outcome_and_the_backlog_is_gauged(
        world: World) -> None:
    metrics = Metrics()

    async def down(_n: int) -> web.StreamResponse:
        return web.Response(status=503)

    async with receiving(down) as receiver, dispatching(world, metrics=metrics) as dispatcher:
        await world.subscribe(receiver)
        for n in range(3):
            await world.status_changed(n)
        await until(lambda: _true('{outcome="failed"}' in metrics.render()))
        await until(lambda: _true(dispatcher.backlog.depth == 3))
        assert dispatcher.backlog.oldest_at is not None and dispatcher.oldest_age_s() >= 0
        text = metrics.render()
    assert "ledger_webhook_outbox_depth 3.0\n" in text
    assert "ledger_webhook_dead_letters 0.0\n" in text
    # A replica that stopped delivering reports nothing (the leader's values are the sum).
    assert "ledger_webhook_outbox_depth 0.0\n" in metrics.render()


async def test_delivered_and_dead_lettered_events_are_counted(world: World) -> None:
    metrics = Metrics()
    down = True

    async def outage(_n: int) -> web.StreamResponse:
        return web.Response(status=503 if down else 204)

    settings = replace(FAST, retry_for_s=0.05)
    async with receiving(outage) as receiver, dispatching(world, settings,
                                                          metrics) as dispatcher:
        sub = await world.subscribe(receiver)
        await world.status_changed(1)
        await until(lambda: has_dead_letters(world, sub))
        down = False
        await world.status_changed(2)
        await until(lambda: delivered(world, sub))
        await until(lambda: _true(dispatcher.backlog.dead == 1))
        await until(lambda: _true('{outcome="delivered"} 1.0' in metrics.render()))
        text = metrics.render()
    assert 'ledger_webhook_deliveries_total{outcome="delivered"} 1.0\n' in text
    assert "ledger_webhook_dead_lettered_total 1.0\n" in text
    assert "ledger_webhook_dead_letters 1.0\n" in text


async def _true(value: bool) -> bool:
    return value
