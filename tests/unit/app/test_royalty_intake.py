"""Usage intake on SQLite: each event stored once, its units in the price unit exactly,
and nothing stored of what is refused (an id reused, a unit that does not convert, a
buyer taking its deposit out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ledger.app.royalty import Accepted, UsageService, usage_writer
from ledger.app.withdrawals import WithdrawalWatch
from ledger.config import Settings
from ledger.core.royalty.terms import ETH_TOKEN
from ledger.errors import LedgerError
from tests.fakes.node import CHAIN_ID, FakeWeb3
from tests.fakes.splitter import NOTICE_PERIOD_S
from tests.fakes.world import BUYER, OTHER_BUYER, World


async def _service(world: World, withdrawals: WithdrawalWatch | None = None) -> UsageService:
    writer = usage_writer(world.store)
    writer.start()
    return UsageService(Settings().royalty, world.store, world.manifests, writer,
                        chain_id=CHAIN_ID, registry="0x" + "22" * 20, withdrawals=withdrawals)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = await World.open(tmp_path, unit="1k-samples")
    yield world
    await world.engine.dispose()


@pytest.fixture
async def service(world: World) -> AsyncIterator[UsageService]:
    service = await _service(world)
    yield service
    await service.close()


def _obj(world: World, event_id: str, units: int, *, asset: int = 0, unit: str | None = None,
         buyer: str = BUYER, source: str = "edge") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "eventId": event_id, "buyer": buyer, "units": units, "source": source,
        "time": "2026-01-01T00:00:00Z",
        "asset": {"manifestDigest": world.manifest.digest_hex(),
                  "assetId": world.terms[asset].asset_id},
    }
    if unit is not None:
        obj["unit"] = unit
    return obj


async def _stored(world: World) -> int:
    return (await world.store.pending_stats())[0]


async def test_an_event_is_stored_once_and_its_retry_charges_nothing(
        world: World, service: UsageService) -> None:
    (first,), _ = await service.accept("edge", _obj(world, "job-1", 3))
    (again,), _ = await service.accept("edge", _obj(world, "job-1", 3))
    assert isinstance(first, Accepted) and isinstance(again, Accepted)
    assert (first.created, again.created) == (True, False)
    assert first.to_obj()["httpStatus"] == 202 and again.to_obj()["httpStatus"] == 200
    assert first.digest == again.digest
    assert await _stored(world) == 1


async def test_event_ids_are_each_sources_own(world: World, service: UsageService) -> None:
    (a,), _ = await service.accept("edge", _obj(world, "job-1", 3))
    (b,), _ = await service.accept("other", _obj(world, "job-1", 3, source="other"))
    assert isinstance(a, Accepted) and isinstance(b, Accepted)
    assert a.created and b.created
    assert await _stored(world) == 2


async def test_an_id_reused_for_another_event_is_refused(world: World,
                                                         service: UsageService) -> None:
    await service.accept("edge", _obj(world, "job-1", 3))
    with pytest.raises(LedgerError) as single:
        await service.accept("edge", _obj(world, "job-1", 4))
    assert single.value.code == "conflict"
    out, batch = await service.accept("edge", {"events": [_obj(world, "job-2", 1),
                                                          _obj(world, "job-1", 5)]})
    assert batch
    assert isinstance(out[0], Accepted) and out[0].created
    assert isinstance(out[1], LedgerError) and out[1].code == "conflict"
    assert out[1].field == "events[1].eventId"
    assert await _stored(world) == 2
    record = await world.store.get("edge", "job-1")
    assert record is not None and record.units == 3


@pytest.mark.parametrize(("units", "unit", "stored"), [
    (7, None, 7), (7, "1k-samples", 7), (3_000, "sample", 3), (10**12, "sample", 10**9),
])
async def test_units_are_kept_in_the_price_unit_exactly(
        world: World, service: UsageService, units: int, unit: str | None, stored: int) -> None:
    await service.accept("edge", _obj(world, "job-1", units, unit=unit))
    record = await world.store.get("edge", "job-1")
    assert record is not None and record.units == stored


async def test_a_unit_that_does_not_convert_exactly_is_refused_unstored(
        world: World, service: UsageService) -> None:
    with pytest.raises(LedgerError) as refused:
        await service.accept("edge", _obj(world, "job-1", 2_500, unit="sample"))
    assert refused.value.field == "units"
    out, _ = await service.accept("edge", {"events": [_obj(world, "job-2", 2_500, unit="sample"),
                                                      _obj(world, "job-3", 1, unit="epoch")]})
    assert [getattr(o, "field", None) for o in out] == ["events[0].units", "events[1].unit"]
    assert await _stored(world) == 0


async def test_a_withdrawing_buyers_new_usage_is_refused(world: World) -> None:
    stored = _obj(world, "job-1", 2)
    plain = await _service(world)
    await plain.accept("edge", stored)
    await plain.close()
    watch = WithdrawalWatch(FakeWeb3(world.node), world.splitter, 0,  # type: ignore[arg-type]
                            interval_s=0.0, clock=lambda: world.clock[0])
    notice = int(world.clock[0]) + NOTICE_PERIOD_S
    world.node.emit(world.node.splitter.withdrawal_log(BUYER, ETH_TOKEN, 10**18, notice))
    world.node.mine()
    service = await _service(world, watch)
    try:
        with pytest.raises(LedgerError) as refused:
            await service.accept("edge", _obj(world, "job-2", 2))
        assert (refused.value.code, refused.value.field) == ("buyer_withdrawing", "buyer")
        # A retry of what was stored before the request is answered as stored.
        (retry,), _ = await service.accept("edge", stored)
        assert isinstance(retry, Accepted) and not retry.created
        # Another buyer meters as before; in the batch form the refusal is per event.
        out, _ = await service.accept("edge", {"events": [
            _obj(world, "job-3", 1), _obj(world, "job-4", 1, buyer=OTHER_BUYER)]})
        assert isinstance(out[0], LedgerError) and out[0].code == "buyer_withdrawing"
        assert out[0].field == "events[0].buyer"
        assert isinstance(out[1], Accepted) and out[1].created
        assert await _stored(world) == 2
        # Once the request lapses (a notice period after it is payable) usage meters again.
        world.clock[0] = notice + NOTICE_PERIOD_S
        (late,), _ = await service.accept("edge", _obj(world, "job-5", 1))
        assert isinstance(late, Accepted) and late.created
    finally:
        await service.close()


async def test_an_id_repeated_within_one_request_keeps_its_first_event(
        world: World, service: UsageService) -> None:
    out, _ = await service.accept("edge", {"events": [
        _obj(world, "job-1", 2), _obj(world, "job-1", 2), _obj(world, "job-1", 3)]})
    assert isinstance(out[0], Accepted) and out[0].created
    assert isinstance(out[1], Accepted) and not out[1].created
    assert isinstance(out[2], LedgerError) and out[2].code == "conflict"
    record = await world.store.get("edge", "job-1")
    assert record is not None and record.units == 2
    assert await _stored(world) == 1
