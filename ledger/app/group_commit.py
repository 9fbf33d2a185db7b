"""Group commit: many concurrent writers, one durable transaction at a time.

Each request must be durable before it is answered. One task drains whatever
queued while the previous transaction was committing and writes it in the
next one, so a commit's fsync is shared by every request waiting on it
instead of being paid once per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ledger.errors import LedgerError, StorageError

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommitWriter(Generic[Item, Result]):
    """Queues items from many callers and writes them in shared transactions.

    ``write`` stores a list of items durably in one transaction and returns one
    result per item, in order; a `LedgerError` from it fails every caller of
    that group and loses nothing already committed.
    """

    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[list[Result]]],
        *,
        name: str,
        max_group: int,
    ) -> None:
        self._write = write
        self._name = name
        self._max_group = max_group
        self._queue: asyncio.Queue[
            tuple[Sequence[Item], asyncio.Future[list[Result]]]
        ] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Stop the writer once what is queued is written."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def add(self, items: Sequence[Item]) -> list[Result]:
        """Store `items`; returns once they are durable, one result per item in order."""
        future: asyncio.Future[list[Result]] = asyncio.get_running_loop().create_future()
        await self._queue.put((items, future))
        return await future

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            size = len(group[0][0])
            while size < self._max_group and not self._queue.empty():
                waiter = self._queue.get_nowait()
                group.append(waiter)
                size += len(waiter[0])
            await self._commit(group)
            for _ in group:
                self._queue.task_done()

    async def _commit(
        self, group: list[tuple[Sequence[Item], asyncio.Future[list[Result]]]]
    ) -> None:
        try:
            results = await self._write([item for items, _ in group for item in items])
        except LedgerError as exc:
            self._fail(group, exc)
            return
        except Exception as exc:
            # Anything else must not end the writer task: every later caller would
            # wait for ever, and shutdown too (`stop` waits for the queue).
            log.exception("%s: a write failed", self._name)
            self._fail(group, StorageError(f"could not write: {type(exc).__name__}: {exc}"))
            return
        start = 0
        for items, future in group:
            if not future.done():
                future.set_result(results[start : start + len(items)])
            start += len(items)

    @staticmethod
    def _fail(
        group: list[tuple[Sequence[Item], asyncio.Future[list[Result]]]], exc: LedgerError
    ) -> None:
        for _, future in group:
            if not future.done():
                future.set_exception(exc)
