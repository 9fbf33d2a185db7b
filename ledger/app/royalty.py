"""Usage intake and usage receipts (issue 5).

`UsageService` authenticates a request (HMAC per source), validates each event,
resolves its asset against the stored manifest (price, unit, split owner, asset key),
and stores it durably with group commit, idempotent by event id. The buyer and
creator views are `ledger.app.accounts`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.app.clock import now_ms
from ledger.app.events import Announcer
from ledger.app.group_commit import GroupCommitWriter
from ledger.app.histories import Histories
from ledger.app.terms import TermsBook
from ledger.app.withdrawals import WithdrawalWatch
from ledger.config import RoyaltySettings
from ledger.core.canonical import parse_strict
from ledger.core.events import USAGE_REFUSED
from ledger.core.hashing import to_hex
from ledger.core.merkle import split_levels
from ledger.core.proof import Anchor, ProofBundle
from ledger.core.records import BatchStatus
from ledger.core.royalty.auth import (
    KeyRing,
    check_event_source,
    check_request_headers,
    verify_request,
)
from ledger.core.royalty.events import (
    NewUsage,
    UsageEvent,
    UsageReceipt,
    UsageRecord,
    event_digest,
    parse_usage_body,
)
from ledger.core.royalty.terms import chain_units
from ledger.errors import (
    BuyerWithdrawing,
    ConfigError,
    Conflict,
    LedgerError,
    LicenceRefused,
    NotFound,
    StorageError,
)
from ledger.storage.manifests import ManifestStore
from ledger.storage.usage import UsageStore

log = logging.getLogger(__name__)

_Waiter = tuple[Sequence[NewUsage], "asyncio.Future[list[tuple[bytes, bool]]]"]


@dataclass(frozen=True)
class Accepted:
    """One event's outcome: 202 stored now, 200 stored before, or an error."""

    event_id: str
    digest: bytes
    created: bool

    def to_obj(self) -> dict[str, Any]:
        """The per-event JSON answer."""
        return {"eventId": self.event_id, "eventDigest": to_hex(self.digest),
                "httpStatus": 202 if self.created else 200,
                "status": "accepted" if self.created else "duplicate"}


UsageWriter = GroupCommitWriter[NewUsage, tuple[bytes, bool]]


def usage_writer(store: UsageStore) -> UsageWriter:
    """The group-commit writer of usage events: (stored digest, created) per event."""
    return GroupCommitWriter(store.add, name="usage-writer", max_group=50_000)


class KeyRingSource:
    """The metering sources' keys, from settings or a keys file re-read when it changes.

    Editing the file rotates keys without a restart (checked at most once a second).
    """

    def __init__(self, settings: RoyaltySettings) -> None:
        self._inline = settings.usage_keys
        self._path: Path | None = settings.usage_keys_file
        self._ring = KeyRing({})
        self._stamp: float | None = None
        self._checked = 0.0
        if self._inline:
            self._ring = _parse_ring(self._inline.encode(), "usage_keys")
        elif self._path is not None:
            self.get()

    def get(self) -> KeyRing:
        """The current key ring (empty: every usage request is refused)."""
        if self._path is None or self._inline:
            return self._ring
        now = time.monotonic()
        if now - self._checked < 1.0 and self._stamp is not None:
            return self._ring
        self._checked = now
        try:
            stamp = os.stat(self._path).st_mtime_ns
            if stamp != self._stamp:
                self._ring = _parse_ring(self._path.read_bytes(), "usage_keys_file")
                self._stamp = stamp
        except OSError as exc:
            raise ConfigError(f"cannot read {self._path}: {exc.strerror}",
                              field="usage_keys_file") from exc
        return self._ring


def _parse_ring(data: bytes, field: str) -> KeyRing:
    try:
        return KeyRing.from_obj(parse_strict(data))
    except LedgerError as exc:
        raise ConfigError(f"bad usage keys: {exc}", field=field) from exc


