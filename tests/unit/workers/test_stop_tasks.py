"""`stop_tasks` leaves nothing running: a task that loses a cancellation is cancelled
again, and one stopping its own children when its parent cancels it again (every
second) still stops them all before it ends; a task that never stops is given up
after the bound, and named in the log."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from ledger.workers.tasks import stop_tasks


async def _deaf_once() -> None:
    """Loses its first cancellation, as a task inside `asyncio.wait_for` can on 3.11."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await asyncio.sleep(3600)


async def test_a_lost_cancellation_is_sent_again() -> None:
    task = asyncio.create_task(_deaf_once())
    await asyncio.sleep(0)
    await stop_tasks([task])
    assert task.cancelled()


async def test_a_parent_cancelled_while_stopping_its_children_still_stops_them() -> None:
    children: list[asyncio.Task[None]] = []

    async def parent() -> None:
        children.append(asyncio.create_task(_deaf_once()))
        try:
            await asyncio.sleep(3600)
        finally:
            await stop_tasks(children)

    task = asyncio.create_task(parent())
    await asyncio.sleep(0)
    await stop_tasks([task])
    assert task.cancelled()
    # Left running, the child would be one of the leftovers a test's loop teardown
    # cancels once, and waits for ever when that cancellation is lost too.
    assert children[0].done()


async def test_a_task_that_never_stops_is_given_up_after_the_bound(
        caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()

    async def stubborn() -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await stop.wait()

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    try:
        with caplog.at_level(logging.ERROR):
            await stop_tasks([task], timeout=0.2)
        assert not task.done() and "stubborn" in caplog.text
    finally:
        stop.set()
        await task
