"""Usage events, request MACs, units, prices and asset keys (ledger.core.usage)."""

from __future__ import annotations

import calendar
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.hashing import to_hex
from ledger.core.manifest import Manifest
from ledger.core.usage import (
    ETH_TOKEN,
    MAX_UNITS,
    KeyRing,
    UsageAuthError,
    UsageEvent,
    amount_due,
    asset_id_of,
    asset_key_of,
    asset_terms,
    chain_units,
    check_event_source,
    entitlement,
    event_digest,
    parse_usage_body,
    request_mac,
    split_owner,
    time_ms,
    usage_root_of,
    verify_request,
)
from ledger.errors import LedgerError, SignatureError, ValidationError

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "usage.json").read_text(encoding="utf-8")
)
BASE = json.loads(VECTORS["valid"][0]["json"])


# -- vectors ------------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_valid_vector_canonical_bytes_and_digest(case: dict[str, Any]) -> None:
    event = UsageEvent.from_obj(parse_strict(case["json"]))
    assert event.canonical().decode() == case["canonical"]
    assert to_hex(event.digest()) == case["digest"]
    assert to_hex(event_digest(case["canonical"].encode())) == case["digest"]
    assert event.time_ms == case["timeMs"]


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_invalid_vector_names_the_field(case: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        UsageEvent.from_obj(parse_strict(case["json"]))
    assert info.value.field == case["field"]
    assert case["error"] in info.value.message


def test_mac_vector() -> None:
    case = VECTORS["macs"][0]
    mac = request_mac(bytes.fromhex(case["secret"]), case["source"], case["timestamp"],
                      case["body"].encode())
    assert mac == case["signature"]


@pytest.mark.parametrize("case", VECTORS["assetKeys"], ids=lambda c: c["assetId"])
def test_asset_key_vector(case: dict[str, Any]) -> None:
    aid = asset_id_of(case["assetId"])
    assert to_hex(aid) == case["assetIdBytes32"]
    assert to_hex(asset_key_of(case["owner"], aid)) == case["assetKey"]


@pytest.mark.parametrize("case", VECTORS["usageRoots"], ids=lambda c: str(c["part"]))
def test_usage_root_vector(case: dict[str, Any]) -> None:
    root = bytes.fromhex(case["root"][2:])
    assert to_hex(usage_root_of(root, case["part"])) == case["usageRoot"]


# -- round trips ------------------------------------------------------------------

_slug = st.from_regex(r"[a-z0-9](?:[a-z0-9._-]{0,20}[a-z0-9])?", fullmatch=True)
_events = st.builds(
    dict,
    eventId=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,30}", fullmatch=True),
    buyer=st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()),
    asset=st.builds(dict, manifestDigest=st.binary(min_size=32, max_size=32).map(to_hex),
                    assetId=_slug.map(lambda s: "asset:" + s)),
    units=st.integers(1, MAX_UNITS),
    time=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if d.microsecond % 2 else
                                                     f".{d.microsecond // 1000:03d}Z")),
    source=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,10}", fullmatch=True),
    unit=st.sampled_from(["sample", "1k-samples", "epoch"]),
)


@settings(max_examples=150, deadline=None)
@given(_events)
def test_round_trip_both_ways(obj: dict[str, Any]) -> None:
    event = UsageEvent.from_obj(obj)
    assert event.canonical() == canonicalize(event.to_obj())
    again = UsageEvent.from_obj(parse_strict(event.canonical()))
    assert again == event
    assert again.canonical() == event.canonical()
    assert again.digest() == event.digest()
    without_unit = UsageEvent.from_obj({k: v for k, v in obj.items() if k != "unit"})
    assert without_unit.canonical() == canonicalize(without_unit.to_obj())
    # The digest commits to every member: changing the units changes it.
    other = UsageEvent.from_obj({**obj, "units": obj["units"] % MAX_UNITS + 1})
    assert other.digest() != event.digest()


@settings(max_examples=150, deadline=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31)))
def test_time_ms_matches_the_calendar(when: datetime) -> None:
    text = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    expected = calendar.timegm(when.timetuple()) * 1000 + when.microsecond // 1000
    assert time_ms(text) == expected


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from([*BASE, "x"]), children, max_size=8),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_no_stray_exception(obj: Any) -> None:
    try:
        for item in parse_usage_body(obj)[0]:
            UsageEvent.from_obj(item)
    except LedgerError:
        pass


