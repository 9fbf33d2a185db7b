"""WithdrawalWatch: which buyers are withdrawing, from the splitter's events."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ledger.app.withdrawals import WithdrawalWatch
from ledger.chain.contracts.splitter import WithdrawalNotice
from ledger.errors import ChainError

BUYER, OTHER, ETH = "0x" + "b" * 40, "0x" + "c" * 40, "0x" + "0" * 40
NOTICE = 100


class FakeSplitter:
    """Events by block; ``fail`` makes the next read fail like an unreachable node."""

    def __init__(self) -> None:
        self.blocks: dict[int, list[WithdrawalNotice]] = {}
        self.fail = False
        self.ranges: list[tuple[int, int]] = []

    async def notice_period(self) -> int:
        return NOTICE

    async def withdrawal_notices(self, first: int, last: int) -> list[WithdrawalNotice]:
        if self.fail:
            raise ChainError("unreachable")
        self.ranges.append((first, last))
        return [n for b in range(first, last + 1) for n in self.blocks.get(b, [])]


def _watch(splitter: FakeSplitter, head: list[int], now: list[float]) -> WithdrawalWatch:
    async def block_number() -> int:
        return head[0]

    class Eth:
        @property
        def block_number(self) -> Any:
            return block_number()

    w3: Any = SimpleNamespace(eth=Eth())
    return WithdrawalWatch(w3, splitter, 5, interval_s=0.0,  # type: ignore[arg-type]
                           clock=lambda: now[0])


async def test_request_is_live_until_it_lapses_and_clears_on_payout() -> None:
    splitter, head, now = FakeSplitter(), [10], [1_000.0]
    watch = _watch(splitter, head, now)
    splitter.blocks[7] = [WithdrawalNotice(BUYER, ETH, 50, 1_100, 7)]
    await watch.refresh()
    leaving = watch.withdrawing(BUYER, ETH)
    assert leaving is not None and (leaving.amount, leaving.lapses_at) == (50, 1_100 + NOTICE)
    assert watch.withdrawing(OTHER, ETH) is None and watch.buyers() == {BUYER}
    now[0] = 1_199.0
    assert watch.withdrawing(BUYER, ETH) is not None
    now[0] = 1_200.0
    assert watch.withdrawing(BUYER, ETH) is None and watch.buyers() == set()

    now[0] = 1_000.0
    splitter.blocks[12] = [WithdrawalNotice(BUYER, ETH, 0, 0, 12)]  # paid out or cancelled
    head[0] = 12
    await watch.refresh()
    assert watch.withdrawing(BUYER, ETH) is None
    assert splitter.ranges == [(5, 10), (11, 12)]  # each block read once


async def test_unreadable_chain_keeps_the_last_known_state() -> None:
    splitter, head, now = FakeSplitter(), [10], [1_000.0]
    watch = _watch(splitter, head, now)
    splitter.blocks[6] = [WithdrawalNotice(BUYER, ETH, 50, 1_100, 6)]
    await watch.refresh()
    splitter.fail, head[0] = True, 20
    await watch.refresh()
    assert watch.withdrawing(BUYER, ETH) is not None
    splitter.fail = False
    await watch.refresh()
    assert splitter.ranges == [(5, 10), (11, 20)]


async def test_long_histories_are_read_in_bounded_ranges() -> None:
    splitter, head, now = FakeSplitter(), [25_000], [0.0]
    await _watch(splitter, head, now).refresh()
    assert splitter.ranges == [(5, 10_004), (10_005, 20_004), (20_005, 25_000)]
