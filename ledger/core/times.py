"""Times as ledger writes them: RFC 3339 in UTC with a ``Z``, to the second
(``2027-01-31T12:00:00Z``: receipts, anchors, verdicts, exports, the CLI) or to the
millisecond (``2027-01-31T12:00:00.000Z``: webhook timestamps, lifecycle times).

Both are wire formats: a change here changes bytes that others store and compare.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def iso_utc(seconds: float) -> str:
    """``seconds`` since the Unix epoch (a fraction is dropped) to the second."""
    # gmtime, not datetime: it also writes the years past 9999 a hostile input may give.
    return time.strftime(_SECONDS, time.gmtime(seconds))


def iso_utc_ms(ms: int) -> str:
    """``ms`` milliseconds since the Unix epoch, to the millisecond."""
    return f"{iso_utc(ms // 1000)[:-1]}.{ms % 1000:03d}Z"


def iso_utc_of(moment: datetime) -> str:
    """An aware ``moment``, in UTC, to the second."""
    return moment.astimezone(UTC).strftime(_SECONDS)
