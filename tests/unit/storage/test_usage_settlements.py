"""Settlement records on SQLite under any order of claims, failures and skips: an event
belongs to at most one live settlement, a settlement's totals are its items', and a
failed part's number and events come back. (The single cases of claiming and failing
are in test_usage_store.py.)"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger.core.royalty.settlement import (
    PricedSplit,
    SettlementDraft,
    SettlementStatus,
    UsageGroup,
)
from ledger.storage.models import UsageEventRow
from tests.fakes.world import BUYER, World


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = await World.open(tmp_path)
    yield world
    await world.engine.dispose()


def _draft(world: World, groups: list[UsageGroup], part: int) -> SettlementDraft:
    return SettlementDraft.of(groups[0].token, part, [
        (g, PricedSplit(1, g.token, world.price(_asset(world, g)), g.manifest_digest))
        for g in groups])


def _asset(world: World, group: UsageGroup) -> int:
    return next(i for i, t in enumerate(world.terms) if t.asset_key == group.asset_key)


async def _claims(world: World) -> dict[int, int | None]:
    async with world.engine.connect() as conn:
        rows = await conn.execute(select(UsageEventRow.seq, UsageEventRow.settlement_id))
        return {r.seq: r.settlement_id for r in rows}


async def test_releasing_skipped_items_twice_changes_nothing_more(world: World) -> None:
    await world.meter([world.event(0, 4), world.event(1, 3)])
    groups = await world.store.unsettled_groups()
    s = await world.store.create_settlement(_draft(world, groups, 0), key_prefix="k:", now=1)
    assert s is not None
    skipped = {world.terms[0].asset_key}
    for _ in range(2):
        await world.store.release_skipped(s.id, skipped)
        kept = await world.store.settlement(s.id)
        assert kept is not None
        assert (kept.units, kept.total) == (3, 3 * world.price(1))
        assert [i.asset_key for i in await world.store.settlement_items(s.id)] == [
            world.terms[1].asset_key]
    (freed,) = await world.store.unsettled_groups()
    assert (freed.asset_key, freed.units, freed.events) == (world.terms[0].asset_key, 4, 1)


# Each step: ("settle", which assets) or ("fail", which live settlement).
STEPS = st.lists(st.one_of(
    st.tuples(st.just("settle"), st.sets(st.integers(0, 2), min_size=1)),
    st.tuples(st.just("fail"), st.integers(0, 5)),
), min_size=1, max_size=10)


async def _replay(steps: list[tuple[str, object]], units: list[tuple[int, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        world = await World.open(Path(folder))
        try:
            await world.meter([world.event(a, u) for a, u in units])
            for kind, arg in steps:
                live = await world.store.settlements([SettlementStatus.PREPARED])
                if kind == "fail":
                    if live:
                        await world.store.fail_settlement(live[int(arg) % len(live)].id)  # type: ignore[call-overload]
                    continue
                groups = [g for g in await world.store.unsettled_groups()
                          if _asset(world, g) in arg]  # type: ignore[operator]
                if groups:
                    part = await world.store.next_part(groups[0].batch_number, BUYER,
                                                       groups[0].token)
                    assert await world.store.create_settlement(
                        _draft(world, groups, part), key_prefix="k:", now=1) is not None
            await _check(world, units)
        finally:
            await world.engine.dispose()


async def _check(world: World, units: list[tuple[int, int]]) -> None:
    live = await world.store.settlements([SettlementStatus.PREPARED])
    claims = await _claims(world)
    by_id = {s.id: s for s in live}
    # Every claim is by a live settlement; a failed one holds no event.
    assert {c for c in claims.values() if c is not None} <= set(by_id)
    assert len({s.part for s in live}) == len(live)
    unsettled = sum(g.units for g in await world.store.unsettled_groups())
    assert sum(s.units for s in live) + unsettled == sum(u for _, u in units)
    for s in live:
        items = await world.store.settlement_items(s.id)
        assert s.total == sum(i.units * i.price for i in items)
        assert s.units == sum(i.units for i in items)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS, units=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 10**12)),
                                   min_size=1, max_size=8))
def test_no_event_is_in_two_live_settlements(steps: list[tuple[str, object]],
                                             units: list[tuple[int, int]]) -> None:
    asyncio.run(_replay(steps, units))
