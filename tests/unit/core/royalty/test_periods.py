"""The terms' periods of an amended asset (ledger.core.royalty.periods) and the split an
amendment's terms make (ledger.core.royalty.terms.amended_terms): boundaries to the
millisecond, amendments effective together, and amended terms that cannot be settled."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ledger.core.licence_status import AssetRef, History
from ledger.core.royalty.periods import Period, period_at, periods
from ledger.core.royalty.settlement import REFUSED, event_status, usage_state
from ledger.core.royalty.terms import amended_metered_terms, amended_terms, asset_terms
from ledger.core.signing import EthSigningKey
from ledger.core.statements import Statement, sign_statement
from ledger.errors import ValidationError
from tests.fakes.world import CREATOR_KEY, priced_manifest

T = 1_800_000_000_000
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
MANIFEST = priced_manifest([1_000, 7])
ASSET = AssetRef(MANIFEST.digest(), "asset:a-0")


def price(amount: int, unit: str = "sample") -> dict[str, Any]:
    return {"priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH", "unit": unit,
                           "amount": str(amount)}}


def amend(effective_at: int, terms: dict[str, Any], issued_at: int | None = None
          ) -> Statement:
    obj = {"type": "amend", "deployment": DEPLOYMENT,
           "issuedAt": effective_at - 1_000 if issued_at is None else issued_at,
           "target": {"manifestDigest": MANIFEST.digest_hex()},
           "effectiveAt": effective_at, "terms": terms}
    return Statement.from_obj(sign_statement(obj, EthSigningKey.from_hex(CREATOR_KEY)))


def test_an_asset_never_amended_has_the_manifests_period() -> None:
    assert periods(History(ASSET, [])) == [Period(None, None)]
    assert period_at(periods(History(ASSET, [])), T).source is None


def test_usage_at_the_effective_time_is_priced_by_the_amendment() -> None:
    first, second = amend(T, price(2_000)), amend(T + 60_000, {"payees": [
        {"account": "0x" + "11" * 20, "shareBps": 10_000, "role": "creator"}]})
    spans = periods(History(ASSET, [second, first]))
    assert [(p.start, p.source) for p in spans] == [
        (None, None), (T, first.digest()), (T + 60_000, second.digest())]
    assert [period_at(spans, t).source for t in (T - 1, T, T + 1)] == [
        None, first.digest(), first.digest()]
    later = period_at(spans, T + 60_000)
    # The later period carries every amendment in force: the price and the payees.
    assert later.source == second.digest()
    assert later.terms["priceModel"]["amount"] == "2000" and "payees" in later.terms


def test_amendments_effective_together_make_one_period_named_by_the_last_applied() -> None:
    early, late = amend(T, price(2_000), issued_at=T - 2_000), amend(T, price(3_000))
    for order in ([early, late], [late, early]):
        spans = periods(History(ASSET, order))
        assert [(p.start, p.source) for p in spans] == [(None, None), (T, late.digest())]
        assert spans[1].terms["priceModel"]["amount"] == "3000"


def test_periods_do_not_depend_on_arrival_order() -> None:
    statements = [amend(T + i * 1_000, price(1_000 + i)) for i in range(6)]
    expected = periods(History(ASSET, statements))
    for seed in range(5):
        shuffled = statements[:]
        random.Random(seed).shuffle(shuffled)
        assert periods(History(ASSET, shuffled + shuffled[:2])) == expected


def test_the_amended_split_names_the_statement_and_keeps_the_asset_key() -> None:
    change = amend(T, {**price(2_500), "payees": [
        {"account": "0x" + "22" * 20, "shareBps": 4_000, "role": "creator"},
        {"account": "0x" + "33" * 20, "shareBps": 6_000, "role": "creator"}]})
    base = asset_terms(MANIFEST, MANIFEST.digest(), "asset:a-0")
    amended = amended_terms(MANIFEST, change.digest(), "asset:a-0", change.terms or {})
    assert amended.asset_key == base.asset_key and amended.owner == base.owner
    assert amended.split.manifest_digest == change.digest()
    assert amended.split.price_per_unit == 2_500
    assert amended.split.shares == (4_000, 6_000)
    assert [t.asset_id for t in amended_metered_terms(
        MANIFEST, change.digest(), {"asset:a-0": change.terms or {}})] == ["asset:a-0"]


@pytest.mark.parametrize("terms", [price(2_500, "1k-samples"), price(2_500, "epoch")])
def test_an_amendment_to_another_unit_is_not_settled(terms: dict[str, Any]) -> None:
    # Usage was metered in the manifest's unit: never re-counted in another.
    with pytest.raises(ValidationError) as info:
        amended_terms(MANIFEST, bytes(32), "asset:a-0", terms)
    assert info.value.field == "terms.priceModel.unit"


def test_an_amendment_that_prices_the_asset_otherwise_is_left_out() -> None:
    flat = {"priceModel": {"type": "flat", "rate": 10, "currency": "USD"}}
    assert amended_metered_terms(MANIFEST, bytes(32), {"asset:a-0": flat}) == []


def test_a_refused_event_shows_as_refused_whatever_else_holds() -> None:
    assert event_status("confirmed", None, None, "deposit too small", "refused: x") == REFUSED
    assert event_status("confirmed", None, None, None) == "confirmed"
    assert usage_state(None, "confirmed", True) == REFUSED
    assert usage_state(None, "confirmed") == "unsettled"
