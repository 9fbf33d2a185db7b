"""Per-use royalties, the pure part: usage events, their digest, request
authentication, units and prices, and the splitter's asset keys.

A metering source (a CDN edge, a training job) reports **usage events**: who
used which asset (manifest digest + asset id), how many units, when. The
service authenticates each request with HMAC-SHA256 (`verify_request`), stores
each event once by its id, puts event digests into the same Merkle trees as
manifests, and settles the units on the `RoyaltySplitter` at the price of the
asset's anchored manifest.

Consensus-critical: `UsageEvent.digest` is a Merkle leaf that goes on chain
and into usage receipts, and `asset_key_of`/`asset_id_of` must equal the
contract's; a change needs a new tag (``ledger-usage-v1``) and new vectors
(docs/proof-format.md, "Usage receipts").

Units. Three exist, those of a manifest's ``priceModel.unit``: ``sample``,
``1k-samples`` (1,000 samples) and ``epoch``. A split's on-chain unit is its
price model's unit: ``pricePerUnit`` is ``priceModel.amount``, the price of one
such unit in the token's base units. An event may count in another unit of the
same kind (samples for an asset priced per 1k-samples, or the reverse); it is
converted exactly to the price unit or refused, never rounded (`chain_units`).
Amounts are ``units * pricePerUnit``, integers throughout.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from ledger.core.hashing import checksum_address, keccak256, sha256, to_hex
from ledger.core.manifest import Asset, Manifest
from ledger.core.proof import ProofBundle
from ledger.errors import ProofError, SignatureError, ValidationError

USAGE_TAG = b"ledger-usage-v1\n"
"""Domain tag of an event digest: a usage leaf can never be read as a manifest digest."""

USAGE_UNITS = ("sample", "1k-samples", "epoch")
MAX_UNITS = 10**12
"""Most units one event may carry; a larger count is a meter bug, not usage."""

MAX_EVENTS = 10_000
"""Most events one batch request may carry."""

MAX_PRICE = 2**96 - 1
"""The splitter stores prices as uint96."""

TOTAL_SHARES = 10_000
ETH_TOKEN = "0x" + "00" * 20
"""The splitter's token address for ETH."""

REPLAY_WINDOW_S = 300
"""How far a request's timestamp may be from the service's clock, either way."""

SIGNATURE_SCHEME = "v1"

# Samples per unit, for the units that count samples; an epoch converts to nothing else.
_SAMPLES = {"sample": 1, "1k-samples": 1000}

_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_SOURCE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_ASSET_ID = re.compile(r"asset:[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?")
_HASH = re.compile(r"0x[0-9a-f]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_TIME = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{3}))?Z"
)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v1=([0-9a-f]{64})")
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SECRET = re.compile(r"(?:[0-9a-f]{2}){32,128}")
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_EVENT_MEMBERS = frozenset({"eventId", "buyer", "asset", "units", "unit", "time", "source"})
_EVENT_REQUIRED = ("eventId", "buyer", "asset", "units", "time", "source")
_ASSET_MEMBERS = frozenset({"manifestDigest", "assetId"})


class UsageAuthError(SignatureError):
    """A usage request's source, timestamp or HMAC signature does not authenticate it."""

    code = "unauthenticated"


def _path(where: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{where}[{name}]"
    return f"{where}.{name}" if where else name


def _fail(where: str, name: str | int, message: str) -> NoReturn:
    raise ValidationError(message, field=_path(where, name))


def _members(value: Any, where: str, allowed: frozenset[str], required: Iterable[str]
             ) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field=where or None)
    for name in value:
        if name not in allowed:
            _fail(where, name, "unknown member")
    for name in required:
        if name not in value:
            _fail(where, name, "is required")
    return value


