"""The per-caller rate limit: bursts up to the allowance, refill over time, a wait
named in whole seconds, callers apart, and a bounded memory."""

from __future__ import annotations

import pytest

from ledger.app.rate_limit import RateLimit
from ledger.errors import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_allowance_then_a_wait_until_one_is_free() -> None:
    clock = Clock()
    limit = RateLimit(3, what="things", clock=clock)
    for _ in range(3):
        limit.take("a")
    with pytest.raises(RateLimited, match="too many things") as refused:
        limit.take("a")
    assert refused.value.retry_after_s == 20  # one every 60/3 s
    clock.now += 19.5
    with pytest.raises(RateLimited) as still:
        limit.take("a")
    assert still.value.retry_after_s == 1
    clock.now += 0.5
    limit.take("a")


def test_callers_have_their_own_allowance() -> None:
    limit = RateLimit(1, what="things", clock=Clock())
    limit.take("a")
    limit.take("b")
    with pytest.raises(RateLimited):
        limit.take("a")


def test_a_long_idle_caller_gets_no_more_than_one_burst() -> None:
    clock = Clock()
    limit = RateLimit(2, what="things", clock=clock)
    clock.now += 3_600
    limit.take("a")
    limit.take("a")
    with pytest.raises(RateLimited):
        limit.take("a")


def test_the_least_recently_seen_callers_are_forgotten_past_the_bound() -> None:
    limit = RateLimit(1, what="things", max_keys=2, clock=Clock())
    for key in ("a", "b", "c"):  # "a" is forgotten when "c" arrives
        limit.take(key)
    limit.take("a")
    with pytest.raises(RateLimited):
        limit.take("c")


def test_an_allowance_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        RateLimit(0, what="things")
