"""What every serving process does around its service: its event loop, its private
data folder, and leaving once stopped even if a task or a driver thread is stranded."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ledger.workers.tasks import STOP_TIMEOUT_S, stop_tasks

log = logging.getLogger(__name__)


def event_loop_runner() -> asyncio.Runner:
    """An event loop for the service: uvloop's when it is installed (faster HTTP)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


async def end_stray_tasks(timeout: float = STOP_TIMEOUT_S) -> list[asyncio.Task[Any]]:
    """End every other task of this event loop, cancelling each again until it has ended
    (`stop_tasks`); returns those still running after `timeout`.

    The loop's own teardown (`asyncio.Runner`, `asyncio.run`) cancels each task once
    and then waits without a bound. A task that spends that one cancellation in a
    cleanup which itself waits on a task started after it would hold the process for
    ever: SQLAlchemy's terminate waits under `asyncio.shield` on aiosqlite's close,
    which never returns when the connection was stopped while its thread was busy.
    A failure a task raises as it ends is logged: its work is over either way.
    """
    current = asyncio.current_task()
    stray = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    try:
        await stop_tasks(stray, timeout=timeout)
    except Exception:
        log.exception("a task failed as it was stopped")
    return [task for task in stray if not task.done()]


def make_private(data_dir: Path) -> None:
    """Keep the data folder to its owner: the process creates files 0600 and folders
    0700 from now on (umask 077), and what the folder already holds (database, WAL,
    keys, journals, metrics) is made so too, whatever the umask was when it was made."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in (data_dir, *data_dir.rglob("*")):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


def exit_past_stray_threads(grace_s: float = 5.0) -> None:
    """After a clean stop, give threads `grace_s` to end, then leave even if some have not.

    Python joins every non-daemon thread at exit. A database driver's connection thread
    whose connection was never closed (aiosqlite starts one per connection; a connection
    broken mid-way, as by a full disk, can strand it) would then keep a stopped service
    from exiting for ever. Everything the service acknowledged is committed before it
    answered, and its close has run, so leaving is safe; the stray threads are named.
    """
    deadline = time.monotonic() + grace_s
    for thread in _stray_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    stray = _stray_threads()
    if stray:
        log.warning("exiting although threads still run after a clean stop: %s",
                    ", ".join(t.name for t in stray))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _stray_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive()]
