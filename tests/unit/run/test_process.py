"""`end_stray_tasks` ends what the event loop's own teardown cannot: a task whose cleanup
spends the loop's one cancellation waiting on aiosqlite's close of a connection that
was stopped while its thread was busy (SQLAlchemy's terminate has this shape)."""

from __future__ import annotations

import asyncio
import threading

import aiosqlite

from ledger.run.process import end_stray_tasks

SLOW_QUERY = ("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 2000000)"
              " SELECT count(*) FROM r")


async def test_a_cleanup_stuck_on_a_stopped_connection_is_ended() -> None:
    threads = set(threading.enumerate())
    connection = await aiosqlite.connect(":memory:")
    (driver,) = set(threading.enumerate()) - threads
    busy = asyncio.create_task(connection.execute(SLOW_QUERY))
    await asyncio.sleep(0.01)
    connection.stop()  # a forced close while the thread works: it will end after the query
    closing = asyncio.create_task(connection.close())  # queues a second end, never read

    async def holding_a_connection() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.shield(closing)
            raise

    holder = asyncio.create_task(holding_a_connection())
    await asyncio.sleep(0)
    holder.cancel()  # what the loop's teardown does, once
    done, _ = await asyncio.wait({holder}, timeout=1.0)
    assert not done and not closing.done()  # it would wait for ever

    assert await end_stray_tasks(timeout=10.0) == []
    assert holder.cancelled() and closing.cancelled() and busy.done()
    # The thread ends with the query; had it outlived this test's loop, its answer to
    # the closed loop would fail the next test.
    await asyncio.to_thread(driver.join)


async def test_a_task_that_never_ends_is_returned_after_the_bound() -> None:
    deaf = True

    async def deaf_while_told() -> None:
        while deaf:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(deaf_while_told())
    await asyncio.sleep(0)
    stuck = await end_stray_tasks(timeout=1.5)
    assert stuck == [task], stuck
    deaf = False  # or the test's own guard would find it too, and fail the test
    task.cancel()
    await asyncio.wait({task})
