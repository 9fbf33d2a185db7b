"""Lifecycle statements and the status rules (ledger/core/statements.py,
ledger/core/licence_status.py): each rule at its boundaries to the millisecond, and the
status as a function of the statement set alone (any arrival order, replays, duplicates)."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.canonical import canonicalize
from ledger.core.licence_status import (
    DEFAULT_NOTICE_MS,
    DISPUTED,
    EXCLUSIVE,
    LICENSABLE,
    NOTICE,
    REVOKED,
    TAKEN_DOWN,
    WITHDRAWN,
    AssetRef,
    History,
)
from ledger.core.signing import P256SigningKey
from ledger.core.statements import (
    Statement,
    authorise,
    sign_statement,
)
from ledger.errors import SignatureError, ValidationError

CREATOR = P256SigningKey.from_secret(0x73746174656D656E74_31)
OPERATOR = P256SigningKey.from_secret(0x73746174656D656E74_32)
CLAIMANT = P256SigningKey.from_secret(0x73746174656D656E74_33)
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
DIGEST = bytes(range(32))
ASSET = AssetRef(DIGEST, "asset:a", notice_ms=1_000)
BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
T0 = 1_800_000_000_000


def make(kind: str, at: int, key: P256SigningKey = CREATOR, assets: list[str] | None = None,
         **members: Any) -> Statement:
    target: dict[str, Any] = {"manifestDigest": "0x" + DIGEST.hex()}
    if assets is not None:
        target["assetIds"] = assets
    obj = {"type": kind, "deployment": DEPLOYMENT, "issuedAt": at, "target": target, **members}
    statement = Statement.from_obj(sign_statement(obj, key))
    statement.verify()
    return statement


def revoke(at: int, effective: int) -> Statement:
    return make("revoke", at, effectiveAt=effective)


def grant(at: int, start: int, end: int, buyer: str = BUYER, irrevocable: bool = False,
          licences: tuple[str, ...] = ("non-exclusive-training",)) -> Statement:
    return make("grant-exclusive", at, buyer=buyer, licences=list(licences), start=start,
                end=end, irrevocable=irrevocable)


def takedown(at: int) -> Statement:
    return make("takedown", at, CLAIMANT, grounds="my photo", claimant="Bo <bo@example.org>")


def decide(at: int, case: Statement, outcome: str) -> Statement:
    return make("takedown-decision", at, OPERATOR, case="0x" + case.digest().hex(),
                outcome=outcome)


# -- the format -------------------------------------------------------------------------


def test_a_statement_round_trips_and_its_digest_is_domain_tagged() -> None:
    s = revoke(T0, T0 + 5_000)
    again = Statement.from_obj(s.obj)
    assert again == s and again.digest() == s.digest()
    assert s.digest() == hashlib.sha256(b"ledger-statement-v1\n" + canonicalize(s.obj)).digest()


@pytest.mark.parametrize(("change", "field"), [
    ({"type": "delete"}, "type"),
    ({"version": "ledger-statement/2"}, "version"),
    ({"effectiveAt": "soon"}, "effectiveAt"),
    ({"extra": 1}, "extra"),
    ({"target": {"manifestDigest": "0x12"}}, "target.manifestDigest"),
    ({"target": {"manifestDigest": "0x" + "00" * 32, "assetIds": ["asset:b", "asset:a"]}},
     "target.assetIds"),
    ({"deployment": "eip155:1:0xABC"}, "deployment"),
])
def test_a_malformed_statement_names_its_member(change: dict[str, Any], field: str) -> None:
    obj = {**revoke(T0, T0 + 5_000).obj, **change}
    with pytest.raises(ValidationError) as caught:
        Statement.from_obj(obj)
    assert caught.value.field == field


def test_amend_terms_obey_the_asset_rules() -> None:
    make("amend", T0, effectiveAt=T0, terms={"priceModel": {"type": "per-unit", "rate": 3,
                                                            "currency": "USD"}})
    with pytest.raises(ValidationError) as caught:
        make("amend", T0, effectiveAt=T0, terms={"priceModel": {"type": "free"}})
    assert str(caught.value.field).startswith("terms.priceModel")
    with pytest.raises(ValidationError, match="at least one"):
        make("amend", T0, effectiveAt=T0, terms={})


def test_a_changed_statement_no_longer_verifies() -> None:
    obj = dict(revoke(T0, T0 + 5_000).obj)
    obj["effectiveAt"] += 1
    with pytest.raises(SignatureError):
        Statement.from_obj(obj).verify()


def test_who_may_sign_what() -> None:
    keys = {CREATOR.public_id}
    authorise(revoke(T0, T0 + 5_000), creator_keys=keys, operator_key=OPERATOR.public_id)
    with pytest.raises(SignatureError, match="creator"):
        authorise(make("revoke", T0, OPERATOR, effectiveAt=T0 + 5_000), creator_keys=keys,
                  operator_key=OPERATOR.public_id)
    authorise(make("withdraw-consent", T0, OPERATOR), creator_keys=keys,
              operator_key=OPERATOR.public_id)
    authorise(takedown(T0), creator_keys=keys, operator_key=OPERATOR.public_id)
    by_creator = make("takedown-decision", T0, CREATOR, outcome="upheld",
                      case="0x" + takedown(T0).digest().hex())
    with pytest.raises(SignatureError, match="operator"):
        authorise(by_creator, creator_keys=keys, operator_key=OPERATOR.public_id)


# -- the rules, at their boundaries -------------------------------------------------------


def test_nothing_said_means_licensable() -> None:
    assert History(ASSET, []).status(T0).state == LICENSABLE


def test_revocation_runs_its_notice_then_revokes_to_the_millisecond() -> None:
    history = History(ASSET, [revoke(T0, T0 + 1_000)])
    assert history.status(T0 - 1).state == LICENSABLE
    assert history.status(T0).state == NOTICE and history.status(T0).until == T0 + 1_000
    assert history.status(T0 + 999).state == NOTICE
    assert history.status(T0 + 1_000).state == REVOKED
    assert history.refusal(BUYER, T0 + 999) is None
    refusal = history.refusal(BUYER, T0 + 1_000)
    assert refusal is not None and refusal.statement == history.valid[0].digest()


def test_a_revocation_shorter_than_the_notice_is_refused() -> None:
    short = revoke(T0, T0 + 999)
    history = History(ASSET, [short])
    assert history.valid == [] and "notice" in history.dropped[short.digest()]
    with pytest.raises(ValidationError, match="notice"):
        History(ASSET, []).admit(short)


def test_the_default_notice_applies_when_none_was_declared() -> None:
    asset = AssetRef(DIGEST, "asset:a")
    assert History(asset, [revoke(T0, T0 + DEFAULT_NOTICE_MS - 1)]).valid == []
    assert History(asset, [revoke(T0, T0 + DEFAULT_NOTICE_MS)]).status(
        T0 + DEFAULT_NOTICE_MS).state == REVOKED


def test_an_irrevocable_grant_blocks_revocation_until_it_ends() -> None:
    g = grant(T0, T0, T0 + 10_000, irrevocable=True)
    history = History(ASSET, [g])
    with pytest.raises(ValidationError, match="irrevocable"):
        history.admit(revoke(T0 + 1, T0 + 9_999))
    history.admit(revoke(T0 + 1, T0 + 10_000))
    revocable = History(ASSET, [grant(T0, T0, T0 + 10_000)])
    revocable.admit(revoke(T0 + 1, T0 + 5_000))


def test_exclusivity_refuses_other_buyers_only_while_it_runs() -> None:
    history = History(ASSET, [grant(T0, T0 + 100, T0 + 200)])
    assert history.refusal(OTHER, T0 + 99) is None
    assert history.refusal(OTHER, T0 + 100) is not None
    assert history.refusal(BUYER, T0 + 150) is None
    assert history.refusal(OTHER, T0 + 199) is not None
    assert history.refusal(OTHER, T0 + 200) is None
    status = history.status(T0 + 150)
    assert (status.state, status.buyer, status.until) == (EXCLUSIVE, BUYER, T0 + 200)


def test_overlapping_grants_of_the_same_scope_conflict() -> None:
    history = History(ASSET, [grant(T0, T0, T0 + 100)])
    with pytest.raises(ValidationError, match="overlaps"):
        history.admit(grant(T0 + 1, T0 + 99, T0 + 300, buyer=OTHER))
    history.admit(grant(T0 + 1, T0 + 100, T0 + 300, buyer=OTHER))
    history.admit(grant(T0 + 1, T0 + 50, T0 + 300, buyer=OTHER, licences=("other",)))


def test_a_grant_may_not_outlast_a_revocation_nor_be_backdated() -> None:
    history = History(ASSET, [revoke(T0, T0 + 1_000)])
    with pytest.raises(ValidationError, match="revocation"):
        history.admit(grant(T0 + 1, T0 + 1, T0 + 1_001))
    history.admit(grant(T0 + 1, T0 + 1, T0 + 1_000))
    with pytest.raises(ValidationError, match="backdated"):
        History(ASSET, []).admit(grant(T0, T0 - 1, T0 + 5))


def test_withdrawn_consent_stops_everything_at_once_whatever_was_granted() -> None:
    withdraw = make("withdraw-consent", T0 + 50, OPERATOR, reason="the subject asked")
    history = History(ASSET, [grant(T0, T0, T0 + 1_000, irrevocable=True), withdraw])
    assert history.status(T0 + 49).state == EXCLUSIVE
    assert history.status(T0 + 50).state == WITHDRAWN
    assert history.refusal(BUYER, T0 + 50) is not None


def test_a_takedown_disputes_at_once_and_the_decision_settles_it() -> None:
    claim = takedown(T0)
    history = History(ASSET, [claim])
    assert history.status(T0).state == DISPUTED
    assert history.refusal(BUYER, T0) is None
    answered = history.admit(make("takedown-answer", T0 + 5, case="0x" + claim.digest().hex(),
                                  answer="I took it myself"))
    upheld = answered.admit(decide(T0 + 10, claim, "upheld"))
    assert upheld.status(T0 + 9).state == DISPUTED
    assert upheld.status(T0 + 10).state == TAKEN_DOWN
    assert upheld.refusal(BUYER, T0 + 10) is not None
    rejected = answered.admit(decide(T0 + 10, claim, "rejected"))
    assert rejected.status(T0 + 10).state == LICENSABLE
    with pytest.raises(ValidationError, match="decided already"):
        upheld.admit(decide(T0 + 11, claim, "rejected"))
    with pytest.raises(ValidationError, match="no takedown case"):
        History(ASSET, []).admit(decide(T0, claim, "upheld"))


def test_amendments_change_terms_only_from_their_effective_time() -> None:
    price = {"type": "per-unit", "rate": 3, "currency": "USD"}
    amend = make("amend", T0, effectiveAt=T0 + 100, terms={"priceModel": price})
    history = History(ASSET, [amend])
    assert history.terms_at(T0 + 99) == {}
    assert history.terms_at(T0 + 100) == {"priceModel": price}
    with pytest.raises(ValidationError, match="backdated"):
        History(ASSET, []).admit(make("amend", T0, effectiveAt=T0 - 1,
                                      terms={"priceModel": price}))


def test_a_statement_about_other_assets_does_not_count() -> None:
    other = make("revoke", T0, assets=["asset:b"], effectiveAt=T0 + 1_000)
    assert History(ASSET, [other]).valid == []
    mine = make("revoke", T0, assets=["asset:a", "asset:b"], effectiveAt=T0 + 1_000)
    assert History(ASSET, [mine]).valid == [mine]


def test_a_late_statement_may_not_void_one_accepted_before_it() -> None:
    later = grant(T0 + 10, T0 + 10, T0 + 100)
    history = History(ASSET, [later])
    earlier = grant(T0 + 5, T0 + 5, T0 + 50, buyer=OTHER)
    with pytest.raises(ValidationError, match="would void"):
        history.admit(earlier)


# -- a function of the statement set --------------------------------------------------------


POOL = [
    revoke(T0 + 30, T0 + 2_000), revoke(T0 + 40, T0 + 1_500), grant(T0, T0, T0 + 2_500),
    grant(T0 + 1, T0 + 1, T0 + 500, buyer=OTHER, irrevocable=True),
    make("withdraw-consent", T0 + 3_000), takedown(T0 + 20),
    make("amend", T0 + 2, effectiveAt=T0 + 10, terms={"licenses": ["CC-BY-4.0"]}),
]
POOL.append(decide(T0 + 600, POOL[5], "rejected"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(range(len(POOL))), max_size=12), st.randoms())
def test_status_depends_on_the_set_alone(picks: list[int], rng: random.Random) -> None:
    chosen = [POOL[i] for i in picks]
    shuffled = chosen + chosen[: len(chosen) // 2]  # replays and duplicates
    rng.shuffle(shuffled)
    a, b = History(ASSET, chosen), History(ASSET, shuffled)
    assert [s.digest() for s in a.valid] == [s.digest() for s in b.valid]
    for at in range(T0 - 1, T0 + 3_100, 97):
        assert a.status(at) == b.status(at)
        assert a.refusal(OTHER, at) == b.refusal(OTHER, at)
        assert a.terms_at(at) == b.terms_at(at)
