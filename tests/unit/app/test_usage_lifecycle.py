"""Usage intake follows the lifecycle (issue 17): usage after an effective revocation,
a withdrawal or an upheld takedown, or during another buyer's exclusivity, is refused
with `licence_refused` naming the statement and nothing is stored; usage during a
notice period or an open dispute is accepted. Each boundary to the millisecond."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ledger.api.errors import status_of
from ledger.app.events import Announcer
from ledger.app.histories import HeldHistories
from ledger.app.royalty import Accepted, UsageService, usage_writer
from ledger.config import Settings
from ledger.core.events import Filters
from ledger.core.signing import P256SigningKey
from ledger.core.statements import Statement, sign_statement
from ledger.core.times import iso_utc_ms
from ledger.errors import LicenceRefused
from ledger.storage.events import EventStore
from tests.fakes.node import CHAIN_ID
from tests.fakes.world import BUYER, OTHER_BUYER, World

KEY = P256SigningKey.from_secret(0x6D65746572_31)
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
NOTICE_MS = 60_000
T = 1_800_000_000_000


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = await World.open(tmp_path)
    yield world
    await world.engine.dispose()


@pytest.fixture
async def held() -> HeldHistories:
    return HeldHistories(notice_ms=NOTICE_MS)


@pytest.fixture
async def service(world: World, held: HeldHistories) -> AsyncIterator[UsageService]:
    writer = usage_writer(world.store)
    writer.start()
    service = UsageService(Settings().royalty, world.store, world.manifests, writer,
                           chain_id=CHAIN_ID, registry="0x" + "22" * 20, histories=held)
    yield service
    await service.close()


def _statement(world: World, kind: str, at: int, **members: Any) -> Statement:
    obj = {"type": kind, "deployment": DEPLOYMENT, "issuedAt": at,
           "target": {"manifestDigest": world.manifest.digest_hex(),
                      "assetIds": [world.terms[0].asset_id]}, **members}
    return Statement.from_obj(sign_statement(obj, KEY))


async def _use(service: UsageService, world: World, at: int, *, buyer: str = BUYER,
               asset: int = 0) -> Accepted | LicenceRefused:
    obj = {"eventId": f"e:{at}:{buyer}:{asset}", "buyer": buyer, "units": 1,
           "source": "edge", "time": iso_utc_ms(at),
           "asset": {"manifestDigest": world.manifest.digest_hex(),
                     "assetId": world.terms[asset].asset_id}}
    try:
        (result,), _ = await service.accept("edge", obj)
    except LicenceRefused as exc:
        return exc
    assert isinstance(result, Accepted)
    return result


async def _outcomes(service: UsageService, world: World, times: list[int], **kw: Any
                    ) -> list[bool]:
    return [isinstance(await _use(service, world, t, **kw), Accepted) for t in times]


async def _stored(world: World) -> int:
    return (await world.store.pending_stats())[0]


async def test_revocation_refuses_from_its_effective_millisecond(
        world: World, service: UsageService, held: HeldHistories) -> None:
    revoke = _statement(world, "revoke", T - NOTICE_MS, effectiveAt=T)
    held.add(revoke)
    # The notice runs from T - NOTICE_MS to T: usage in it is accepted.
    assert await _outcomes(service, world, [T - NOTICE_MS, T - 1, T, T + 1]) == [
        True, True, False, False]
    refused = await _use(service, world, T)
    assert isinstance(refused, LicenceRefused)
    assert refused.statement == revoke.digest() and refused.field == "asset"
    assert status_of(refused) == 409
    body = refused.to_dict()
    assert body["code"] == "licence_refused"
    assert body["statement"] == "0x" + revoke.digest().hex()
    assert revoke.digest().hex() in body["message"]
    assert await _stored(world) == 2


async def test_withdrawn_consent_refuses_at_once(
        world: World, service: UsageService, held: HeldHistories) -> None:
    held.add(_statement(world, "withdraw-consent", T))
    assert await _outcomes(service, world, [T - 1, T, T + 1]) == [True, False, False]
    # Other assets of the manifest are not its target.
    assert await _outcomes(service, world, [T + 1], asset=1) == [True]


async def test_exclusivity_refuses_other_buyers_only_while_it_runs(
        world: World, service: UsageService, held: HeldHistories) -> None:
    start, end = T, T + 10_000
    held.add(_statement(world, "grant-exclusive", T - 5, buyer=OTHER_BUYER,
                        licences=["train"], start=start, end=end, irrevocable=False))
    times = [start - 1, start, start + 1, end - 1, end, end + 1]
    assert await _outcomes(service, world, times) == [True, False, False, False, True, True]
    assert await _outcomes(service, world, times, buyer=OTHER_BUYER) == [True] * 6


async def test_a_dispute_refuses_nothing_but_an_upheld_takedown_does(
        world: World, service: UsageService, held: HeldHistories) -> None:
    claim = _statement(world, "takedown", T - 100, grounds="mine", claimant="someone")
    held.add(claim)
    decided = T
    held.add(_statement(world, "takedown-decision", decided, case="0x" + claim.digest().hex(),
                        outcome="upheld"))
    assert await _outcomes(service, world, [T - 100, decided - 1, decided, decided + 1]) == [
        True, True, False, False]


async def test_a_refused_event_in_a_batch_is_reported_and_the_others_stored(
        world: World, service: UsageService, held: HeldHistories) -> None:
    held.add(_statement(world, "withdraw-consent", T))
    events = [{"eventId": f"b:{i}", "buyer": BUYER, "units": 1, "source": "edge",
               "time": iso_utc_ms(T - 1 + i),
               "asset": {"manifestDigest": world.manifest.digest_hex(),
                         "assetId": world.terms[0].asset_id}} for i in range(2)]
    results, batch = await service.accept("edge", {"events": events})
    assert batch and isinstance(results[0], Accepted)
    assert isinstance(results[1], LicenceRefused) and results[1].field == "events[1].asset"
    assert await _stored(world) == 1


async def test_without_histories_nothing_is_refused(world: World) -> None:
    writer = usage_writer(world.store)
    writer.start()
    plain = UsageService(Settings().royalty, world.store, world.manifests, writer,
                         chain_id=CHAIN_ID, registry="0x" + "22" * 20)
    try:
        assert isinstance(await _use(plain, world, T), Accepted)
    finally:
        await plain.close()


async def test_a_refusal_is_announced_once_however_often_it_is_sent(
        world: World, held: HeldHistories) -> None:
    events = Announcer(EventStore(world.engine))
    writer = usage_writer(world.store)
    writer.start()
    announcing = UsageService(Settings().royalty, world.store, world.manifests, writer,
                              chain_id=CHAIN_ID, registry="0x" + "22" * 20, histories=held,
                              events=events)
    withdrawn = _statement(world, "withdraw-consent", T)
    held.add(withdrawn)
    try:
        for _ in range(2):
            assert isinstance(await _use(announcing, world, T), LicenceRefused)
    finally:
        await announcing.close()
    feed = (await events.feed(None, None, Filters()))["events"]
    assert [e["type"] for e in feed] == ["usage.refused"]
    (refused,) = feed
    assert refused["data"]["statement"] == "0x" + withdrawn.digest().hex()
    assert refused["data"]["buyer"] == BUYER and refused["data"]["time"] == T


async def test_an_amendment_refuses_nothing_either_side_of_its_effective_time(
        world: World, service: UsageService, held: HeldHistories) -> None:
    held.add(_statement(world, "amend", T - 10, effectiveAt=T,
                        terms={"priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                                              "unit": "sample", "amount": "5"}}))
    assert await _outcomes(service, world, [T - 1, T, T + 1]) == [True, True, True]
