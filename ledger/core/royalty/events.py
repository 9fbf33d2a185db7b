"""Usage events: what a metering source reports, its digest, its stored forms, and
the usage receipt that proves an event was anchored.

A metering source (a CDN edge, a training job) reports **usage events**: who
used which asset (manifest digest + asset id), how many units, when. The
service stores each event once by its id, puts event digests into the same
Merkle trees as manifests, and settles the units on the `RoyaltySplitter` at the
price of the asset's anchored manifest.

Consensus-critical: `UsageEvent.digest` is a Merkle leaf that goes on chain and
into usage receipts; a change needs a new tag (``ledger-usage-v1``) and new
vectors (docs/proof-format.md, "Usage receipts").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ledger.core import fields
from ledger.core.fields import Fields
from ledger.core.hashing import sha256, to_hex
from ledger.core.proof import ProofBundle
from ledger.errors import ProofError, ValidationError

USAGE_TAG = b"ledger-usage-v1\n"
"""Domain tag of an event digest: a usage leaf can never be read as a manifest digest."""

USAGE_UNITS = ("sample", "1k-samples", "epoch")
MAX_UNITS = 10**12
"""Most units one event may carry; a larger count is a meter bug, not usage."""

MAX_EVENTS = 10_000
"""Most events one batch request may carry."""

_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_TIME = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{3}))?Z"
)
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_EVENT_MEMBERS = frozenset({"eventId", "buyer", "asset", "units", "unit", "time", "source"})
_EVENT_REQUIRED = ("eventId", "buyer", "asset", "units", "time", "source")
_ASSET_MEMBERS = frozenset({"manifestDigest", "assetId"})


@dataclass(frozen=True)
class AssetRef:
    """An asset as usage names it: the manifest that describes it and its id there."""

    manifest_digest: bytes
    asset_id: str

    @classmethod
    def from_obj(cls, obj: Any, where: str = "asset") -> AssetRef:
        """Parse ``{"manifestDigest": "0x…", "assetId": "asset:…"}``."""
        f = Fields.of_object(obj, where, allowed=_ASSET_MEMBERS,
                             required=("manifestDigest", "assetId"))
        return cls(f.hex_bytes("manifestDigest"),
                   f.match("assetId", fields.ASSET_ID, '"asset:" and a lower-case slug'))

    def to_obj(self) -> dict[str, Any]:
        """The JSON object `from_obj` reads."""
        return {"manifestDigest": to_hex(self.manifest_digest), "assetId": self.asset_id}


# What a failing member must be; formatted once, not per event (intake reads thousands).
_UNITS_EXPECTED = f"an integer from 1 to {MAX_UNITS:,}"
_EVENT_ID_EXPECTED = "1 to 128 characters: letters, digits and ._:- (first alphanumeric)"
_SOURCE_EXPECTED = "a source id: lower-case letters, digits and ._- (at most 64)"


@dataclass(frozen=True)
class UsageEvent:
    """One metered use of an asset by a buyer, as a source reported it.

    ``buyer`` is kept EIP-55 checksummed; ``unit`` is None when the event counts
    in the asset's own price unit; ``time`` is RFC 3339 UTC, optionally with
    milliseconds, and is when the use happened.
    """

    event_id: str
    buyer: str
    asset: AssetRef
    units: int
    time: str
    source: str
    unit: str | None = None

    @classmethod
    def from_obj(cls, obj: Any, where: str = "") -> UsageEvent:
        """Validate a parsed event; ValidationError names the field (``events[3].units``)."""
        f = Fields.of_object(obj, where, allowed=_EVENT_MEMBERS, required=_EVENT_REQUIRED)
        units = f.integer("units", 1, MAX_UNITS, _UNITS_EXPECTED)
        # An explicit null counts in the price unit, as an absent unit does.
        unit = f.choice("unit", USAGE_UNITS) if f.value.get("unit") is not None else None
        return cls(
            event_id=f.match("eventId", _EVENT_ID, _EVENT_ID_EXPECTED),
            buyer=f.checksummed_address("buyer"),
            asset=AssetRef.from_obj(f["asset"], f.path("asset")),
            units=units,
            time=_time(f, "time"),
            source=f.match("source", fields.SOURCE, _SOURCE_EXPECTED),
            unit=unit,
        )

    def to_obj(self) -> dict[str, Any]:
        """The event as a JSON object: ``from_obj(e.to_obj()) == e``."""
        obj: dict[str, Any] = {
            "eventId": self.event_id,
            "buyer": self.buyer,
            "asset": self.asset.to_obj(),
            "units": self.units,
            "time": self.time,
            "source": self.source,
        }
        if self.unit is not None:
            obj["unit"] = self.unit
        return obj

    def canonical(self) -> bytes:
        """The RFC 8785 bytes of `to_obj`: what the digest covers and the service stores.

        Written directly: every member is validated to be an integer or an ASCII
        string that JSON writes without escapes, and the member order below is
        RFC 8785's (sorted by UTF-16 code units), so this is ``JCS(to_obj())``,
        which the tests check, at a fifth of the cost.
        """
        unit = f',"unit":"{self.unit}"' if self.unit is not None else ""
        return (
            f'{{"asset":{{"assetId":"{self.asset.asset_id}",'
            f'"manifestDigest":"{to_hex(self.asset.manifest_digest)}"}},'
            f'"buyer":"{self.buyer}","eventId":"{self.event_id}","source":"{self.source}",'
            f'"time":"{self.time}"{unit},"units":{self.units}}}'
        ).encode()

    def digest(self) -> bytes:
        """``SHA-256("ledger-usage-v1\\n" ‖ JCS(event))``: the event's Merkle leaf digest."""
        return sha256(USAGE_TAG + self.canonical())

    @property
    def time_ms(self) -> int:
        """`time` as milliseconds since the Unix epoch."""
        return time_ms(self.time)


