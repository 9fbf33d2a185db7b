"""A rate limit per caller: a token bucket for each key (a client address), held in
memory by this process, with the least recently seen keys forgotten past a bound so a
flood of new callers cannot grow it without end."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from ledger.errors import RateLimited


class RateLimit:
    """At most ``per_minute`` requests a minute per key, in bursts of up to that many."""

    def __init__(self, per_minute: int, *, what: str, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self._capacity = float(per_minute)
        self._per_s = per_minute / 60.0
        self._what = what
        self._max_keys = max_keys
        self._clock = clock
        # key -> (tokens left, when last refilled)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> None:
        """Spend one request of ``key``'s allowance; RateLimited (with the seconds until
        one is free again) when none is left."""
        now = self._clock()
        tokens, then = self._buckets.pop(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - then) * self._per_s)
        if tokens < 1.0:
            self._keep(key, tokens, now)
            wait = math.ceil((1.0 - tokens) / self._per_s)
            raise RateLimited(f"too many {self._what}: try again in {wait} s",
                              retry_after_s=wait)
        self._keep(key, tokens - 1.0, now)

    def _keep(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
