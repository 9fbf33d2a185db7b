"""The wall clock as ledger records it: integer milliseconds since the Unix epoch.

Reading the clock is kept out of ``ledger.core`` (which takes times as arguments),
so every use case, worker and command reads it here.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    """Wall-clock time in integer milliseconds."""
    return time.time_ns() // 1_000_000
