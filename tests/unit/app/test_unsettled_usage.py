"""When an amendment's split version may be registered (issue 17): not before usage from
before its effectiveAt can no longer arrive promptly reported (effectiveAt + the intake
window), nor while any of it is unsettled; refused usage does not count."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.app.split_prices import unsettled_usage
from tests.fakes.world import World

T = 1_800_000_000_000
WINDOW_S = 300.0


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = await World.open(tmp_path)
    yield world
    await world.engine.dispose()


async def check(world: World, before: int, now: int, asset: int = 0) -> dict[str, object]:
    found = await unsettled_usage(world.store, world.terms[asset], WINDOW_S, before, now)
    return found.to_obj()


async def test_ready_only_once_the_window_after_effective_at_has_passed(world: World) -> None:
    end = T + int(WINDOW_S * 1000)
    assert (await check(world, T, end - 1))["ready"] is False
    found = await check(world, T, end)
    assert found["ready"] is True and found["windowEndsAt"] == end
    assert found["assetKey"] == "0x" + world.terms[0].asset_key.hex()


async def test_unsettled_usage_from_before_effective_at_stands_in_the_way(
        world: World) -> None:
    late = T + 10**9
    at = [replace(world.event(0, 5, event_id="before"), event_time=T - 1000),
          replace(world.event(0, 7, event_id="at"), event_time=T),
          replace(world.event(1, 9, event_id="other-asset"), event_time=T - 1000)]
    await world.meter(at)
    found = await check(world, T, late)
    assert (found["events"], found["units"], found["ready"]) == (1, 5, False)
    # At T - 1 s nothing is before it; the other asset counts only for itself.
    assert (await check(world, T - 1000, late))["events"] == 0
    assert (await check(world, T, late, asset=1))["units"] == 9
    # A refused event never settles, so it does not wait for anything.
    group = next(g for g in await world.store.unsettled_groups()
                 if g.asset_key == world.terms[0].asset_key)
    (event,) = [e for e in await world.store.group_events(group) if e.event_time < T]
    assert await world.store.refuse(group, [(event.seq, "refused: withdrawn")]) == 1
    assert (await check(world, T, late))["ready"] is True