def _string(value: Any, where: str, name: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        _fail(where, name, f"must be {what}")
    return value


@functools.lru_cache(maxsize=8192)
def _checksummed(text: str) -> str:
    # Buyers repeat across events; the checksum's Keccak is most of an event's parsing.
    return checksum_address(text)


def _address(value: Any, where: str, name: str) -> str:
    """An EVM address in any case; mixed case must carry a valid EIP-55 checksum."""
    text = _string(value, where, name, _ADDRESS, "an address: 0x and 40 hex digits")
    checksummed = _checksummed(text)
    if text[2:] != text[2:].lower() and text != checksummed:
        _fail(where, name, f"has a wrong EIP-55 checksum (expected {checksummed})")
    return checksummed


# -- events ---------------------------------------------------------------------


@dataclass(frozen=True)
class AssetRef:
    """An asset as usage names it: the manifest that describes it and its id there."""

    manifest_digest: bytes
    asset_id: str

    @classmethod
    def from_obj(cls, obj: Any, where: str = "asset") -> AssetRef:
        """Parse ``{"manifestDigest": "0x…", "assetId": "asset:…"}``."""
        members = _members(obj, where, _ASSET_MEMBERS, ("manifestDigest", "assetId"))
        digest = _string(members["manifestDigest"], where, "manifestDigest", _HASH,
                         "0x and 64 lower-case hex digits")
        asset_id = _string(members["assetId"], where, "assetId", _ASSET_ID,
                           '"asset:" and a lower-case slug')
        return cls(bytes.fromhex(digest[2:]), asset_id)

    def to_obj(self) -> dict[str, Any]:
        """The JSON object `from_obj` reads."""
        return {"manifestDigest": to_hex(self.manifest_digest), "assetId": self.asset_id}


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
        m = _members(obj, where, _EVENT_MEMBERS, _EVENT_REQUIRED)
        units = m["units"]
        if type(units) is not int or not 1 <= units <= MAX_UNITS:
            _fail(where, "units", f"must be an integer from 1 to {MAX_UNITS:,}")
        unit = m.get("unit")
        if unit is not None and unit not in USAGE_UNITS:
            _fail(where, "unit", f"must be one of {', '.join(USAGE_UNITS)}")
        return cls(
            event_id=_string(m["eventId"], where, "eventId", _EVENT_ID,
                             "1 to 128 characters: letters, digits and ._:- (first alphanumeric)"),
            buyer=_address(m["buyer"], where, "buyer"),
            asset=AssetRef.from_obj(m["asset"], _path(where, "asset")),
            units=units,
            time=_time(m["time"], where, "time"),
            source=_string(m["source"], where, "source", _SOURCE,
                           "a source id: lower-case letters, digits and ._- (at most 64)"),
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
        _members(body, "", frozenset({"events"}), ("events",))
        events = body["events"]
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
            raise ValidationError(f"must be a list of 1 to {MAX_EVENTS:,} events", field="events")
        return events, "events"
    if not isinstance(body, dict):
        raise ValidationError('body must be an event object or {"events": [...]}')
    return [body], ""


def _time(value: Any, where: str, name: str) -> str:
    if not isinstance(value, str) or not (match := _TIME.fullmatch(value)):
        _fail(where, name, "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SS[.mmm]Z")
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > _DAYS_IN_MONTH[month] or (month == 2 and day == 29 and not leap):
        _fail(where, name, f"{value} is not a real date")
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


# -- request authentication -------------------------------------------------------


@dataclass(frozen=True)
class SourceKey:
    """One HMAC key of a metering source; a source may hold several while rotating."""

    key_id: str
    secret: bytes


@dataclass(frozen=True)
class KeyRing:
    """Every metering source and its current keys.

    The keys file (``ledger-usage-keys/1``)::

        {"version": "ledger-usage-keys/1",
         "sources": {"edge-1": [{"id": "2025-06", "secret": "<64 to 256 hex digits>"}]}}

    Rotation: add the new key beside the old one, move the source to it, then
    remove the old one; a request verifies under any key its source holds.
    """

    sources: Mapping[str, tuple[SourceKey, ...]]

    VERSION = "ledger-usage-keys/1"

    @classmethod
    def from_obj(cls, obj: Any) -> KeyRing:
        """Parse a keys file object; ValidationError names the member."""
        m = _members(obj, "", frozenset({"version", "sources"}), ("version", "sources"))
        if m["version"] != cls.VERSION:
            _fail("", "version", f'must be "{cls.VERSION}"')
        sources = m["sources"]
        if not isinstance(sources, dict):
            _fail("", "sources", "must be an object of source id to keys")
        parsed: dict[str, tuple[SourceKey, ...]] = {}
        for source, keys in sources.items():
            where = f"sources.{source}"
            if not _SOURCE.fullmatch(source):
                raise ValidationError("is not a valid source id", field=where)
            if not isinstance(keys, list) or not 1 <= len(keys) <= 16:
                raise ValidationError("must be a list of 1 to 16 keys", field=where)
            parsed[source] = tuple(_source_key(k, f"{where}[{i}]") for i, k in enumerate(keys))
        return cls(parsed)

    def keys(self, source: str) -> tuple[SourceKey, ...]:
        """The keys of ``source`` (empty if unknown)."""
        return self.sources.get(source, ())


def _source_key(obj: Any, where: str) -> SourceKey:
    m = _members(obj, where, frozenset({"id", "secret"}), ("id", "secret"))
    key_id = _string(m["id"], where, "id", _KEY_ID, "a key id (letters, digits, ._-)")
    secret = _string(m["secret"], where, "secret", _SECRET,
                     "64 to 256 lower-case hex digits (32 to 128 bytes)")
    return SourceKey(key_id, bytes.fromhex(secret))


def request_mac(secret: bytes, source: str, timestamp: str, body: bytes) -> str:
    """The ``X-Ledger-Signature`` value of a request: ``v1=`` and the hex HMAC-SHA256 of
    ``"ledger-usage-v1\\n" ‖ source ‖ "\\n" ‖ timestamp ‖ "\\n" ‖ body``."""
    message = USAGE_TAG + source.encode() + b"\n" + timestamp.encode() + b"\n" + body
    return f"{SIGNATURE_SCHEME}=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def request_headers(secret: bytes, source: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The three headers a metering source sends with ``body`` at Unix time ``timestamp``."""
    stamp = str(timestamp)
    return {"X-Ledger-Source": source, "X-Ledger-Timestamp": stamp,
            "X-Ledger-Signature": request_mac(secret, source, stamp, body),
            "Content-Type": "application/json"}


def verify_request(
    ring: KeyRing,
    source: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now_s: float,
    window_s: float = REPLAY_WINDOW_S,
) -> str:
    """Authenticate a usage request from its three headers; return the key id that signed it.

    Raises UsageAuthError naming the header: a missing or unknown source, a timestamp
    more than ``window_s`` from ``now_s`` (a replay outside the window), or a
    signature no key of the source made. A replay inside the window is harmless:
    events are stored once by id.
    """
    check_request_headers(ring, source, timestamp, signature, now_s=now_s, window_s=window_s)
    assert source is not None and timestamp is not None and signature is not None
    for key in ring.keys(source):
        if hmac.compare_digest(request_mac(key.secret, source, timestamp, body), signature):
            return key.key_id
    raise UsageAuthError("does not match any key of the source", field="X-Ledger-Signature")


def check_request_headers(
    ring: KeyRing,
    source: str | None,
    timestamp: str | None,
    signature: str | None,
    *,
    now_s: float,
    window_s: float = REPLAY_WINDOW_S,
) -> None:
    """Everything of `verify_request` that needs no body: a known source, a fresh
    timestamp and a well-formed signature, so a request failing them is refused
    before its body is read. UsageAuthError names the header."""
    if not source or not _SOURCE.fullmatch(source) or not ring.keys(source):
        raise UsageAuthError("unknown metering source", field="X-Ledger-Source")
    if not timestamp or not _TIMESTAMP.fullmatch(timestamp):
        raise UsageAuthError("must be Unix seconds", field="X-Ledger-Timestamp")
    if abs(now_s - int(timestamp)) > window_s:
        raise UsageAuthError(f"is more than {window_s:g} s from the service's clock",
                             field="X-Ledger-Timestamp")
    if not signature or not _SIGNATURE.fullmatch(signature):
        raise UsageAuthError('must be "v1=" and 64 hex digits', field="X-Ledger-Signature")


def check_event_source(event: UsageEvent, source: str, where: str) -> None:
    """An authenticated source may only report events that name it."""
    if event.source != source:
        raise UsageAuthError(f"the request was signed by source {source!r}",
                             field=_path(where, "source"))


# -- units and prices ---------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """What one on-chain unit of an asset costs: ``per_unit`` base units of ``token``.

    ``token`` is the ERC-20 address (EIP-55) or `ETH_TOKEN`; ``unit`` the price unit.
    """

    token: str
    per_unit: int
    unit: str


def price_of(asset: Asset, where: str = "asset") -> Price:
    """The on-chain price of a per-use asset; ValidationError if it has none.

    Needs ``priceModel`` with ``type`` "per-unit", a ``unit`` and an ``amount`` of
    1 to 2^96 - 1 base units; ``token`` "ETH" (or absent) means ETH.
    """
    model = asset.price_model
    if model is None or model.type != "per-unit":
        raise ValidationError(f"{asset.id} is not priced per use (priceModel.type per-unit)",
                              field=where)
    if model.unit is None or model.amount is None:
        raise ValidationError(f"{asset.id} has no on-chain price (priceModel.unit and amount)",
                              field=where)
    amount = int(model.amount)
    if not 1 <= amount <= MAX_PRICE:
        raise ValidationError(f"{asset.id}'s priceModel.amount must be 1 to 2^96-1",
                              field=where)
    token = ETH_TOKEN if model.token in (None, "ETH") else checksum_address(str(model.token))
    return Price(token=token, per_unit=amount, unit=model.unit)


def chain_units(units: int, unit: str | None, price_unit: str, where: str = "") -> int:
    """``units`` of ``unit`` (None: the price unit) in whole price units; never rounds.

    Samples and 1k-samples convert both ways when exact (1 1k-samples = 1,000
    samples; 2,500 samples are not a whole number of 1k-samples); an epoch
    converts to nothing else. ValidationError names ``where.units`` otherwise.
    """
    if unit is None or unit == price_unit:
        return units
    if unit not in _SAMPLES or price_unit not in _SAMPLES:
        _fail(where, "unit", f"the asset is priced per {price_unit}; {unit} does not convert")
    samples = units * _SAMPLES[unit]
    whole, rest = divmod(samples, _SAMPLES[price_unit])
    if rest:
        _fail(where, "units",
              f"{units} {unit} is not a whole number of {price_unit} (the asset's price unit)")
    return whole


def amount_due(units: int, price_per_unit: int) -> int:
    """What ``units`` cost: the splitter's ``units * pricePerUnit``."""
    return units * price_per_unit


def entitlement(total_received: int, share_bps: int) -> int:
    """A payee's cumulative due from a split version: ``total * share / 10,000``, floored."""
    return total_received * share_bps // TOTAL_SHARES


# -- splits ------------------------------------------------------------------------


def asset_id_of(asset_id: str) -> bytes:
    """The splitter's ``bytes32 assetId`` of a manifest asset: ``keccak256(utf8(id))``."""
    return keccak256(asset_id.encode())


def asset_key_of(owner: str, asset_id: bytes) -> bytes:
    """``keccak256(abi.encode(address owner, bytes32 assetId))``, as `assetKeyOf`."""
    if not _ADDRESS.fullmatch(owner) or len(asset_id) != 32:
        raise ValidationError("needs a 0x address and a 32-byte asset id", field="assetKey")
    return keccak256(bytes(12) + bytes.fromhex(owner[2:]) + asset_id)


def usage_root_of(batch_root: bytes, part: int) -> bytes:
    """The settlement key of part ``part`` of an anchored usage batch.

    Part 0 is the anchored root itself; later parts (usage held back, or more
    items than one transaction takes) are ``keccak256(abi.encode(root, part))``,
    so each part settles once under the splitter's (root, buyer, token) fence.
    """
    if part == 0:
        return batch_root
    return keccak256(batch_root + part.to_bytes(32, "big"))


def split_owner(manifest: Manifest) -> str | None:
    """The account whose split prices a manifest's assets, or None if it has none.

    The creator's Ethereum signing key when it has one (it can sign split terms
    for the service to relay), else the creator's ``wallet`` if that is an address
    (which registers its splits itself).
    """
    key = manifest.creator.signing_key or ""
    if key.startswith("eth:"):
        return checksum_address(key[4:])
    wallet = manifest.creator.wallet or ""
    if _ADDRESS.fullmatch(wallet):
        return checksum_address(wallet)
    return None


@dataclass(frozen=True)
class SplitTerms:
    """A split version's terms as the splitter stores them (`IRoyaltySplitter.SplitTerms`)."""

    asset_id: bytes
    manifest_digest: bytes
    token: str
    price_per_unit: int
    payees: tuple[str, ...]
    shares: tuple[int, ...]


@dataclass(frozen=True)
class AssetTerms:
    """What the service needs to meter and settle one asset of an accepted manifest."""

    creator_id: str
    manifest_digest: bytes
    asset_id: str
    owner: str
    asset_key: bytes
    price: Price
    split: SplitTerms


def asset_terms(manifest: Manifest, digest: bytes, asset_id: str, where: str = "asset"
                ) -> AssetTerms:
    """The terms of asset ``asset_id`` in ``manifest``: owner, key, price and split.

    ValidationError (field ``where.assetId`` or ``where``) when the manifest has no
    such asset, it is not priced per use, or no account can own its split. Payees
    default to the owner alone.
    """
    asset = next((a for a in manifest.assets if a.id == asset_id), None)
    if asset is None:
        raise ValidationError(f"the manifest has no asset {asset_id}",
                              field=_path(where, "assetId"))
    price = price_of(asset, where)
    owner = split_owner(manifest)
    if owner is None:
        raise ValidationError(
            f"{manifest.creator.id} has neither an Ethereum key nor an address wallet to be paid",
            field=where,
        )
    payees = asset.payees or ()
    accounts = tuple(checksum_address(p.account) for p in payees) or (owner,)
    shares = tuple(p.share_bps for p in payees) or (TOTAL_SHARES,)
    onchain_id = asset_id_of(asset_id)
    return AssetTerms(
        creator_id=manifest.creator.id,
        manifest_digest=digest,
        asset_id=asset_id,
        owner=owner,
        asset_key=asset_key_of(owner, onchain_id),
        price=price,
        split=SplitTerms(onchain_id, digest, price.token, price.per_unit, accounts, shares),
    )


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
        m = _members(obj, "", frozenset({"version", "event", "proof"}),
                     ("version", "event", "proof"))
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
