"""Running a worker's step for ever, and stopping tasks so that none runs on: what every
worker, the service and each serving process share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ledger.errors import LedgerError

log = logging.getLogger(__name__)


#: How long `stop_tasks` tries by default before it gives a task up as stuck.
STOP_TIMEOUT_S = 30.0


async def stop_tasks(tasks: Sequence[asyncio.Task[Any]], *,
                     timeout: float = STOP_TIMEOUT_S) -> None:
    """Cancel `tasks` and wait until each has ended, for at most `timeout` seconds.

    A task is cancelled again every second until it ends: on Python 3.11 a
    cancellation that lands as an inner await completes can be lost (e.g. inside
    `asyncio.wait_for` or a library's retry loop), and the task would run on.
    Cancelling the caller meanwhile (its own stopper does, every second) does not
    cut this short, or the tasks would run on with no one left to stop them: the
    caller's cancellation is raised once they have ended. A task still running
    after `timeout` is logged by name and left.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    running = {task for task in tasks if not task.done()}
    interrupted = False
    while running and loop.time() < deadline:
        for task in running:
            task.cancel()
        try:
            _, running = await asyncio.wait(running, timeout=min(1.0, deadline - loop.time()))
        except asyncio.CancelledError:
            interrupted = True
            running = {task for task in running if not task.done()}
    if running:
        log.error("tasks still running %g s after they were cancelled: %s", timeout,
                  ", ".join(sorted(task.get_name() for task in running)))
    if interrupted:
        raise asyncio.CancelledError
    for task in tasks:
        if task.done():
            with contextlib.suppress(asyncio.CancelledError):
                task.result()


async def run_forever(
    name: str, step: Callable[[], Awaitable[object]], delay: Callable[[], float]
) -> None:
    """Call `step` forever; a failure is logged and retried, never fatal."""
    while True:
        try:
            await step()
        except LedgerError as exc:
            log.warning("%s: %s", name, exc)
        except Exception:
            log.exception("%s failed; retrying", name)
        await asyncio.sleep(delay())
