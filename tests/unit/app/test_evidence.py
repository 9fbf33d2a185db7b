"""When an anchor counts as final for evidence and immutable answers: its block is deep
enough by `evidence_depth` (0: the node's finalized block) and still the node's
canonical block at that height; once seen so, the node is not asked again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from ledger.app.evidence import Finality, Pending
from ledger.errors import ChainError

OURS, THEIRS = b"\x01" * 32, b"\x02" * 32
T = TypeVar("T")


@dataclass
class FakeChain:
    """A node's view: its head, finalized block and canonical hashes."""

    head_number: int = 10
    finalized_number: int | None = 4
    hashes: dict[int, bytes] = field(default_factory=dict)
    calls: int = 0
    down: bool = False

    async def head(self) -> int:
        return self._answer(self.head_number)

    async def finalized(self) -> int | None:
        return self._answer(self.finalized_number)

    async def block_hash(self, number: int) -> bytes | None:
        return self._answer(self.hashes.get(number, OURS))

    def _answer(self, value: T) -> T:
        self.calls += 1
        if self.down:
            raise ChainError("the node did not answer")
        return value


def finality(chain: FakeChain, depth: int) -> Finality:
    return Finality(chain, depth)  # type: ignore[arg-type]


@pytest.mark.parametrize(("depth", "block", "final"), [
    (3, 8, True), (3, 9, False), (1, 10, True), (1, 11, False),  # head 10: N blocks deep
    (0, 4, True), (0, 5, False),  # the node's finalized block is 4
])
async def test_a_block_is_final_by_depth_or_the_finalized_tag(depth: int, block: int,
                                                              final: bool) -> None:
    pending = await finality(FakeChain(), depth).pending([(block, OURS)])
    assert (pending is None) == final
    if not final:
        assert pending == Pending(f"block {block} is not final yet")


async def test_the_newest_block_decides_and_every_anchor_must_be_canonical() -> None:
    chain = FakeChain(hashes={3: THEIRS})
    pending = await finality(chain, 0).pending([(2, OURS), (3, OURS)])
    assert pending is not None and "block 3 was reorganised away" in pending.reason
    assert await finality(chain, 0).pending([(2, OURS), (6, OURS)]) == Pending(
        "block 6 is not final yet")


async def test_no_finalized_block_yet_is_not_final() -> None:
    assert await finality(FakeChain(finalized_number=None), 0).pending([(0, OURS)]) == \
        Pending("block 0 is not final yet")


async def test_a_block_seen_final_is_not_asked_about_again() -> None:
    chain = FakeChain()
    rule = finality(chain, 3)
    assert await rule.is_final(5, OURS)
    asked = chain.calls
    chain.down = True
    assert await rule.is_final(5, OURS)
    assert chain.calls == asked
    assert not await rule.is_final(6, OURS)  # a new block needs the node, which is down