def test_batch_body_paths() -> None:
    events, prefix = parse_usage_body({"events": [BASE, BASE]})
    assert (len(events), prefix) == (2, "events")
    assert parse_usage_body(BASE) == ([BASE], "")
    with pytest.raises(ValidationError, match="1 to 10,000") as info:
        parse_usage_body({"events": []})
    assert info.value.field == "events"
    with pytest.raises(ValidationError) as info:
        UsageEvent.from_obj({**BASE, "units": -1}, "events[3]")
    assert info.value.field == "events[3].units"


# -- authentication ------------------------------------------------------------------

SECRET_OLD, SECRET_NEW = bytes(range(32)), bytes(range(1, 33))
RING = KeyRing.from_obj({"version": "ledger-usage-keys/1", "sources": {
    "edge-1": [{"id": "old", "secret": SECRET_OLD.hex()},
               {"id": "new", "secret": SECRET_NEW.hex()}],
    "job-2": [{"id": "k", "secret": "ab" * 40}],
}})
BODY = b'{"events":[]}'
NOW = 1_750_000_000


def _verify(source: str | None = "edge-1", ts: str | None = str(NOW),
            sig: str | None = None, body: bytes = BODY, now: float = NOW) -> str:
    if sig is None:
        sig = request_mac(SECRET_NEW, "edge-1", str(NOW), BODY)
    return verify_request(RING, source, ts, sig, body, now_s=now)


def test_any_key_of_the_source_verifies_while_rotating() -> None:
    assert _verify() == "new"
    assert _verify(sig=request_mac(SECRET_OLD, "edge-1", str(NOW), BODY)) == "old"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source": None}, "X-Ledger-Source"),
        ({"source": "nobody"}, "X-Ledger-Source"),
        ({"ts": None}, "X-Ledger-Timestamp"),
        ({"ts": "12.5"}, "X-Ledger-Timestamp"),
        ({"now": NOW + 301}, "X-Ledger-Timestamp"),
        ({"now": NOW - 301}, "X-Ledger-Timestamp"),
        ({"sig": "v1=" + "0" * 64}, "X-Ledger-Signature"),
        ({"sig": "deadbeef"}, "X-Ledger-Signature"),
        ({"body": BODY + b" "}, "X-Ledger-Signature"),
        ({"source": "job-2"}, "X-Ledger-Signature"),  # another source's key does not count
    ],
)
def test_request_refused(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(UsageAuthError) as info:
        _verify(**kwargs)
    assert info.value.field == field
    assert isinstance(info.value, SignatureError)


def test_timestamp_is_bound_by_the_mac() -> None:
    sig = request_mac(SECRET_NEW, "edge-1", str(NOW), BODY)
    with pytest.raises(UsageAuthError, match="does not match"):
        _verify(ts=str(NOW + 1), sig=sig, now=NOW + 1)


def test_event_must_name_the_signing_source() -> None:
    event = UsageEvent.from_obj(BASE)
    check_event_source(event, "edge-1", "")
    with pytest.raises(UsageAuthError) as info:
        check_event_source(event, "job-2", "events[0]")
    assert info.value.field == "events[0].source"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"version": "x", "sources": {}}, "version"),
        ({"version": "ledger-usage-keys/1", "sources": {"Bad": [{"id": "a", "secret": "00" * 32}]}},
         "sources.Bad"),
        ({"version": "ledger-usage-keys/1", "sources": {"a": [{"id": "a", "secret": "00" * 8}]}},
         "sources.a[0].secret"),
        ({"version": "ledger-usage-keys/1", "sources": {"a": []}}, "sources.a"),
    ],
)
def test_bad_keys_file(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        KeyRing.from_obj(doc)
    assert info.value.field == field


# -- units, prices, splits ------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "unit", "price_unit", "expected"),
    [
        (7, None, "epoch", 7),
        (7, "sample", "sample", 7),
        (3000, "sample", "1k-samples", 3),
        (2, "1k-samples", "sample", 2000),
    ],
)
def test_chain_units(units: int, unit: str | None, price_unit: str, expected: int) -> None:
    assert chain_units(units, unit, price_unit) == expected


