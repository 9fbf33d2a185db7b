"""The settlement rules: amounts, entitlements, usage roots, drafts and statuses
(ledger.core.royalty.settlement)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.hashing import to_hex
from ledger.core.royalty.events import MAX_UNITS
from ledger.core.royalty.settlement import (
    SETTLED,
    Hold,
    PricedSplit,
    Proposal,
    ProposalStatus,
    SettlementDraft,
    SettlementItem,
    SettlementStatus,
    UsageGroup,
    amount_due,
    entitlement,
    event_status,
    item_shape,
    item_totals,
    usage_root_of,
    usage_state,
)
from ledger.core.royalty.terms import ETH_TOKEN, chain_units
from tests.unit.core.royalty.vectors import VECTORS


@pytest.mark.parametrize("case", VECTORS["usageRoots"], ids=lambda c: str(c["part"]))
def test_usage_root_vector(case: dict[str, Any]) -> None:
    root = bytes.fromhex(case["root"][2:])
    assert to_hex(usage_root_of(root, case["part"])) == case["usageRoot"]


@given(st.integers(1, MAX_UNITS), st.integers(1, 2**96 - 1))
def test_amount_is_exact(units: int, price: int) -> None:
    assert amount_due(units, price) == units * price
    assert chain_units(units * 1000, "sample", "1k-samples") == units


@given(st.lists(st.integers(0, 10**30), min_size=1, max_size=20),
       st.lists(st.integers(1, 9998), min_size=1, max_size=5))
def test_cumulative_entitlement_loses_under_one_wei(payments: list[int], cuts: list[int]) -> None:
    shares = _shares(cuts)
    total = sum(payments)
    paid = [entitlement(total, s) for s in shares]
    assert 0 <= total - sum(paid) < len(shares)
    for share, due in zip(shares, paid, strict=True):
        assert 0 <= total * share - due * 10_000 < 10_000


def _shares(cuts: list[int]) -> list[int]:
    points = sorted({0, 10_000, *cuts})
    return [b - a for a, b in itertools.pairwise(points)]


# -- items, drafts and proposals --------------------------------------------------------

ROOT = bytes(range(32))
BUYER = "0x" + "11" * 20


def _group(key: int, units: int, events: int) -> UsageGroup:
    return UsageGroup(7, ROOT, BUYER, bytes([key]) * 32, "creator:a", f"asset:{key}",
                      bytes(32), ETH_TOKEN, units, events)


def _split(version: int, price: int) -> PricedSplit:
    return PricedSplit(version, ETH_TOKEN, price, bytes([version]) * 32)


MEMBERS = [(_group(1, 3, 2), _split(1, 10**18)), (_group(2, 5, 4), _split(2, 7))]


def test_a_draft_charges_each_item_at_its_split_price() -> None:
    draft = SettlementDraft.of(ETH_TOKEN, 2, MEMBERS)
    first, second = draft.items
    assert (first.version, first.units, first.price) == (1, 3, 10**18)
    assert first.manifest_digest == bytes([1]) * 32  # the split's manifest, not the group's
    assert first.amount == amount_due(3, 10**18) and second.amount == 35
    assert (draft.units, draft.total, draft.events) == (8, 3 * 10**18 + 35, 6)
    assert item_totals(draft.items) == (draft.units, draft.total)
    assert draft.usage_root == usage_root_of(ROOT, 2) != ROOT
    assert SettlementDraft.of(ETH_TOKEN, 0, MEMBERS).usage_root == ROOT


def test_a_proposal_offers_the_draft_it_was_made_from() -> None:
    draft = SettlementDraft.of(ETH_TOKEN, 1, MEMBERS)
    proposal = Proposal(9, draft.batch_number, draft.buyer, draft.token, draft.part,
                        draft.usage_root, draft.items, draft.units, draft.events, draft.total,
                        deadline=100, signature=None, status=ProposalStatus.OPEN,
                        settlement_id=None, created_at=0)
    assert proposal.draft(ROOT) == draft


def test_a_signature_fixes_keys_versions_units_and_prices() -> None:
    items = SettlementDraft.of(ETH_TOKEN, 0, MEMBERS).items
    assert item_shape(items) == item_shape(reversed(items))
    repriced = [SettlementItem.of(g, _split(s.version, s.price + 1)) for g, s in MEMBERS]
    assert item_shape(repriced) != item_shape(items)


def test_a_hold_keeps_the_group_and_reason() -> None:
    group = MEMBERS[0][0]
    hold = Hold.of(group, "deposit too small", 5)
    assert (hold.batch_number, hold.buyer, hold.asset_key, hold.units, hold.reason,
            hold.held_at) == (7, BUYER, group.asset_key, 3, "deposit too small", 5)


# -- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settlement", "batch", "state"),
    [
        ("final", "confirmed", "settled"),
        ("confirmed", "confirmed", "settled"),
        ("prepared", "confirmed", "settling"),
        ("failed", "confirmed", "settling"),
        (None, "confirmed", "unsettled"),
        (None, "sealed", "pending"),
        (None, None, "pending"),
    ],
)
def test_usage_state(settlement: str | None, batch: str | None, state: str) -> None:
    assert usage_state(settlement, batch) == state


@pytest.mark.parametrize(
    ("batch", "settlement", "settlement_id", "hold", "status"),
    [
        ("confirmed", "final", 1, None, "settled"),
        ("confirmed", "submitted", 1, "old reason", "settling"),
        ("confirmed", None, None, "deposit too small", "held"),
        ("confirmed", "confirmed", 1, "old reason", "settled"),
        ("confirmed", None, None, None, "confirmed"),
        ("sealed", None, None, None, "sealed"),
        (None, None, None, None, "pending"),
    ],
)
def test_event_status(batch: str | None, settlement: str | None, settlement_id: int | None,
                      hold: str | None, status: str) -> None:
    assert event_status(batch, settlement, settlement_id, hold) == status
    assert SettlementStatus.FINAL.value in SETTLED