def event_digest(canonical: bytes) -> bytes:
    """The digest of an event from its canonical bytes (see `UsageEvent.digest`)."""
    return sha256(USAGE_TAG + canonical)


def parse_usage_body(body: Any) -> tuple[list[Any], str]:
    """The events of a ``POST /v1/usage`` body and the JSON path prefix of each.

    One event object, or ``{"events": [...]}`` with 1 to `MAX_EVENTS` of them;
    the prefix is ``""`` for the single form and ``"events"`` for the batch form.
    """
    if isinstance(body, dict) and "events" in body:
        Fields.of_object(body, allowed=("events",), required=("events",))
        events = body["events"]
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
            raise ValidationError(f"must be a list of 1 to {MAX_EVENTS:,} events", field="events")
        return events, "events"
    if not isinstance(body, dict):
        raise ValidationError('body must be an event object or {"events": [...]}')
    return [body], ""


def _time(f: Fields, name: str) -> str:
    # Usage times may carry milliseconds, which `Fields.timestamp` refuses.
    value = f[name]
    if not isinstance(value, str) or not (match := _TIME.fullmatch(value)):
        f.fail(name, "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SS[.mmm]Z")
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    if day > _DAYS_IN_MONTH[month] or (
        month == 2 and day == 29 and not fields.is_leap_year(year)
    ):
        f.fail(name, f"{value} is not a real date")
    return value


def time_ms(text: str) -> int:
    """Milliseconds since the Unix epoch of a time `UsageEvent` accepted."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValidationError("must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SS[.mmm]Z")
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    seconds = (_days_from_civil(year, month, day) * 86400 + int(match[4]) * 3600
               + int(match[5]) * 60 + int(match[6]))
    return seconds * 1000 + int(match[7] or 0)


def _days_from_civil(year: int, month: int, day: int) -> int:
    # Howard Hinnant's algorithm: exact for the proleptic Gregorian calendar.
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


# -- stored forms --------------------------------------------------------------------


@dataclass(frozen=True)
class NewUsage:
    """A verified usage event ready to be stored (units already in the split's unit)."""

    event_id: str
    digest: bytes
    body: bytes
    source: str
    buyer: str
    creator_id: str
    manifest_digest: bytes
    asset_id: str
    asset_key: bytes
    token: str
    units: int
    event_time: int
    accepted_at: int


@dataclass(frozen=True)
class UsageRecord:
    """A stored usage event and where it stands.

    ``status``: pending → batched → submitted → confirmed (its batch), then
    ``settling`` / ``settled`` (its settlement) or ``held`` (see ``hold_reason``), or
    ``refused`` (``refusal`` names the statement that refused it after it was stored);
    `ledger.core.royalty.settlement.event_status` decides which.
    """

    event_id: str
    digest: bytes
    body: bytes
    buyer: str
    creator_id: str
    asset_key: bytes
    token: str
    units: int
    accepted_at: int
    batch_number: int | None
    leaf_index: int | None
    status: str
    settlement_id: int | None
    hold_reason: str | None
    refusal: str | None = None


# -- usage receipts ------------------------------------------------------------------

RECEIPT_VERSION = "ledger-usage-receipt/1"


@dataclass(frozen=True)
class UsageReceipt:
    """A usage event with the proof that its digest is a leaf of an anchored batch.

    JSON: ``{"version": "ledger-usage-receipt/1", "event": {…}, "proof": {…}}`` where
    ``proof`` is a ``ledger-proof/1`` bundle whose ``manifestDigest`` member holds
    the leaf's digest, here the event digest. `from_obj` checks that the event
    hashes to that digest and that the proof leads to the root; whether the root
    is anchored is checked on chain (``verifyInclusion(eventDigest, proof, root)``).
    """

    event: UsageEvent
    proof: ProofBundle

    @classmethod
    def from_obj(cls, obj: Any) -> UsageReceipt:
        """Parse and check a receipt; ProofError or ValidationError names the member."""
        members = ("version", "event", "proof")
        m = Fields.of_object(obj, allowed=members, required=members)
        if m["version"] != RECEIPT_VERSION:
            raise ProofError(f'must be "{RECEIPT_VERSION}"', field="version")
        event = UsageEvent.from_obj(m["event"], "event")
        bundle = ProofBundle.from_obj(m["proof"])
        if bundle.manifest_digest != event.digest():
            raise ProofError("the event does not hash to the proven digest",
                             field="proof.manifestDigest")
        return cls(event, bundle)

    def to_obj(self) -> dict[str, Any]:
        """The JSON object `from_obj` reads."""
        return {"version": RECEIPT_VERSION, "event": self.event.to_obj(),
                "proof": self.proof.to_obj()}
