"""What every serving process does around its service: its event loop, its private
data folder, and leaving once stopped even if a driver thread is stranded."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


def event_loop_runner() -> asyncio.Runner:
    """An event loop for the service: uvloop's when it is installed (faster HTTP)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


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
