"""Which terms price usage at a time: an asset's periods between amendments (issue 17).

An amendment changes an asset's terms from its ``effectiveAt`` on; usage before it is
charged under the terms in force before (the manifest's, or an earlier amendment's).
A period is named by the **source** of its terms: None for the manifest's own, else
the digest of the amend statement applied last at its start. The split version that
prices a period names that source as its ``manifestDigest``.

Pure: derived from a `History` alone, so the settler, the views and a verifier agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.core.licence_status import History
from ledger.core.statements import AMEND


@dataclass(frozen=True)
class Period:
    """Terms in force from ``start`` (ms; None: since the beginning) until the next
    period's start: the amended members ``terms`` (empty: the manifest's own), from the
    amend statement ``source`` (None: the manifest)."""

    start: int | None
    source: bytes | None
    terms: dict[str, Any] = field(default_factory=dict, compare=False)


def periods(history: History) -> list[Period]:
    """The asset's periods in time order; one (the manifest's) when it was never amended.

    Two amendments effective at the same time make one period, whose source is the
    one applied last (the order of `History.terms_at`: effective time, issuedAt, digest).
    """
    amends = sorted((s for s in history.valid if s.type == AMEND and s.effective_at is not None),
                    key=lambda s: (s.effective_at, s.issued_at, s.digest()))
    out = [Period(None, None)]
    for amend in amends:
        assert amend.effective_at is not None
        if out[-1].start == amend.effective_at:
            out.pop()
        out.append(Period(amend.effective_at, amend.digest(),
                          history.terms_at(amend.effective_at)))
    return out


def period_at(periods_: Sequence[Period], at: int) -> Period:
    """The period in force at ``at`` (ms): usage at a period's start is already in it."""
    found = periods_[0]
    for period in periods_[1:]:
        if period.start is not None and period.start <= at:
            found = period
    return found
