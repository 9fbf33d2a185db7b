"""The settler and the licence lifecycle (issue 17), on the fake chain and SQLite:
amendments priced by period to the second, and usage re-checked at settlement against
statements that arrived after it (refused, never settled, the rest settled exactly)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ledger.app.histories import HeldHistories
from ledger.core.records import BatchStatus, StatementRecord
from ledger.core.royalty.events import NewUsage
from ledger.core.royalty.terms import ETH_TOKEN, amended_terms
from ledger.core.signing import EthSigningKey
from ledger.core.statements import Statement, sign_statement
from ledger.workers.settler import Settler
from tests.fakes.world import BUYER, CREATOR_KEY, World

T = 1_800_000_000_000
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
NEW_PRICE = 2_500


class Statements:
    """Stored statements as the settler looks them up (anchored unless said otherwise)."""

    def __init__(self) -> None:
        self.records: dict[bytes, StatementRecord] = {}

    def keep(self, statement: Statement, status: str = BatchStatus.CONFIRMED.value) -> None:
        self.records[statement.digest()] = StatementRecord(
            statement.digest(), statement.target.manifest_digest, statement.type,
            statement.payload(), 1, 1, 0, status)

    async def get(self, digest: bytes) -> StatementRecord | None:
        return self.records.get(digest)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = await World.open(tmp_path)
    yield world
    await world.engine.dispose()


def statement(world: World, kind: str, issued_at: int, **members: Any) -> Statement:
    obj = {"type": kind, "deployment": DEPLOYMENT, "issuedAt": issued_at,
           "target": {"manifestDigest": world.manifest.digest_hex(), "assetIds": ["asset:a-0"]},
           **members}
    return Statement.from_obj(sign_statement(obj, EthSigningKey.from_hex(CREATOR_KEY)))


def amend(world: World, effective_at: int, price: int = NEW_PRICE) -> Statement:
    terms = {"priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                            "unit": "sample", "amount": str(price)}}
    return statement(world, "amend", effective_at - 60_000, effectiveAt=effective_at,
                     terms=terms)


def at(world: World, units: int, time_ms: int, event_id: str) -> NewUsage:
    return replace(world.event(0, units, event_id=event_id), event_time=time_ms)


def register(world: World, amendment: Statement) -> None:
    """The creator registers the amendment's split: the asset's next version."""
    terms = amended_terms(world.manifest, amendment.digest(), "asset:a-0",
                          amendment.terms or {})
    world.node.splitter.set_split(terms.owner, terms.split)


def lifecycle_settler(world: World, histories: HeldHistories, statements: Statements
                      ) -> Settler:
    return world.settler(histories=histories, statements=statements)


async def run(world: World, settler: Settler, steps: int = 4) -> None:
    for _ in range(steps):
        await settler.step()
        world.node.mine()


async def test_an_amendment_prices_usage_from_its_effective_time_to_the_second(
        world: World) -> None:
    change = amend(world, T)
    statements = Statements()
    statements.keep(change)
    histories = HeldHistories([change])
    # Usage at T-1 s, T and T+1 s: the old price, then the new one.
    await world.meter([at(world, 5, T - 1000, "before"), at(world, 7, T, "at"),
                       at(world, 11, T + 1000, "after")])
    settler = lifecycle_settler(world, histories, statements)
    await run(world, settler)
    old = world.price(0)
    assert world.spent() == 5 * old
    (hold,) = await world.store.holds(buyer=BUYER)
    assert hold.units == 18
    assert f"amendment 0x{change.digest().hex()}" in hold.reason
    assert "ledger creator split --statement" in hold.reason

    register(world, change)
    await run(world, settler)
    assert world.spent() == 5 * old + 18 * NEW_PRICE
    assert await world.store.holds(buyer=BUYER) == []
    lines = await world.store.item_lines(buyer=BUYER)
    assert [(line.item.version, line.item.units, line.item.price, line.item.manifest_digest)
            for line in lines] == [(1, 5, old, world.manifest.digest()),
                                   (2, 18, NEW_PRICE, change.digest())]
    # Nothing is left, and a restarted settler charges nothing more.
    await run(world, lifecycle_settler(world, histories, statements))
    assert world.spent() == 5 * old + 18 * NEW_PRICE
    assert await world.store.unsettled_groups() == []


async def test_usage_before_an_amendment_held_once_superseded_settles_when_its_terms_return(
        world: World) -> None:
    change = amend(world, T)
    statements = Statements()
    statements.keep(change)
    register(world, change)
    await world.meter([at(world, 5, T - 1000, "before"), at(world, 7, T, "at")])
    settler = lifecycle_settler(world, HeldHistories([change]), statements)
    await run(world, settler)
    # Never charged at the amended price: held, saying why.
    assert world.spent() == 7 * NEW_PRICE
    (hold,) = await world.store.holds(buyer=BUYER)
    assert hold.units == 5
    assert "due under the earlier terms" in hold.reason
    assert "registers them again" in hold.reason and len(hold.reason) <= 300
    key = world.terms[0].asset_key
    assert await world.store.unsettled_before(world.terms[0].creator_id, key, T) == (1, 5)

    # The way back: the earlier terms again as the latest version, settle, then the
    # amendment again; each unit charged once, at the price of its period.
    world.node.splitter.set_split(world.terms[0].owner, world.terms[0].split)
    await run(world, settler)
    assert world.spent() == 7 * NEW_PRICE + 5 * world.price(0)
    assert await world.store.unsettled_before(world.terms[0].creator_id, key, T) == (0, 0)
    register(world, change)
    await world.meter([at(world, 2, T + 5000, "later")])
    await run(world, settler)
    assert world.spent() == 9 * NEW_PRICE + 5 * world.price(0)
    assert await world.store.holds(buyer=BUYER) == []
    assert await world.store.unsettled_groups() == []


async def test_an_amendment_version_is_verified_before_it_is_charged(world: World) -> None:
    change = amend(world, T)
    statements = Statements()
    statements.keep(change, status=BatchStatus.SUBMITTED.value)
    register(world, change)
    await world.meter([at(world, 7, T, "at")])
    settler = lifecycle_settler(world, HeldHistories([change]), statements)
    await run(world, settler)
    assert world.spent() == 0
    (hold,) = await world.store.holds(buyer=BUYER)
    assert "not anchored here yet" in hold.reason
    # A version that names the amendment but carries other terms is never charged.
    statements.keep(change)
    forged = replace(amended_terms(world.manifest, change.digest(), "asset:a-0",
                                   change.terms or {}).split, price_per_unit=NEW_PRICE * 10)
    world.node.splitter.set_split(world.terms[0].owner, forged)
    await run(world, settler)
    assert world.spent() == 0
    (hold,) = await world.store.holds(buyer=BUYER)
    assert "does not carry the terms of the amendment" in hold.reason


async def test_usage_refused_by_a_statement_that_arrived_later_is_never_settled(
        world: World) -> None:
    histories = HeldHistories()
    await world.meter([at(world, 3, T - 600_000, "earlier"), at(world, 4, T, "late"),
                       world.event(1, 9, event_id="other-asset")])
    # A consent withdrawal signed 5 minutes before the usage at T arrives only now.
    withdrawal = statement(world, "withdraw-consent", T - 300_000)
    histories.add(withdrawal)
    settler = lifecycle_settler(world, histories, Statements())
    await run(world, settler)
    assert world.spent() == 3 * world.price(0) + 9 * world.price(1)
    late = await world.store.get("edge", "late")
    assert late is not None and late.status == "refused"
    assert late.refusal is not None and withdrawal.digest().hex() in late.refusal
    assert late.settlement_id is None
    earlier = await world.store.get("edge", "earlier")
    assert earlier is not None and earlier.status == "settled"
    # Not pending forever: nothing is left to settle, and the totals show it as refused.
    assert await world.store.unsettled_groups() == []
    assert await world.store.holds(buyer=BUYER) == []
    totals = {(t.asset_id, t.state): t.units for t in await world.store.usage_totals()}
    assert totals[("asset:a-0", "refused")] == 4
    assert totals[("asset:a-0", "settled")] == 3
    # Neither the settled nor the refused event stands in an amendment's way.
    creator, key = world.terms[0].creator_id, world.terms[0].asset_key
    assert await world.store.unsettled_before(creator, key, T + 1) == (0, 0)
    await run(world, lifecycle_settler(world, histories, Statements()))
    assert world.spent() == 3 * world.price(0) + 9 * world.price(1)


async def test_a_held_group_refused_whole_drops_its_hold(world: World) -> None:
    histories = HeldHistories()
    world.fund(BUYER, 0)
    await world.meter([at(world, 4, T, "late")])
    settler = lifecycle_settler(world, histories, Statements())
    await run(world, settler, 1)
    (hold,) = await world.store.holds(buyer=BUYER)
    assert hold.reason.startswith("deposit too small")
    histories.add(statement(world, "withdraw-consent", T - 300_000))
    await run(world, settler, 1)
    assert await world.store.holds(buyer=BUYER) == []
    assert await world.store.unsettled_groups() == []
    assert await world.store.settlements() == []


async def test_a_cosigning_buyer_signs_one_period_at_a_time(world: World) -> None:
    world.node.splitter.account(BUYER, ETH_TOKEN).cosigning = True
    change = amend(world, T)
    statements = Statements()
    statements.keep(change)
    await world.meter([at(world, 5, T - 1000, "before"), at(world, 7, T, "at")])
    settler = lifecycle_settler(world, HeldHistories([change]), statements)
    await run(world, settler)
    # Only the period priced now is proposed: the manifest's, 5 units at the old price.
    (proposal,) = await world.store.proposals()
    assert (proposal.units, proposal.events, proposal.total) == (5, 1, 5 * world.price(0))
    assert await world.store.sign_proposal(proposal.id, world.signature(proposal))
    await run(world, settler)
    assert world.spent() == 5 * world.price(0)
    # The settlement claimed that period's event only; the other waits for its split.
    before, later = await world.store.get("edge", "before"), await world.store.get("edge", "at")
    assert before is not None and before.status == "settled"
    assert later is not None and later.settlement_id is None
    register(world, change)
    await run(world, settler)
    second = next(p for p in await world.store.proposals() if p.id != proposal.id)
    assert (second.units, second.total) == (7, 7 * NEW_PRICE)
    assert await world.store.sign_proposal(second.id, world.signature(second))
    await run(world, settler)
    assert world.spent() == 5 * world.price(0) + 7 * NEW_PRICE
    assert await world.store.unsettled_groups() == []



async def test_usage_in_a_settlement_not_yet_confirmed_still_counts_as_unsettled(
        world: World) -> None:
    await world.meter([at(world, 5, T - 1000, "before")])
    creator, key = world.terms[0].creator_id, world.terms[0].asset_key
    settler = lifecycle_settler(world, HeldHistories(), Statements())
    await settler.step()
    (settlement,) = await world.store.settlements()
    assert settlement.status not in ("confirmed", "final")
    # Sent but not mined: the chain may still skip it, so an amendment must wait.
    assert await world.store.unsettled_before(creator, key, T) == (1, 5)
    await run(world, settler)
    assert world.spent() == 5 * world.price(0)
    assert await world.store.unsettled_before(creator, key, T) == (0, 0)
