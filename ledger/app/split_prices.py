"""What the settler may charge a usage group: the split version on chain that carries
the terms in force when the usage happened, verified, or why none may be charged.

The splitter charges only an asset's latest split version (it skips items of superseded
ones), so a group is priced only when that version's source is its period's source
(`ledger.core.royalty.periods`): the manifest's terms, named by the manifest's digest,
as before amendments existed (any anchored manifest of the same creator and asset whose
terms the version carries exactly); or an amendment's, named by the amend statement's
digest, anchored here, whose amended terms (`History.terms_at` its effective time) over
its manifest's the version carries exactly. Otherwise the usage is held with the reason.

Because only the latest version is charged, an amendment's version may be registered
only once no usage before its ``effectiveAt`` can still need the earlier one
(`UnsettledUsage`, read by ``ledger creator split --statement``); usage that does is
held with the way back (`SUPERSEDED`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ledger.app.terms import TermsBook
from ledger.chain.contracts.splitter import RoyaltySplitter, SplitVersion
from ledger.core.records import BatchStatus, StatementRecord
from ledger.core.royalty.settlement import PricedSplit, UsageGroup
from ledger.core.royalty.terms import AssetTerms
from ledger.errors import LedgerError
from ledger.storage.manifests import ManifestStore


class StatementLookup(Protocol):
    """Where stored statements are read (`ledger.storage.statements.StatementStore`)."""

    async def get(self, digest: bytes) -> StatementRecord | None:
        """The stored statement with this digest, or None."""


#: Why usage from before an amendment's ``effectiveAt`` is held once the amendment's
#: version superseded the one of its own terms, and what the creator can do.
SUPERSEDED = ("split version {version} prices the amendment 0x{digest}: this usage before "
              "it is due under the earlier terms, superseded unsettled; the creator "
              "registers them again (`ledger creator split`), lets it settle, then the "
              "amendment again")


class UnsettledStore(Protocol):
    """Where unsettled usage is counted (`ledger.storage.usage.UsageStore`)."""

    async def unsettled_before(self, creator_id: str, asset_key: bytes, before: int
                               ) -> tuple[int, int]:
        """Events and units of the asset with a time before ``before`` not yet settled."""


@dataclass(frozen=True)
class UnsettledUsage:
    """What stands between an amendment effective at ``before`` and the registration of
    its split version: usage from before it still unsettled, and the end of the intake
    window in which usage stamped before it may still arrive promptly reported."""

    creator_id: str
    asset_id: str
    asset_key: bytes
    before: int
    events: int
    units: int
    window_ends_at: int
    now: int

    @property
    def ready(self) -> bool:
        """True when the amendment's version may be registered now."""
        return self.events == 0 and self.now >= self.window_ends_at

    def to_obj(self) -> dict[str, Any]:
        """The answer of ``GET /v1/manifests/{d}/assets/{id}/unsettled?before=``."""
        return {"creatorId": self.creator_id, "assetId": self.asset_id,
                "assetKey": "0x" + self.asset_key.hex(), "before": self.before,
                "events": self.events, "units": self.units,
                "windowEndsAt": self.window_ends_at, "now": self.now, "ready": self.ready}


async def unsettled_usage(store: UnsettledStore, terms: AssetTerms, window_s: float,
                          before: int, now: int) -> UnsettledUsage:
    """The usage of the asset of ``terms`` (every manifest version of it: they share its
    key) from before ``before`` (ms) not settled yet, at ``now``.

    Usage is accepted from a request stamped within ``window_s`` of the service's clock,
    so promptly reported usage stamped before ``before`` arrives by
    ``before + window_s``; the event's own time is not bounded (a late report is held
    with `SUPERSEDED` if the amendment's version is registered before it settles).
    """
    events, units = await store.unsettled_before(terms.creator_id, terms.asset_key, before)
    return UnsettledUsage(terms.creator_id, terms.asset_id, terms.asset_key, before, events,
                          units, before + int(window_s * 1000), now)


class SplitPrices:
    """Verdicts on split versions, kept once final (a version never changes)."""

    def __init__(self, splitter: RoyaltySplitter, manifests: ManifestStore, book: TermsBook,
                 statements: StatementLookup | None = None) -> None:
        self._splitter = splitter
        self._manifests = manifests
        self._book = book
        self._statements = statements
        self._verified: dict[tuple[bytes, int, bytes | None], PricedSplit | str] = {}

    def forget(self) -> None:
        """Drop every verdict: a version changed between pricing and quoting."""
        self._verified.clear()

    async def price(self, group: UsageGroup) -> PricedSplit | str:
        """The latest split version of the group's asset if it carries the terms of the
        group's period; else why not (the usage is held meanwhile)."""
        key = group.asset_key
        version = await self._splitter.latest_version(key)
        if version == 0:
            return "no split is registered on chain for this asset yet"
        source = group.period.source if group.period is not None else None
        cached = self._verified.get((key, version, source))
        if cached is None:
            info = await self._splitter.split_version(key, version)
            if source is None:
                cached, final = await self._verify(group, version, info)
            else:
                cached, final = await self._verify_amended(group, version, info, source)
            if final:
                self._verified[(key, version, source)] = cached
        return cached

    async def _verify(self, group: UsageGroup, version: int, info: SplitVersion
                      ) -> tuple[PricedSplit | str, bool]:
        """The verdict on a version for usage under a manifest's terms, and whether it is
        final (worth keeping): its manifest may not be anchored here yet."""
        digest = info.manifest_digest
        record = await self._manifests.get(digest)
        if record is None or record.status != BatchStatus.CONFIRMED.value:
            amend = await self._amend(digest)
            if amend is not None and group.period is not None:
                return SUPERSEDED.format(version=version, digest=digest.hex()), True
            return (f"split version {version} names manifest 0x{digest.hex()}, "
                    "not anchored here"), False
        try:
            terms = await self._book.asset_terms(digest, group.asset_id)
        except LedgerError as exc:
            return f"split version {version}: {exc.message}", True
        if (terms.creator_id != group.creator_id or terms.asset_key != group.asset_key
                or not info.carries(terms.split)):
            return f"split version {version} does not carry the terms of its manifest", True
        return PricedSplit(version, info.token, info.price_per_unit, digest), True

    async def _verify_amended(self, group: UsageGroup, version: int, info: SplitVersion,
                              source: bytes) -> tuple[PricedSplit | str, bool]:
        """The verdict on a version for usage under the amendment ``source``'s terms."""
        assert group.period is not None
        if info.manifest_digest != source:
            return (f"no split version carries the terms of the amendment 0x{source.hex()} in "
                    f"force from {group.period.start} (the latest is {version}): the creator "
                    "registers it with `ledger creator split --statement`"), False
        amend = await self._amend(source)
        if amend is None or amend.status != BatchStatus.CONFIRMED.value:
            return (f"split version {version} names the amendment 0x{source.hex()}, "
                    "not anchored here yet"), False
        try:
            terms = await self._book.amended_terms(amend.manifest_digest, group.asset_id,
                                                   source, group.period.terms)
        except LedgerError as exc:
            return f"split version {version}: {exc.message}", True
        if (terms.creator_id != group.creator_id or terms.asset_key != group.asset_key
                or not info.carries(terms.split)):
            return (f"split version {version} does not carry the terms of the amendment "
                    f"0x{source.hex()}"), True
        return PricedSplit(version, info.token, info.price_per_unit, source), True

    async def _amend(self, digest: bytes) -> StatementRecord | None:
        if self._statements is None:
            return None
        record = await self._statements.get(digest)
        return record if record is not None and record.type == "amend" else None
