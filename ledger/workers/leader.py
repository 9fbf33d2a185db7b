"""Leadership among replicas: the duties only one replica may do at a time.

Every replica accepts manifests and usage events. Sealing batches, anchoring and
settling are done by the one replica holding the lease of the chain account
(`ledger.storage.leases`): two senders for one account would race for nonces.
The leader renews its lease every third of its time to live; the others try to
take it about five times per time to live, so a dead leader is replaced within
about 1.2 lease times. A leader that cannot renew stops its duties before its
lease can have expired on its own clock, and the fence on every journal write
stops it anyway if it was frozen and woke up deposed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable

from ledger.errors import StorageError
from ledger.storage.leases import Fence, LeaseStore
from ledger.workers.tasks import stop_tasks

log = logging.getLogger(__name__)

#: Makes the duties of one leadership term: tasks to run while the lease holds.
DutyFactory = Callable[[Fence], list["asyncio.Task[None]"]]


def default_replica_id() -> str:
    """This host's name: one replica per host unless `replica_id` says otherwise."""
    return socket.gethostname() or "replica"


class Leadership:
    """Holds (or waits for) one lease and runs the leader's duties while it is held.

    The holder is ``<replica_id>/<instance>``: a restarted replica takes its own
    lease back at once instead of waiting for it to expire, because a replica id
    names one live process at a time (an operator contract; if two live processes
    shared one they would depose each other, never act together).
    """

    def __init__(
        self,
        leases: LeaseStore,
        name: str,
        replica_id: str,
        duties: DutyFactory,
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.holder = f"{replica_id}/{os.getpid()}-{os.urandom(4).hex()}"
        self._leases = leases
        self._duties = duties
        self._ttl_s = ttl_s
        self._clock = clock
        self._fence: Fence | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def leading(self) -> bool:
        """True while this replica holds the lease and runs the duties."""
        return self._fence is not None

    async def run(self) -> None:
        """Take, renew and give up the lease for ever; cancel to stop (the lease is released)."""
        renewed_at = 0.0
        try:
            while True:
                started = self._clock()
                try:
                    fence = await self._leases.acquire(
                        self.name, self.holder, int(self._ttl_s * 1000), self._fence
                    )
                    renewed_at = started
                except StorageError as exc:
                    log.warning("lease %s: %s", self.name, exc)
                    # Stop before the lease can have run out without us knowing.
                    expired = self._clock() - renewed_at >= self._ttl_s * 0.8
                    fence = None if expired else self._fence
                await self._change(fence)
                await asyncio.sleep(self._ttl_s / 3 if self.leading else self._ttl_s / 5)
        finally:
            await self._step_down()

    async def _change(self, fence: Fence | None) -> None:
        if fence == self._fence:
            return
        if self._fence is not None:
            log.warning("lost the lease %s (token %d): stopping the leader's duties",
                        self.name, self._fence.token)
            await self._stop_duties()
        self._fence = fence
        if fence is not None:
            log.info("leading %s as %s (token %d)", self.name, self.holder, fence.token)
            self._tasks = self._duties(fence)

    async def _stop_duties(self) -> None:
        tasks, self._tasks = self._tasks, []
        await stop_tasks(tasks)

    async def _step_down(self) -> None:
        await self._stop_duties()
        fence, self._fence = self._fence, None
        if fence is not None:
            with contextlib.suppress(StorageError):
                await self._leases.release(fence)
