"""Which buyers are withdrawing their deposits, read from the splitter's events (issue 11).

A buyer's withdrawal request becomes payable one notice period after it is made
and lapses one notice period later (`docs/royalty-splitter.md`, "Withdrawals").
While a request is pending or payable, the usage intake refuses that buyer's new
usage in that token (409 ``buyer_withdrawing``) and the settler settles the
buyer's anchored usage first: usage metered before the request is then settled
within the notice period, while the deposit is still there.

The state is derived from the chain alone (``WithdrawalRequested`` and
``DepositWithdrawn`` since the splitter's deployment block), so it survives a
restart without a table and every serving process agrees on it. It is
refreshed at most every ``interval_s``; a chain that cannot be read keeps the
last known state (the settler still has the notice period to settle).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ledger.chain.contracts.splitter import RoyaltySplitter, WithdrawalNotice
from ledger.chain.rpc import Web3Client
from ledger.errors import ChainError, LedgerError

log = logging.getLogger(__name__)

_MAX_RANGE = 10_000  # blocks per eth_getLogs: public nodes refuse wider ranges


@dataclass(frozen=True)
class Withdrawing:
    """A buyer's live withdrawal request in one token."""

    buyer: str
    token: str
    amount: int
    withdrawable_at: int
    lapses_at: int


class WithdrawalWatch:
    """Follows the splitter's withdrawal events from ``from_block`` on."""

    def __init__(self, w3: Web3Client, splitter: RoyaltySplitter, from_block: int, *,
                 interval_s: float = 1.0, clock: Callable[[], float] = time.time,
                 on_request: Callable[[Withdrawing], Awaitable[None]] | None = None) -> None:
        self._w3 = w3
        # Told of each live request once per watch (so again after a restart: the
        # callee deduplicates), e.g. to announce deposit.leaving.
        self._on_request = on_request
        self._splitter = splitter
        self._next_block = from_block
        self._interval_s = interval_s
        self._clock = clock
        self._checked = float("-inf")
        self._notice: int | None = None
        self._requests: dict[tuple[str, str], WithdrawalNotice] = {}
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Read the events since the last refresh, unless one ran within ``interval_s``."""
        if time.monotonic() - self._checked < self._interval_s:
            return
        async with self._lock:
            if time.monotonic() - self._checked < self._interval_s:
                return
            try:
                seen = await self._read()
            except ChainError as exc:
                log.warning("withdrawal requests not refreshed: %s", exc)
                seen = []
            self._checked = time.monotonic()
        await self._tell(seen)

    async def _tell(self, seen: list[tuple[str, str]]) -> None:
        if self._on_request is None:
            return
        for buyer, token in seen:
            live = self.withdrawing(buyer, token)
            if live is None:
                continue
            try:
                await self._on_request(live)
            except LedgerError as exc:
                log.warning("withdrawal request of %s not announced: %s", buyer, exc)

    async def _read(self) -> list[tuple[str, str]]:
        """Read new events; the (buyer, token) of each request made or changed."""
        seen: list[tuple[str, str]] = []
        if self._notice is None:
            self._notice = await self._splitter.notice_period()
        head = int(await self._w3.eth.block_number)
        while self._next_block <= head:
            last = min(head, self._next_block + _MAX_RANGE - 1)
            for notice in await self._splitter.withdrawal_notices(self._next_block, last):
                key = (notice.buyer, notice.token)
                if notice.amount == 0:
                    self._requests.pop(key, None)
                else:
                    if key not in self._requests:
                        log.info("buyer %s asked to withdraw %d of %s from %d", notice.buyer,
                                 notice.amount, notice.token, notice.withdrawable_at)
                    self._requests[key] = notice
                    seen.append(key)
            self._next_block = last + 1
        return seen

    def withdrawing(self, buyer: str, token: str) -> Withdrawing | None:
        """``buyer``'s live request in ``token`` (pending or payable, not lapsed), if any."""
        notice = self._requests.get((buyer, token))
        if notice is None or self._notice is None:
            return None
        lapses_at = notice.withdrawable_at + self._notice
        if self._clock() >= lapses_at:
            return None
        return Withdrawing(buyer, token, notice.amount, notice.withdrawable_at, lapses_at)

    def buyers(self) -> set[str]:
        """Every buyer with a live request in some token."""
        return {b for b, t in self._requests if self.withdrawing(b, t) is not None}
