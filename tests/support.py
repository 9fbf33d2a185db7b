"""Helpers every kind of test uses: waiting for something the service does in the
background, and a free loopback port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ledger.cli.worker import free_port as free_port  # the product's own, for the tests

T = TypeVar("T")


async def until(check: Callable[[], Awaitable[T]], timeout: float = 30.0,
                interval: float = 0.1) -> T:
    """Poll the async ``check()`` until it gives something true, and return that. The
    timeout only stops a broken run; it is not a timed assertion."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, "the condition was not met in time"
        await asyncio.sleep(interval)
    return result
