"""`ledger.core.times`: the two wire formats of a UTC time, byte for byte as the modules
that wrote them before it did (receipts and CLI to the second, webhooks to the ms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ledger.core.times import iso_utc, iso_utc_ms, iso_utc_of

# Spread over 1970..2100 by a step prime to the second, the minute and the day.
SECONDS = [0, 1, 59, 86_399, 951_782_400, 1_700_000_000, 4_102_444_799,
           *range(0, 4_102_444_800, 7_919_993_641 // 97)]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "1970-01-01T00:00:00Z"), (1_785_499_200, "2026-07-31T12:00:00Z"),
    (951_782_400, "2000-02-29T00:00:00Z"), (-1, "1969-12-31T23:59:59Z"),
    (1_785_499_200.999, "2026-07-31T12:00:00Z"),
    (253_402_300_800, "10000-01-01T00:00:00Z"),
])
def test_to_the_second(seconds: float, text: str) -> None:
    assert iso_utc(seconds) == text


@pytest.mark.parametrize(("ms", "text"), [
    (0, "1970-01-01T00:00:00.000Z"), (1_785_499_200_007, "2026-07-31T12:00:00.007Z"),
    (1_785_499_200_999, "2026-07-31T12:00:00.999Z"), (-1, "1969-12-31T23:59:59.999Z"),
])
def test_to_the_millisecond(ms: int, text: str) -> None:
    assert iso_utc_ms(ms) == text


def test_the_same_bytes_as_the_datetime_forms_it_replaced() -> None:
    for seconds in SECONDS:
        moment = datetime.fromtimestamp(seconds, UTC)
        assert iso_utc(seconds) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        for ms in (seconds * 1000, seconds * 1000 + 1, seconds * 1000 + 999):
            old = datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
            assert iso_utc_ms(ms) == old.replace("+00:00", "Z")


def test_an_aware_moment_is_written_in_utc() -> None:
    east = datetime(2026, 7, 31, 14, 30, 5, 900_000, tzinfo=timezone(timedelta(hours=2)))
    assert iso_utc_of(east) == "2026-07-31T12:30:05Z"
