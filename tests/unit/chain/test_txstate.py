"""The pure transaction life cycle: transitions, fee bumps, nonce choice, node errors,
and the JSON round trip journals rely on."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from ledger.chain.tx.state import (
    Action,
    Fees,
    Inclusion,
    Observation,
    SendOutcome,
    SendPolicy,
    SentTx,
    TxAttempt,
    TxEventKind,
    TxStatus,
    bumped_fees,
    classify_send_error,
    first_nonce,
    initial_fees,
    step,
)
from ledger.errors import ChainError

POLICY = SendPolicy(confirmations=2, reorg_window=5, stuck_after=30, rebroadcast_every=10,
                    max_fee_cap=100 * 10**9)
T0 = 1_700_000_000.0


BASE_FEES = Fees(3 * 10**9, 10**9)


def attempt(n: int = 1, fees: Fees = BASE_FEES) -> TxAttempt:
    return TxAttempt("0x" + f"{n:02x}" * 32, bytes([2, n]), fees, T0)


def inclusion(block: int = 10, n: int = 1, block_hash: str = "aa") -> Inclusion:
    return Inclusion("0x" + f"{n:02x}" * 32, block, "0x" + block_hash * 32, 1_700_000_100,
                     50_000, 2 * 10**9, True)


TX = SentTx("anchor:7", "0x" + "11" * 20, 31337, 4, "0x" + "22" * 20, b"\x01\x02", 0, 80_000,
            (attempt(1), attempt(2, Fees(4 * 10**9, 2 * 10**9))))


def obs(head: int = 10, nonce: int = 4, inc: Inclusion | None = None, now: float = T0 + 1,
        since: float = 1.0) -> Observation:
    return Observation(head, nonce, inc, now, since)


def kinds(result: Any) -> list[TxEventKind]:
    return [e.kind for e in result.events]


class TestStep:
    def test_pending_waits_quietly(self) -> None:
        result = step(TX, obs(), POLICY)
        assert result.tx == TX and not result.events and result.action is Action.NONE

    def test_pending_rebroadcasts_after_interval_then_bumps_when_stuck(self) -> None:
        assert step(TX, obs(since=10), POLICY).action is Action.REBROADCAST
        assert step(TX, obs(now=T0 + 30, since=10), POLICY).action is Action.BUMP

    def test_mined_then_confirmed_at_depth(self) -> None:
        result = step(TX, obs(head=10, inc=inclusion(10)), POLICY)
        assert kinds(result) == [TxEventKind.MINED] and result.tx.status is TxStatus.MINED
        result = step(result.tx, obs(head=11, inc=inclusion(10)), POLICY)
        assert kinds(result) == [TxEventKind.CONFIRMED]
        assert result.tx.status is TxStatus.CONFIRMED

    def test_mined_deep_enough_confirms_in_one_step(self) -> None:
        result = step(TX, obs(head=11, inc=inclusion(10)), POLICY)
        assert kinds(result) == [TxEventKind.MINED, TxEventKind.CONFIRMED]

    def test_reverted_tx_fails_at_depth_with_reason(self) -> None:
        bad = replace(inclusion(10), succeeded=False, revert_reason="X__Y(a=1)")
        result = step(TX, obs(head=11, inc=bad), POLICY)
        assert kinds(result) == [TxEventKind.MINED, TxEventKind.FAILED]
        assert result.events[-1].detail == "X__Y(a=1)"

    def test_confirmed_becomes_final_after_window(self) -> None:
        done = replace(TX, status=TxStatus.CONFIRMED, inclusion=inclusion(10))
        assert step(done, obs(head=13, inc=inclusion(10)), POLICY).tx.status is TxStatus.CONFIRMED
        final = step(done, obs(head=14, inc=inclusion(10)), POLICY)
        assert final.tx.status is TxStatus.FINAL and not final.events

    def test_receipt_gone_is_a_reorg_and_rebroadcast(self) -> None:
        done = replace(TX, status=TxStatus.CONFIRMED, inclusion=inclusion(10))
        result = step(done, obs(head=12, inc=None), POLICY)
        assert kinds(result) == [TxEventKind.REORGED] and result.action is Action.REBROADCAST
        assert result.tx.status is TxStatus.PENDING and result.tx.inclusion is None
        assert "block 10" in (result.events[0].detail or "")

    def test_reincluded_elsewhere_is_reorg_then_mined(self) -> None:
        mined = replace(TX, status=TxStatus.MINED, inclusion=inclusion(10))
        moved = inclusion(11, n=2, block_hash="bb")
        result = step(mined, obs(head=11, inc=moved), POLICY)
        assert kinds(result) == [TxEventKind.REORGED, TxEventKind.MINED]
        assert result.tx.inclusion == moved and result.events[1].tx_hash == moved.tx_hash

    def test_nonce_consumed_by_stranger_drops(self) -> None:
        result = step(TX, obs(nonce=5), POLICY)
        assert kinds(result) == [TxEventKind.DROPPED] and result.tx.status is TxStatus.DROPPED

    def test_closed_states_do_nothing(self) -> None:
        for status in (TxStatus.FINAL, TxStatus.DROPPED):
            closed = replace(TX, status=status)
            assert step(closed, obs(nonce=9), POLICY).tx == closed


class TestFees:
    def test_initial_fees_clamp_tip_and_cap(self) -> None:
        assert initial_fees(10**9, 2 * 10**9, POLICY) == Fees(4 * 10**9, 2 * 10**9)
        assert initial_fees(10**9, 0, POLICY).max_priority_fee_per_gas == POLICY.min_priority_fee
        capped = initial_fees(80 * 10**9, 10**9, POLICY)
        assert capped == Fees(POLICY.max_fee_cap, 10**9)

    def test_bump_is_at_least_the_policy_and_rounds_up(self) -> None:
        old = Fees(1001, 1)
        new = bumped_fees(old, Fees(0, 0), POLICY)
        assert new == Fees(1001 + 126, 2)  # ceil(12.5%) of each

    def test_bump_follows_a_higher_market(self) -> None:
        new = bumped_fees(Fees(10**9, 10**8), Fees(5 * 10**9, 10**9), POLICY)
        assert new == Fees(5 * 10**9, 10**9)

    def test_bump_impossible_under_the_cap(self) -> None:
        assert bumped_fees(Fees(95 * 10**9, 10**9), Fees(0, 0), POLICY) is None

    def test_policy_rejects_a_bump_nodes_refuse(self) -> None:
        with pytest.raises(ChainError) as info:
            SendPolicy(fee_bump_bps=999)
        assert info.value.field == "fee_bump_bps"


def test_first_nonce_never_reuses_or_skips_ours() -> None:
    assert first_nonce(latest=0, pending=0, journal_max=None) == 0
    assert first_nonce(latest=3, pending=5, journal_max=4) == 5  # two of ours in flight
    assert first_nonce(latest=3, pending=3, journal_max=6) == 7  # signed, pool lost them
    assert first_nonce(latest=9, pending=9, journal_max=6) == 9  # someone else used the key


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        ("already known", SendOutcome.KNOWN),  # geth
        ("transaction already imported", SendOutcome.KNOWN),  # anvil
        ("Known transaction (7a81...)", SendOutcome.KNOWN),  # besu
        ("AlreadyKnown", SendOutcome.KNOWN),  # nethermind
        ("nonce too low: next nonce 5, tx nonce 4", SendOutcome.NONCE_USED),
        ("OldNonce", SendOutcome.NONCE_USED),
        ("replacement transaction underpriced", SendOutcome.UNDERPRICED),
        ("insufficient funds for gas * price + value", SendOutcome.REJECTED),
    ],
)
def test_send_errors_are_sorted(message: str, outcome: SendOutcome) -> None:
    assert classify_send_error(message) is outcome


class TestJson:
    def test_round_trip_both_ways(self) -> None:
        for tx in (TX, replace(TX, status=TxStatus.CONFIRMED, inclusion=inclusion(), to=None)):
            doc = json.loads(json.dumps(tx.to_json()))
            assert SentTx.from_json(doc) == tx
            assert SentTx.from_json(doc).to_json() == doc

    @pytest.mark.parametrize(
        ("mutation", "field"),
        [
            ("attempts-empty", "attempts"),
            ("attempt-hash-short", "attempts[1].txHash"),
            ("attempt-raw-not-hex", "attempts[0].raw"),
            ("status-unknown", "status"),
            ("nonce-negative", "nonce"),
            ("value-number", "value"),
            ("inclusion-succeeded-string", "inclusion.succeeded"),
            ("sender-not-address", "sender"),
        ],
    )
    def test_mutations_name_the_field(self, mutation: str, field: str) -> None:
        doc = replace(TX, status=TxStatus.MINED, inclusion=inclusion()).to_json()
        if mutation == "attempts-empty":
            doc["attempts"] = []
        elif mutation == "attempt-hash-short":
            doc["attempts"][1]["txHash"] = doc["attempts"][1]["txHash"][:-2]
        elif mutation == "attempt-raw-not-hex":
            doc["attempts"][0]["raw"] = "0xzz"
        elif mutation == "status-unknown":
            doc["status"] = "lost"
        elif mutation == "nonce-negative":
            doc["nonce"] = -1
        elif mutation == "value-number":
            doc["value"] = 0
        elif mutation == "inclusion-succeeded-string":
            doc["inclusion"]["succeeded"] = "yes"
        elif mutation == "sender-not-address":
            doc["sender"] = "0x12"
        with pytest.raises(ChainError) as info:
            SentTx.from_json(doc)
        assert info.value.field == field
