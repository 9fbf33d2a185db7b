"""The settler on a fake chain and SQLite: proposes, settles, confirms, and never charges
twice: not across a crash, a revert, a reorg or a split version published meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.app.withdrawals import WithdrawalWatch
from ledger.core.royalty.events import NewUsage
from ledger.core.royalty.settlement import ProposalStatus, SettlementStatus
from ledger.core.royalty.terms import ETH_TOKEN, SplitSignature
from ledger.storage.usage import UsageStore
from ledger.workers.settler import Settler
from tests.fakes.node import FakeWeb3
from tests.fakes.splitter import NOTICE_PERIOD_S
from tests.fakes.world import BUYER, METER_KEY, OTHER_BUYER, World


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = await World.open(tmp_path)
    yield world
    await world.engine.dispose()


async def _statuses(world: World) -> list[SettlementStatus]:
    return [s.status for s in await world.store.settlements()]


async def test_settles_each_event_once_to_the_wei(world: World) -> None:
    events = [world.event(i % 3, i + 1) for i in range(12)]
    await world.meter(events)
    settler = world.settler()
    await settler.step()
    assert await _statuses(world) == [SettlementStatus.SUBMITTED]
    assert world.spent() == 0
    world.node.mine()
    await settler.step()
    assert await _statuses(world) == [SettlementStatus.CONFIRMED]
    expected = sum(e.units * world.price(i % 3) for i, e in enumerate(events))
    assert world.spent() == expected
    (settlement,) = await world.store.settlements()
    assert settlement.total == expected
    assert settlement.units == sum(e.units for e in events)
    world.node.mine(2)
    await settler.step()
    assert await _statuses(world) == [SettlementStatus.FINAL]
    # Nothing is left, and another pass and a restart charge nothing more.
    await settler.step()
    await world.settler().step()
    world.node.mine()
    assert world.spent() == expected
    assert await world.store.unsettled_groups() == []
    assert world.node.splitter.calls == ["settle"]


class Crash(Exception):
    """The process died here."""


def _expected(world: World, events: list[NewUsage]) -> int:
    return sum(e.units * world.price(_asset(world, e)) for e in events)


def _asset(world: World, event: NewUsage) -> int:
    return next(i for i, t in enumerate(world.terms) if t.asset_key == event.asset_key)


async def _run(world: World, settler: Settler, steps: int = 4) -> None:
    """Steps, mining a block after each, until what is sent is final."""
    for _ in range(steps):
        await settler.step()
        world.node.mine()


@pytest.mark.parametrize("point", ["before-submit", "after-submit"])
async def test_a_crash_around_submitting_charges_once(world: World, point: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    events = [world.event(i % 3, 5) for i in range(9)]
    await world.meter(events)
    first = world.settler()
    if point == "before-submit":
        async def crash(*_: Any) -> None:
            raise Crash
        monkeypatch.setattr(first, "_submit", crash)
    else:
        original = UsageStore.mark_settlement

        async def crash_on_mark(self: UsageStore, sid: int, status: SettlementStatus,
                                **values: Any) -> None:
            if status is SettlementStatus.SUBMITTED:
                raise Crash
            await original(self, sid, status, **values)
        monkeypatch.setattr(UsageStore, "mark_settlement", crash_on_mark)
    with pytest.raises(Crash):
        await first.step()
    monkeypatch.undo()
    (settlement,) = await world.store.settlements()
    assert settlement.status is SettlementStatus.PREPARED
    broadcast = len(world.node.broadcasts)
    assert broadcast == (0 if point == "before-submit" else 1)
    world.node.mine()

    await _run(world, world.settler())
    assert world.spent() == _expected(world, events)
    (again,) = await world.store.settlements()
    assert (again.id, again.status) == (settlement.id, SettlementStatus.FINAL)
    # The restarted settler found the journaled transaction instead of signing another.
    assert len(world.node.broadcasts) == 1
    assert world.node.splitter.calls == ["settle"]


async def test_a_reverted_settlement_gives_its_usage_back(world: World) -> None:
    events = [world.event(0, 10), world.event(1, 4)]
    await world.meter(events)
    due = _expected(world, events)
    settler = world.settler()
    await settler.step()
    (settlement,) = await world.store.settlements()
    # The buyer's deposit left between the quote and the block: the settle reverts.
    world.fund(BUYER, due - 1)
    world.node.mine()
    await settler.step()
    failed = await world.store.settlement(settlement.id)
    assert failed is not None and failed.status is SettlementStatus.FAILED
    # Its events are free again, and held (not charged) while the deposit is short.
    holds = await world.store.holds(buyer=BUYER)
    assert {h.asset_key for h in holds} == {world.terms[0].asset_key, world.terms[1].asset_key}
    assert all(h.reason.startswith("deposit too small") for h in holds)
    assert await world.store.settlements([SettlementStatus.PREPARED]) == []
    # Topped up, they settle under the same root, which the chain takes once.
    world.fund(BUYER, due)
    await _run(world, settler)
    retried = (await world.store.settlements([SettlementStatus.FINAL]))[0]
    assert retried.usage_root == settlement.usage_root
    assert world.spent() == due
    assert await world.store.holds(buyer=BUYER) == []


async def test_a_reorged_settlement_is_followed_until_mined_again(world: World) -> None:
    events = [world.event(2, 3)]
    await world.meter(events)
    settler = world.settler()
    await settler.step()
    world.node.mine()
    await settler.step()
    assert await _statuses(world) == [SettlementStatus.CONFIRMED]
    world.node.reorg(1)
    assert world.spent() == 0
    await settler.step()
    assert await _statuses(world) == [SettlementStatus.SUBMITTED]
    await _run(world, settler)
    assert await _statuses(world) == [SettlementStatus.FINAL]
    assert world.spent() == _expected(world, events)


@pytest.mark.parametrize(("limit", "reason"), [
    ("cap", "spending cap reached"), ("deposit", "deposit too small"),
])
async def test_what_the_buyer_cannot_pay_is_held_and_nothing_is_recorded(
        world: World, limit: str, reason: str) -> None:
    events = [world.event(0, 10), world.event(1, 10)]
    await world.meter(events)
    due = _expected(world, events)
    if limit == "cap":
        world.fund(BUYER, 10 * due, cap=due - 1)
    else:
        world.fund(BUYER, due - 1)
    settler = world.settler()
    await _run(world, settler)
    assert await world.store.settlements() == []
    assert world.node.broadcasts == []
    holds = await world.store.holds(buyer=BUYER)
    assert len(holds) == 2 and all(h.reason.startswith(reason) for h in holds)
    assert world.spent() == 0
    # Raised limits: settled at the next pass, exactly once.
    world.fund(BUYER, due)
    await _run(world, settler)
    assert world.spent() == due
    assert await world.store.holds(buyer=BUYER) == []


async def test_an_asset_above_the_buyers_maximum_price_is_held_alone(world: World) -> None:
    events = [world.event(0, 10), world.event(1, 10)]
    await world.meter(events)
    world.node.splitter.set_max_price(BUYER, ETH_TOKEN, world.terms[0].asset_key,
                                      world.price(0) - 1)
    await _run(world, world.settler())
    (hold,) = await world.store.holds(buyer=BUYER)
    assert hold.asset_key == world.terms[0].asset_key
    assert hold.reason == (f"price {world.price(0)} is above the buyer's maximum "
                           f"{world.price(0) - 1}")
    assert world.spent() == 10 * world.price(1)


async def test_a_superseded_item_is_settled_again_at_the_new_version(world: World) -> None:
    events = [world.event(0, 6), world.event(1, 2)]
    await world.meter(events)
    settler = world.settler()
    await settler.step()
    # The owner publishes the same terms again as version 2 before the settle is mined.
    t = world.terms[0]
    world.node.splitter.set_split(t.owner, t.split)
    await _run(world, settler, steps=6)
    assert world.spent() == _expected(world, events)
    assert world.node.splitter.received(t.asset_key, 1) == 0
    assert world.node.splitter.received(t.asset_key, 2) == 6 * world.price(0)
    first, second = await world.store.settlements()
    assert (first.part, second.part) == (0, 1)
    assert first.total == 2 * world.price(1)
    assert second.total == 6 * world.price(0)
    assert await world.store.unsettled_groups() == []


async def test_a_cosigning_buyer_is_charged_only_what_it_signed(world: World) -> None:
    world.node.splitter.account(BUYER, ETH_TOKEN).cosigning = True
    events = [world.event(0, 3), world.event(2, 1)]
    await world.meter(events)
    settler = world.settler()
    await _run(world, settler)
    (proposal,) = await world.store.proposals()
    assert proposal.status is ProposalStatus.OPEN
    assert proposal.total == _expected(world, events)
    assert await world.store.settlements() == []
    assert all(h.reason.startswith("awaiting the buyer's co-signature")
               for h in await world.store.holds(buyer=BUYER))
    assert await world.store.sign_proposal(proposal.id, world.signature(proposal))
    await _run(world, settler)
    (settlement,) = await world.store.settlements()
    assert settlement.status is SettlementStatus.FINAL
    assert settlement.usage_root == proposal.usage_root
    assert world.node.splitter.calls == ["settleCosigned"]
    assert world.spent() == proposal.total
    (used,) = await world.store.proposals()
    assert (used.status, used.settlement_id) == (ProposalStatus.USED, settlement.id)


async def test_an_unsigned_proposal_past_its_deadline_is_proposed_again(world: World) -> None:
    world.node.splitter.account(BUYER, ETH_TOKEN).cosigning = True
    await world.meter([world.event(1, 8)])
    settler = world.settler(proposal_ttl_s=600)
    await settler.step()
    (first,) = await world.store.proposals()
    world.clock[0] += 599
    await settler.step()
    assert [p.status for p in await world.store.proposals()] == [ProposalStatus.OPEN]
    world.clock[0] += 1
    await settler.step()
    expired, renewed = await world.store.proposals()
    assert expired.status is ProposalStatus.EXPIRED
    assert renewed.status is ProposalStatus.OPEN
    assert renewed.usage_root == first.usage_root
    assert (renewed.items, renewed.total) == (first.items, first.total)
    assert renewed.deadline == first.deadline + 600
    assert world.spent() == 0 and world.node.broadcasts == []


async def test_a_withdrawing_buyer_is_settled_first(world: World) -> None:
    watch = WithdrawalWatch(FakeWeb3(world.node), world.splitter, 0,  # type: ignore[arg-type]
                            interval_s=0.0, clock=lambda: world.clock[0])
    settler = world.settler(withdrawals=watch, settle_interval_s=3600)
    world.fund(OTHER_BUYER, 10**21)
    await settler.step()  # the first pass over all usage: nothing yet
    leaving, staying = world.event(0, 2), world.event(0, 3, buyer=OTHER_BUYER)
    await world.meter([leaving, staying])
    notice = int(world.clock[0]) + NOTICE_PERIOD_S
    world.node.emit(world.node.splitter.withdrawal_log(BUYER, ETH_TOKEN, 10**18, notice))
    world.node.mine()
    await settler.step()
    world.node.mine()
    await settler.step()
    # Only the leaving buyer: the pass over everyone else waits for its interval.
    assert world.spent(BUYER) == 2 * world.price(0)
    assert world.spent(OTHER_BUYER) == 0
    assert [s.buyer for s in await world.store.settlements()] == [BUYER]


async def test_a_cosigned_settlement_that_fails_is_proposed_again(world: World) -> None:
    world.node.splitter.account(BUYER, ETH_TOKEN).cosigning = True
    events = [world.event(0, 3)]
    await world.meter(events)
    settler = world.settler()
    await settler.step()
    (proposal,) = await world.store.proposals()
    await world.store.sign_proposal(proposal.id, world.signature(proposal))
    await settler.step()
    world.fund(BUYER, proposal.total - 1)  # the deposit left before the block
    world.node.mine()
    await settler.step()
    (failed,) = await world.store.settlements()
    assert failed.status is SettlementStatus.FAILED
    world.fund(BUYER, proposal.total)
    await settler.step()
    used, renewed = await world.store.proposals()
    assert used.status is ProposalStatus.USED
    assert (renewed.status, renewed.usage_root) == (ProposalStatus.OPEN, proposal.usage_root)
    assert world.spent() == 0
    await world.store.sign_proposal(renewed.id, world.signature(renewed))
    await _run(world, settler)
    assert world.spent() == _expected(world, events)
    assert [s.status for s in await world.store.settlements()] == [
        SettlementStatus.FAILED, SettlementStatus.FINAL]


async def test_an_owners_signed_split_is_relayed_once(world: World) -> None:
    t = world.terms[1]
    await world.store.add_split_signature(
        SplitSignature(t.manifest_digest, t.asset_id, 2, int(world.clock[0]) + 600,
                       b"\x01" * 65, "waiting", None), 1)
    settler = world.settler()
    await settler.step()
    (sent,) = await world.store.split_signatures("sent")
    assert sent.tx_key is not None and sent.tx_key.startswith("split:test:")
    world.node.mine()
    await settler.step()
    await settler.step()
    assert [s.version for s in await world.store.split_signatures("done")] == [2]
    assert world.node.splitter.calls == ["setSplitWithSig"]
    assert len(world.node.splitter.state.versions[t.asset_key]) == 2


async def test_a_dropped_settlement_is_settled_again_under_its_root(world: World) -> None:
    events = [world.event(0, 2), world.event(1, 9)]
    await world.meter(events)
    settler = world.settler()
    await settler.step()
    (dropped,) = await world.store.settlements()
    # Another process with the meter's key used the nonce: the transaction can never land.
    world.node.pool.clear()
    world.node.use_nonce(Account.from_key(METER_KEY).address)
    await _run(world, settler, steps=6)
    first, second = await world.store.settlements()
    assert (first.id, first.status) == (dropped.id, SettlementStatus.FAILED)
    assert second.status is SettlementStatus.FINAL
    assert second.usage_root == dropped.usage_root and second.tx_key != dropped.tx_key
    assert world.spent() == _expected(world, events)
