"""Usage events: vectors, round trips, body forms and times (ledger.core.royalty.events)."""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.hashing import to_hex
from ledger.core.royalty.events import (
    MAX_UNITS,
    UsageEvent,
    event_digest,
    parse_usage_body,
    time_ms,
)
from ledger.errors import LedgerError, ValidationError
from tests.unit.core.royalty.vectors import BASE, VECTORS


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


def test_usage_time_is_utc() -> None:
    assert time_ms("1970-01-01T00:00:01.500Z") == 1500