@pytest.mark.parametrize(
    ("units", "unit", "price_unit", "field"),
    [(2500, "sample", "1k-samples", "events[1].units"), (1, "epoch", "sample", "events[1].unit")],
)
def test_chain_units_never_round(units: int, unit: str, price_unit: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        chain_units(units, unit, price_unit, "events[1]")
    assert info.value.field == field


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


def _manifest(creator: dict[str, Any], asset: dict[str, Any]) -> Manifest:
    obj = {
        "manifestVersion": "1.0",
        "creator": creator,
        "assets": [{"id": "asset:a", "type": "image/jpeg", "hash": "sha256:" + "00" * 32,
                    "licenses": ["x"], **asset}],
        "signature": "eip712:0x" + "00" * 65,
    }
    return Manifest.from_obj(obj)


ETH_KEY = "eth:0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
P256_KEY = "p256:" + "A" * 44
PRICE = {"type": "per-unit", "rate": 1, "currency": "ETH", "unit": "sample", "amount": "1000"}


def test_split_owner_prefers_the_ethereum_key() -> None:
    wallet = "0x" + "22" * 20
    eth = _manifest({"id": "creator:a", "signingKey": ETH_KEY, "wallet": wallet}, {})
    p256 = _manifest({"id": "creator:a", "signingKey": P256_KEY, "wallet": wallet}, {})
    stripe = _manifest({"id": "creator:a", "signingKey": P256_KEY, "wallet": "stripe:acct_1"}, {})
    assert split_owner(eth) == ETH_KEY[4:]
    assert split_owner(p256) == "0x2222222222222222222222222222222222222222"
    assert split_owner(stripe) is None


def test_asset_terms_default_and_explicit_payees() -> None:
    creator = {"id": "creator:a", "signingKey": ETH_KEY, "wallet": "0x" + "22" * 20}
    digest = bytes(range(32))
    solo = asset_terms(_manifest(creator, {"priceModel": PRICE}), digest, "asset:a")
    assert solo.split.payees == (ETH_KEY[4:],) and solo.split.shares == (10_000,)
    assert solo.price.token == ETH_TOKEN and solo.price.per_unit == 1000
    assert solo.asset_key == asset_key_of(ETH_KEY[4:], asset_id_of("asset:a"))
    payees = [{"account": "0x" + "33" * 20, "shareBps": 9000, "role": "creator"},
              {"account": "0x" + "44" * 20, "shareBps": 1000, "role": "marketplace"}]
    token = "0x" + "55" * 20
    split = asset_terms(
        _manifest(creator, {"priceModel": {**PRICE, "token": token}, "payees": payees}),
        digest, "asset:a",
    )
    assert split.split.shares == (9000, 1000)
    assert split.price.token.lower() == token


@pytest.mark.parametrize(
    ("asset", "field", "message"),
    [
        ({}, "asset", "not priced per use"),
        ({"priceModel": {**PRICE, "type": "royalty"}}, "asset", "not priced per use"),
        ({"priceModel": {k: v for k, v in PRICE.items() if k != "amount"}}, "asset",
         "no on-chain price"),
        ({"priceModel": {**PRICE, "amount": str(2**96)}}, "asset", r"2\^96-1"),
        ({"priceModel": {**PRICE, "amount": "0"}}, "asset", r"2\^96-1"),
    ],
)
def test_assets_that_cannot_be_metered(asset: dict[str, Any], field: str, message: str) -> None:
    creator = {"id": "creator:a", "signingKey": ETH_KEY, "wallet": "0x" + "22" * 20}
    with pytest.raises(ValidationError, match=message) as info:
        asset_terms(_manifest(creator, asset), bytes(32), "asset:a")
    assert info.value.field == field


def test_unknown_asset_id() -> None:
    creator = {"id": "creator:a", "signingKey": ETH_KEY, "wallet": "0x" + "22" * 20}
    with pytest.raises(ValidationError) as info:
        asset_terms(_manifest(creator, {"priceModel": PRICE}), bytes(32), "asset:b",
                    "events[2].asset")
    assert info.value.field == "events[2].asset.assetId"


def test_usage_time_is_utc() -> None:
    assert time_ms("1970-01-01T00:00:01.500Z") == 1500
    assert time_ms("2000-03-01T00:00:00Z") == int(
        datetime(2000, 3, 1, tzinfo=UTC).timestamp() * 1000)