class UsageService:
    """Usage intake and receipts over the stores."""

    def __init__(
        self,
        settings: RoyaltySettings,
        store: UsageStore,
        manifests: ManifestStore,
        writer: UsageWriter,
        *,
        chain_id: int,
        registry: str,
        withdrawals: WithdrawalWatch | None = None,
        terms_book: TermsBook | None = None,
        histories: Histories | None = None,
        events: Announcer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.manifests = manifests
        self.terms_book = terms_book or TermsBook(manifests)
        self._writer = writer
        self._keys = KeyRingSource(settings)
        self._chain_id = chain_id
        self._registry = registry
        self._withdrawals = withdrawals
        self._histories = histories
        self._events = events

    async def close(self) -> None:
        """Flush pending writes."""
        await self._writer.stop()

    # -- intake ------------------------------------------------------------------------

    def check_headers(self, headers: Mapping[str, str]) -> None:
        """Refuse (UsageAuthError) a request whose headers alone fail authentication: an
        unknown source, a stale timestamp, a malformed signature. Checked before the
        body is read, so an unauthenticated client cannot make the service hold one."""
        check_request_headers(
            self._keys.get(), headers.get("X-Ledger-Source"),
            headers.get("X-Ledger-Timestamp"), headers.get("X-Ledger-Signature"),
            now_s=time.time(), window_s=self.settings.usage_window_s,
        )

    def authenticate(self, headers: Mapping[str, str], body: bytes) -> str:
        """The source that signed the request; UsageAuthError if none did."""
        source = headers.get("X-Ledger-Source")
        verify_request(
            self._keys.get(), source, headers.get("X-Ledger-Timestamp"),
            headers.get("X-Ledger-Signature"), body, now_s=time.time(),
            window_s=self.settings.usage_window_s,
        )
        assert source is not None
        return source

    async def accept(self, source: str, body: Any) -> tuple[list[Accepted | LedgerError], bool]:
        """Check and store the events of a parsed body from an authenticated ``source``.

        Returns one outcome per event and whether the body was the batch form. The
        single form raises its error instead; in the batch form a bad event is
        reported and the others are stored.
        """
        objs, prefix = parse_usage_body(body)
        if self._withdrawals is not None:
            await self._withdrawals.refresh()
        now = now_ms()
        checked: list[NewUsage | LedgerError] = []
        for index, obj in enumerate(objs):
            where = f"{prefix}[{index}]" if prefix else ""
            try:
                checked.append(await self._check(obj, source, where, now))
            except LedgerError as exc:
                if not prefix:
                    raise
                checked.append(exc)
        good = [c for c in checked if isinstance(c, NewUsage)]
        stored = iter(await self._writer.add(good) if good else [])
        out: list[Accepted | LedgerError] = []
        for item in checked:
            if isinstance(item, LedgerError):
                out.append(item)
                continue
            digest, created = next(stored)
            if digest != item.digest:
                conflict = Conflict(f"event id {item.event_id} was used for another event",
                                    field=f"{prefix}[{len(out)}].eventId" if prefix
                                    else "eventId")
                if not prefix:
                    raise conflict
                out.append(conflict)
                continue
            out.append(Accepted(item.event_id, digest, created))
        return out, bool(prefix)

    async def _check(self, obj: Any, source: str, where: str, now: int) -> NewUsage:
        event = UsageEvent.from_obj(obj, where)
        check_event_source(event, source, where)
        terms = await self.terms_book.asset_terms(
            event.asset.manifest_digest, event.asset.asset_id,
            f"{where}.asset" if where else "asset")
        units = chain_units(event.units, event.unit, terms.price.unit, where)
        canonical = event.canonical()
        digest = event_digest(canonical)
        await self._refuse_unlicensed(event, terms.creator_id, where, (source, digest))
        await self._refuse_withdrawing(event.buyer, terms.price.token, where,
                                       retry_of=(source, event.event_id, digest))
        return NewUsage(
            event_id=event.event_id, digest=digest, body=canonical,
            source=source, buyer=event.buyer, creator_id=terms.creator_id,
            manifest_digest=terms.manifest_digest, asset_id=terms.asset_id,
            asset_key=terms.asset_key, token=terms.price.token, units=units,
            event_time=event.time_ms, accepted_at=now,
        )

    async def _refuse_unlicensed(self, event: UsageEvent, creator_id: str, where: str,
                                 sent: tuple[str, bytes]) -> None:
        """LicenceRefused, naming the statement, when the asset's lifecycle refuses
        ``event.buyer``'s usage at the event's time (revoked, withdrawn, taken down, or
        exclusive to another buyer): such usage is never stored, so never settled; the
        refusal is announced (``usage.refused``) once per event, however often it is
        sent. A notice period or an open dispute refuses nothing."""
        if self._histories is None:
            return
        history = await self._histories.history(event.asset.manifest_digest,
                                                event.asset.asset_id)
        refusal = history.refusal(event.buyer, event.time_ms)
        if refusal is None:
            return
        source, digest = sent
        if self._events is not None:
            await self._events.announce(None, USAGE_REFUSED, {
                "source": source, "eventId": event.event_id, "eventDigest": to_hex(digest),
                "buyer": event.buyer, "creatorId": creator_id,
                "manifestDigest": to_hex(event.asset.manifest_digest),
                "assetId": event.asset.asset_id, "time": event.time_ms,
                "statement": to_hex(refusal.statement), "reason": refusal.reason,
            }, key=f"{source}:{digest.hex()}")
        raise LicenceRefused(f"usage at {event.time_ms} is refused: {refusal.reason}",
                             statement=refusal.statement,
                             field=f"{where}.asset" if where else "asset")

    async def _refuse_withdrawing(self, buyer: str, token: str, where: str, *,
                                  retry_of: tuple[str, str, bytes]) -> None:
        """BuyerWithdrawing while ``buyer`` is taking its deposit in ``token`` out: usage
        metered now might not be settled before the deposit leaves (issue 11). A source's
        retry of an event it stored before, same id and same content, is let through: it
        is answered as already stored and meters nothing new."""
        leaving = self._withdrawals.withdrawing(buyer, token) if self._withdrawals else None
        if leaving is not None:
            source, event_id, digest = retry_of
            stored = await self.store.get(source, event_id)
            if stored is not None and stored.digest == digest:
                return
            raise BuyerWithdrawing(
                f"buyer {buyer} asked to withdraw {leaving.amount} of its deposit in {token} "
                f"(payable from {leaving.withdrawable_at}); no new usage is metered for it "
                f"until the request is cancelled, paid out or lapses at {leaving.lapses_at}",
                field=f"{where}.buyer" if where else "buyer")

    # -- receipts -----------------------------------------------------------------------

    async def stored_event(self, source: str, event_id: str) -> UsageRecord:
        """The event `source` stored under `event_id`; NotFound if there is none."""
        record = await self.store.get(source, event_id)
        if record is None:
            raise NotFound(f"no usage event {event_id} of source {source}")
        return record

    async def receipt(self, record: UsageRecord) -> UsageReceipt | None:
        """The usage receipt of an event whose batch is anchored, else None."""
        if record.batch_number is None or record.leaf_index is None:
            return None
        batch = await self.manifests.batch(record.batch_number)
        if batch is None or batch.status is not BatchStatus.CONFIRMED or batch.anchor is None:
            return None
        blob = await self.manifests.levels(batch.number)
        if blob is None:
            raise StorageError(f"batch {batch.number} has no stored tree")
        tree = await asyncio.to_thread(split_levels, blob, batch.leaf_count)
        anchor = Anchor(self._chain_id, self._registry, batch.number, batch.anchor.tx_hash,
                        batch.anchor.block_number, batch.anchor.block_hash,
                        batch.anchor.block_timestamp)
        bundle = ProofBundle.build(tree, record.leaf_index, record.digest, anchor=anchor)
        return UsageReceipt(UsageEvent.from_obj(parse_strict(record.body)), bundle)

    async def event_json(self, record: UsageRecord) -> dict[str, Any]:
        """An event's status, settlement and hold."""
        settlement = None
        s = (await self.store.settlement(record.settlement_id)
             if record.settlement_id is not None else None)
        if s is not None:
            settlement = {"id": s.id, "status": s.status.value, "usageRoot": to_hex(s.usage_root),
                          "part": s.part, "txHash": to_hex(s.tx_hash) if s.tx_hash else None}
        return {"eventId": record.event_id, "eventDigest": to_hex(record.digest),
                "status": record.status, "batchNumber": record.batch_number,
                "leafIndex": record.leaf_index, "units": record.units,
                "settlement": settlement, "hold": record.hold_reason,
                "refusal": record.refusal}
