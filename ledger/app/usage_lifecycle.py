"""Anchored usage checked again at settlement against the asset's lifecycle (issue 17).

Intake refuses usage a stored statement refuses, but a statement may reach the service
after usage it refuses (a consent withdrawal is accepted up to 10 minutes after it was
signed, and takes effect when signed). So before any usage is priced, each event of an
asset something was said about is checked against its history as known now
(`History.refusal(buyer, time)`): a refused event is marked so, with the reason naming
the statement, and is never settled; the rest is split by the terms' periods
(`ledger.core.royalty.periods`), each part a group of its own, charged under the split
version of its period. Assets nothing was said about pass unchanged, read as groups.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from ledger.app.histories import Histories
from ledger.core.licence_status import History
from ledger.core.royalty.periods import Period, period_at, periods
from ledger.core.royalty.settlement import UsageGroup
from ledger.storage.usage_refusals import GroupEvent

log = logging.getLogger(__name__)


class GroupEvents(Protocol):
    """Where a group's events are read one by one and refused (`UsageStore`)."""

    async def group_events(self, group: UsageGroup) -> list[GroupEvent]:
        """The unsettled, unrefused events of the group."""

    async def refuse(self, group: UsageGroup, refusals: Sequence[tuple[int, str]]) -> int:
        """Mark events (seq, reason) refused; returns how many were marked."""


class UsageLifecycle:
    """Refuses what the lifecycle refuses and splits the rest by the terms' periods."""

    def __init__(self, store: GroupEvents, histories: Histories) -> None:
        self._store = store
        self._histories = histories

    async def check(self, groups: Sequence[UsageGroup]) -> list[UsageGroup]:
        """The usage of ``groups`` still to settle, one group per period of each; the
        refused events are marked and left out."""
        out: list[UsageGroup] = []
        for group in groups:
            history = await self._histories.history(group.manifest_digest, group.asset_id)
            if group.manifests == 1 and not history.valid:
                out.append(group)
            else:
                out.extend(await self._split(group, history))
        return out

    async def _split(self, group: UsageGroup, history: History) -> list[UsageGroup]:
        # Events may name several manifests of the asset (a new version keeps its key).
        known = {group.manifest_digest: (history, periods(history))}
        refused: list[tuple[int, str]] = []
        parts: dict[bytes | None, tuple[Period, list[GroupEvent]]] = {}
        for event in await self._store.group_events(group):
            if event.manifest_digest not in known:
                other = await self._histories.history(event.manifest_digest, group.asset_id)
                known[event.manifest_digest] = (other, periods(other))
            found, spans = known[event.manifest_digest]
            refusal = found.refusal(group.buyer, event.event_time)
            if refusal is not None:
                refused.append((event.seq, f"refused at settlement: {refusal.reason}"))
                continue
            period = period_at(spans, event.event_time)
            parts.setdefault(period.source, (period, []))[1].append(event)
        if refused:
            marked = await self._store.refuse(group, refused)
            log.warning("%d usage events of %s for %s: %s", marked,
                        group.buyer, group.asset_id, refused[0][1])
        return [_part(group, period, events) for period, events in parts.values()]


def _part(group: UsageGroup, period: Period, events: list[GroupEvent]) -> UsageGroup:
    return replace(group, units=sum(e.units for e in events), events=len(events),
                   seqs=tuple(e.seq for e in events),
                   manifests=len({e.manifest_digest for e in events}), period=period)
