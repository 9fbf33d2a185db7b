"""Helpers every kind of test uses: waiting for something the service does in the
background, a free loopback port, and which files the hashing reads."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from ledger.app import file_hashes
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


def hashed_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files `ledger.app.file_hashes` reads to hash them from now on
    (for the test's length), filled in as it reads them."""
    read: list[str] = []
    real = file_hashes._sha256

    def counted(handle: io.FileIO) -> bytes:
        read.append(Path(str(handle.name)).name)
        return real(handle)

    monkeypatch.setattr(file_hashes, "_sha256", counted)
    return read
