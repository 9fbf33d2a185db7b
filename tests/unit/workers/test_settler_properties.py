"""Properties of settlement on the fake chain: whatever the usage and however it is cut
into parts, the chain is paid exactly the priced sum and no event is settled twice."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger.storage.models import UsageEventRow
from tests.fakes.world import BUYER, OTHER_BUYER, World

# (buyer, asset, units) of each event; a price up to 3 * 10^18 with units up to 10^12
# passes 2^64 and 2^53: amounts must stay exact integers.
USAGE = st.lists(st.tuples(st.sampled_from([BUYER, OTHER_BUYER]), st.integers(0, 2),
                           st.integers(1, 10**12)), min_size=1, max_size=12)


async def _settle(usage: list[tuple[str, int, int]], batches: int, max_items: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        world = await World.open(Path(folder))
        try:
            world.fund(OTHER_BUYER, 10**40)
            world.fund(BUYER, 10**40)
            events = [world.event(asset, units, buyer=buyer) for buyer, asset, units in usage]
            cut = max(1, len(events) // batches)
            for start in range(0, len(events), cut):
                await world.meter(events[start : start + cut])
            settler = world.settler(max_items=max_items)
            for _ in range(4):
                await settler.step()
                world.node.mine()
            for buyer in (BUYER, OTHER_BUYER):
                due = sum(e.units * world.price(a)
                          for e, (b, a, _) in zip(events, usage, strict=True) if b == buyer)
                assert world.spent(buyer) == due
            settlements = await world.store.settlements()
            assert sum(s.total for s in settlements) == sum(world.spent(b)
                                                            for b in (BUYER, OTHER_BUYER))
            assert sum(s.units for s in settlements) == sum(e.units for e in events)
            async with world.engine.connect() as conn:
                claims = list(await conn.execute(select(UsageEventRow.settlement_id)))
            # Each event is claimed by exactly one settlement, which the chain settled.
            assert len(claims) == len(events) and all(c.settlement_id for c in claims)
            roots = {(s.usage_root, s.buyer) for s in settlements}
            assert len(roots) == len(settlements)
            assert len(world.node.splitter.state.settled) == len(settlements)
        finally:
            await world.engine.dispose()


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(usage=USAGE, batches=st.integers(1, 3), max_items=st.integers(1, 3))
def test_the_chain_is_paid_the_priced_sum_once(usage: list[tuple[str, int, int]],
                                               batches: int, max_items: int) -> None:
    asyncio.run(_settle(usage, batches, max_items))
