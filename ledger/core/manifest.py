"""The creator manifest, format version "1.0": strict parsing, validation, digest.

A manifest lists a creator's assets (content hashes, licenses, price model,
payees, consent and privacy flags) and carries the creator's signature.
``Manifest.from_obj`` checks every rule of the format and names the JSON path
of the first problem (``assets[2].priceModel.rate``); ``to_obj`` gives back
exactly the object that was parsed, so canonical bytes, signature and digest
do not depend on how the document was read.

Consensus-critical: ``signing_payload`` and ``digest`` fix what signatures and
Merkle leaves commit to. Cryptographic checks live in ``ledger.core.signing``;
this module checks syntax only.

Validation runs once per submitted manifest, so the checkers are plain
functions over precompiled regexes, and an error's JSON path is only built
when there is an error: each checker takes the path of the enclosing object
(``where``) and the member name or array index (``name``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from json.encoder import encode_basestring as _quote
from typing import Any, NoReturn

from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.hashing import checksum_address, sha256, to_hex
from ledger.errors import ValidationError

MANIFEST_VERSION = "1.0"
MAX_ASSETS = 100_000
MAX_PAYEES = 32
TOTAL_SHARE_BPS = 10_000

PRICE_TYPES = ("per-unit", "royalty", "one-time", "subscription")
PRICE_UNITS = ("sample", "epoch", "1k-samples")
PAYEE_ROLES = ("creator", "co-creator", "marketplace")

_SLUG = r"[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?"
#: The one creator-id rule: the manifest parser, the service's creator actions, the
#: OpenAPI document and docs/manifest.schema.json all use this pattern (a test checks).
CREATOR_ID_PATTERN = "creator:" + _SLUG
_CREATOR_ID = re.compile(CREATOR_ID_PATTERN)
_CREATOR_ID_EXPECTED = (
    '"creator:" and a lower-case slug (a-z 0-9 . _ -, at most 128, starting and ending '
    "with a letter or digit)"
)
_ASSET_ID = re.compile("asset:" + _SLUG)
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]{0,126}/[A-Za-z0-9][\w!#$&^.+-]{0,126}", re.ASCII)
_URL = re.compile(
    r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:[/?#][!-~]*)?"
    r"|r2://[a-z0-9][a-z0-9-]{1,61}[a-z0-9]/[!-~]+"
)
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z"
)
_LICENSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
_CURRENCY = re.compile(r"[A-Z][A-Z0-9]{1,15}")
_AMOUNT = re.compile(r"0|[1-9][0-9]{0,77}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ACCOUNT_REF = re.compile(r"[a-z][a-z0-9-]{0,31}:[!-~]{1,256}")
_P256_KEY = re.compile(r"p256:[A-Za-z0-9+/]{44}")
_ETH_KEY = re.compile(r"eth:0x[0-9a-fA-F]{40}")
# Base64 of a DER ECDSA signature (8 to 72 bytes), padded.
_P256_SIGNATURE = re.compile(
    r"p256ecdsa:(?:[A-Za-z0-9+/]{4}){1,23}(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)"
)
_EIP712_SIGNATURE = re.compile(r"eip712:0x[0-9a-f]{130}")

_MAX_URL = 2048
_MAX_NAME = 256
_MAX_ATTRIBUTION = 4096
_MAX_TAG = 128
_MAX_TAGS = 256
_MAX_LICENSES = 64
_MAX_UINT256 = 2**256 - 1
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

_Name = str | int | None
"""A member name, an array index, or None for the object at ``where`` itself."""


# -- checkers -----------------------------------------------------------------


def _path(where: str, name: _Name) -> str:
    if name is None:
        return where
    if isinstance(name, int):
        return f"{where}[{name}]"
    return f"{where}.{name}" if where else name


def _fail(where: str, name: _Name, message: str) -> NoReturn:
    raise ValidationError(message, field=_path(where, name) or None)


def _object(
    value: Any, where: str, allowed: frozenset[str], required: tuple[str, ...]
) -> dict[str, Any]:
    """``value`` as a dict with only ``allowed`` members and every ``required`` one."""
    if not isinstance(value, dict):
        _fail(where, None, "must be a JSON object")
    if not value.keys() <= allowed:
        _fail(where, next(name for name in value if name not in allowed), "unknown member")
    for name in required:
        if name not in value:
            _fail(where, name, "is required")
    return value


def _text(value: Any, where: str, name: _Name, max_length: int = _MAX_NAME) -> str:
    if not isinstance(value, str):
        _fail(where, name, "must be a string")
    if not value or len(value) > max_length:
        _fail(where, name, f"must be a non-empty string of at most {max_length} characters")
    return value


def _match(value: Any, where: str, name: _Name, pattern: re.Pattern[str], expected: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        _fail(where, name, f"must be {expected}")
    return value


def _choice(value: Any, where: str, name: _Name, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        wanted = f'"{choices[0]}"' if len(choices) == 1 else f"one of {', '.join(choices)}"
        _fail(where, name, f"must be {wanted}")
    return value


def _url(value: Any, where: str, name: _Name) -> str:
    if not isinstance(value, str) or len(value) > _MAX_URL or not _URL.fullmatch(value):
        _fail(where, name, f"must be an https:// or r2:// URL of at most {_MAX_URL} characters")
    return value


def _timestamp(value: Any, where: str, name: _Name) -> str:
    if not isinstance(value, str) or not (match := _TIMESTAMP.fullmatch(value)):
        _fail(where, name, "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ")
    month, day = int(match[1]), int(match[2])
    if day > _DAYS_IN_MONTH[month] or (month == 2 and day == 29 and not _leap(int(value[:4]))):
        _fail(where, name, f"{value} is not a real date")
    return value


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _number(value: Any, where: str, name: _Name) -> int | float:
    """A finite number >= 0; bool is not a number."""
    if type(value) is float:
        if not math.isfinite(value):
            _fail(where, name, "must be a finite number")
    elif type(value) is not int:
        _fail(where, name, "must be a number")
    if value < 0:
        _fail(where, name, "must be >= 0")
    number: int | float = value
    return number


def _flag(value: Any, where: str, name: _Name) -> bool:
    if not isinstance(value, bool):
        _fail(where, name, "must be true or false")
    return value


def _array(value: Any, where: str, name: _Name, min_items: int, max_items: int) -> list[Any]:
    if not isinstance(value, list):
        _fail(where, name, "must be a JSON array")
    if not min_items <= len(value) <= max_items:
        _fail(where, name, f"must have {min_items} to {max_items} entries, not {len(value)}")
    return value


def _address(value: Any, where: str, name: _Name) -> str:
    """An EVM address: all lowercase, or mixed case with a valid EIP-55 checksum."""
    text = _match(value, where, name, _ADDRESS, "an address: 0x and 40 hex digits")
    digits = text[2:]
    if digits != digits.lower() and checksum_address(text) != text:
        _fail(where, name, f"has a wrong EIP-55 checksum (expected {checksum_address(text)})")
    return text


def _account_ref(value: Any, where: str, name: _Name) -> str:
    """A payout target: an EVM address, or ``provider:account`` such as ``stripe:acct_1``."""
    if isinstance(value, str) and value.startswith("0x"):
        return _address(value, where, name)
    return _match(
        value, where, name, _ACCOUNT_REF, 'an address 0x… or "provider:account" (stripe:acct_1)'
    )


def _license_id(value: Any, where: str, name: _Name) -> str:
    return _match(
        value, where, name, _LICENSE_ID, "a license id like cc-by-4.0 (letters, digits, ._:+-)"
    )


def _copy_json(value: Any, where: str, name: _Name) -> Any:
    """A deep copy of a JSON value, refusing anything JSON cannot hold."""
    kind = type(value)
    if kind is dict:
        copy = {}
        for key, item in value.items():
            if not isinstance(key, str):
                _fail(where, name, "member names must be strings")
            copy[key] = _copy_json(item, where, name)
        return copy
    if kind is list:
        return [_copy_json(item, where, name) for item in value]
    if value is None or kind in (str, int, float, bool):
        return value
    _fail(where, name, f"{kind.__name__} is not a JSON value")


def _extensions(value: Any, where: str, name: _Name) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(where, name, "must be a JSON object")
    copy: dict[str, Any] = _copy_json(value, where, name)
    return copy


def _put(obj: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        obj[name] = value


# -- the document ---------------------------------------------------------------


@dataclass(frozen=True)
class License:
    """A license written as an object: ``{"id", "url"?, "attribution"?}``.

    A license written as a bare id string stays a ``str`` in ``Asset.licenses``,
    so both spellings round-trip unchanged.
    """

    id: str
    url: str | None = None
    attribution: str | None = None

    _MEMBERS = frozenset({"id", "url", "attribution"})

    @classmethod
    def from_obj(cls, obj: Any, where: str = "") -> License:
        """Parse a license object; ``where`` is its JSON path, for errors."""
        _object(obj, where, cls._MEMBERS, ("id",))
        return cls(
            id=_license_id(obj["id"], where, "id"),
            url=_url(obj["url"], where, "url") if "url" in obj else None,
            attribution=(
                _text(obj["attribution"], where, "attribution", _MAX_ATTRIBUTION)
                if "attribution" in obj
                else None
            ),
        )

    def to_obj(self) -> dict[str, Any]:
        """The license as a JSON object."""
        obj: dict[str, Any] = {"id": self.id}
        _put(obj, "url", self.url)
        _put(obj, "attribution", self.attribution)
        return obj


@dataclass(frozen=True)
class PriceModel:
    """How an asset is priced; ``amount`` (base units, e.g. wei) drives on-chain settlement."""

    type: str
    rate: int | float
    currency: str
    min_payout: int | float | None = None
    unit: str | None = None
    amount: str | None = None
    token: str | None = None

    _MEMBERS = frozenset({"type", "rate", "currency", "minPayout", "unit", "amount", "token"})

    @classmethod
    def from_obj(cls, obj: Any, where: str = "") -> PriceModel:
        """Parse a price model object; ``where`` is its JSON path, for errors."""
        _object(obj, where, cls._MEMBERS, ("type", "rate", "currency"))
        return cls(
            type=_choice(obj["type"], where, "type", PRICE_TYPES),
            rate=_number(obj["rate"], where, "rate"),
            currency=_match(
                obj["currency"], where, "currency", _CURRENCY, "an upper-case code like USD or ETH"
            ),
            min_payout=_number(obj["minPayout"], where, "minPayout")
            if "minPayout" in obj
            else None,
            unit=_choice(obj["unit"], where, "unit", PRICE_UNITS) if "unit" in obj else None,
            amount=_amount(obj["amount"], where, "amount") if "amount" in obj else None,
            token=_token(obj["token"], where, "token") if "token" in obj else None,
        )

    def to_obj(self) -> dict[str, Any]:
        """The price model as a JSON object."""
        obj: dict[str, Any] = {"type": self.type, "rate": self.rate, "currency": self.currency}
        _put(obj, "minPayout", self.min_payout)
        _put(obj, "unit", self.unit)
        _put(obj, "amount", self.amount)
        _put(obj, "token", self.token)
        return obj


def _amount(value: Any, where: str, name: _Name) -> str:
    text = _match(value, where, name, _AMOUNT, "a decimal integer string (base units)")
    if int(text) > _MAX_UINT256:
        _fail(where, name, "must fit in uint256")
    return text


def _token(value: Any, where: str, name: _Name) -> str:
    if value == "ETH":
        return "ETH"
    if not isinstance(value, str) or not value.startswith("0x"):
        _fail(where, name, 'must be "ETH" or an ERC-20 token address')
    return _address(value, where, name)


@dataclass(frozen=True)
class Payee:
    """One recipient of an asset's royalties and its share in basis points."""

    account: str
    share_bps: int
    role: str

    _MEMBERS = frozenset({"account", "shareBps", "role"})

    @classmethod
    def from_obj(cls, obj: Any, where: str = "") -> Payee:
        """Parse a payee object; ``where`` is its JSON path, for errors."""
        _object(obj, where, cls._MEMBERS, ("account", "shareBps", "role"))
        share = obj["shareBps"]
        if type(share) is not int or not 1 <= share <= TOTAL_SHARE_BPS:
            _fail(where, "shareBps", f"must be an integer from 1 to {TOTAL_SHARE_BPS}")
        return cls(
            account=_address(obj["account"], where, "account"),
            share_bps=share,
            role=_choice(obj["role"], where, "role", PAYEE_ROLES),
        )

    def to_obj(self) -> dict[str, Any]:
        """The payee as a JSON object."""
        return {"account": self.account, "shareBps": self.share_bps, "role": self.role}


def _payees(value: Any, where: str, name: str) -> tuple[Payee, ...]:
    entries = _array(value, where, name, 1, MAX_PAYEES)
    field = _path(where, name)
    payees = tuple(Payee.from_obj(entry, f"{field}[{i}]") for i, entry in enumerate(entries))
    seen: set[str] = set()
    for index, payee in enumerate(payees):
        account = payee.account.lower()
        if account in seen:
            _fail(f"{field}[{index}]", "account", f"{payee.account} is listed twice")
        seen.add(account)
    total = sum(payee.share_bps for payee in payees)
    if total != TOTAL_SHARE_BPS:
        _fail(where, name, f"shares must sum to {TOTAL_SHARE_BPS} basis points, not {total}")
    return payees


@dataclass(frozen=True)
class Consent:
    """Where an asset's releases are, and whether PII was redacted."""

    model_release: str | None = None
    property_release: str | None = None
    pii_redacted: bool | None = None

    _MEMBERS = frozenset({"modelRelease", "propertyRelease", "piiRedacted"})

    @classmethod
    def from_obj(cls, obj: Any, where: str = "") -> Consent:
        """Parse a consent object; ``where`` is its JSON path, for errors."""
        _object(obj, where, cls._MEMBERS, ())
        return cls(
            model_release=(
                _text(obj["modelRelease"], where, "modelRelease", _MAX_URL)
                if "modelRelease" in obj
                else None
            ),
            property_release=(
                _text(obj["propertyRelease"], where, "propertyRelease", _MAX_URL)
                if "propertyRelease" in obj
                else None
            ),
            pii_redacted=(
                _flag(obj["piiRedacted"], where, "piiRedacted") if "piiRedacted" in obj else None
            ),
        )

    def to_obj(self) -> dict[str, Any]:
        """The consent block as a JSON object."""
        obj: dict[str, Any] = {}
        _put(obj, "modelRelease", self.model_release)
        _put(obj, "propertyRelease", self.property_release)
        _put(obj, "piiRedacted", self.pii_redacted)
        return obj


@dataclass(frozen=True)
class Privacy:
    """What an asset shows that needs care: faces, minors, biometric data, PII."""

    faces: bool | None = None
    minors: bool | None = None
    biometric: bool | None = None
    pii: bool | None = None

    _NAMES = ("faces", "minors", "biometric", "pii")
    _MEMBERS = frozenset(_NAMES)

    @classmethod
    def from_obj(cls, obj: Any, where: str = "") -> Privacy:
        """Parse a privacy object; ``where`` is its JSON path, for errors."""
        _object(obj, where, cls._MEMBERS, ())
        return cls(**{name: _flag(obj[name], where, name) for name in cls._NAMES if name in obj})

    def to_obj(self) -> dict[str, Any]:
        """The privacy flags as a JSON object."""
        obj: dict[str, Any] = {}
        for name in self._NAMES:
            _put(obj, name, getattr(self, name))
        return obj


@dataclass(frozen=True)
class Asset:
    """One licensed file: its content hash, licenses and commercial terms.

    ``licenses`` keeps each entry as written: a bare id ``str`` or a ``License``.
    """

    id: str
    type: str
    hash: str
    licenses: tuple[str | License, ...]
    url: str | None = None
    capture_date: str | None = None
    price_model: PriceModel | None = None
    payees: tuple[Payee, ...] | None = None
    consent: Consent | None = None
    privacy: Privacy | None = None
    attribution: str | None = None
    tags: tuple[str, ...] | None = None
    extensions: Mapping[str, Any] | None = None

    _MEMBERS = frozenset(
        {"id", "type", "url", "hash", "captureDate", "licenses", "priceModel", "payees"}
        | {"consent", "privacy", "attribution", "tags", "extensions"}
    )
    _REQUIRED = ("id", "type", "hash", "licenses")

    @classmethod
    def from_obj(cls, obj: Any, where: str = "") -> Asset:
        """Parse an asset object; ``where`` is its JSON path, for errors."""
        _object(obj, where, cls._MEMBERS, cls._REQUIRED)
        return cls(
            id=_match(obj["id"], where, "id", _ASSET_ID, '"asset:" and a lower-case slug'),
            type=_match(obj["type"], where, "type", _MEDIA_TYPE, "a media type like image/jpeg"),
            hash=_match(
                obj["hash"], where, "hash", _SHA256, '"sha256:" and 64 lower-case hex digits'
            ),
            licenses=_licenses(obj["licenses"], where, "licenses"),
            url=_url(obj["url"], where, "url") if "url" in obj else None,
            capture_date=(
                _timestamp(obj["captureDate"], where, "captureDate")
                if "captureDate" in obj
                else None
            ),
            price_model=(
                PriceModel.from_obj(obj["priceModel"], _path(where, "priceModel"))
                if "priceModel" in obj
                else None
            ),
            payees=_payees(obj["payees"], where, "payees") if "payees" in obj else None,
            consent=Consent.from_obj(obj["consent"], _path(where, "consent"))
            if "consent" in obj
            else None,
            privacy=Privacy.from_obj(obj["privacy"], _path(where, "privacy"))
            if "privacy" in obj
            else None,
            attribution=(
                _text(obj["attribution"], where, "attribution", _MAX_ATTRIBUTION)
                if "attribution" in obj
                else None
            ),
            tags=_tags(obj["tags"], where, "tags") if "tags" in obj else None,
            extensions=(
                _extensions(obj["extensions"], where, "extensions") if "extensions" in obj else None
            ),
        )

    def to_obj(self) -> dict[str, Any]:
        """The asset as a JSON object, exactly as it was parsed."""
        obj: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "hash": self.hash,
            "licenses": [
                item if isinstance(item, str) else item.to_obj() for item in self.licenses
            ],
        }
        _put(obj, "url", self.url)
        _put(obj, "captureDate", self.capture_date)
        if self.price_model is not None:
            obj["priceModel"] = self.price_model.to_obj()
        if self.payees is not None:
            obj["payees"] = [payee.to_obj() for payee in self.payees]
        if self.consent is not None:
            obj["consent"] = self.consent.to_obj()
        if self.privacy is not None:
            obj["privacy"] = self.privacy.to_obj()
        _put(obj, "attribution", self.attribution)
        if self.tags is not None:
            obj["tags"] = list(self.tags)
        if self.extensions is not None:
            obj["extensions"] = _copy_json(self.extensions, "extensions", None)
        return obj

    @property
    def content_sha256(self) -> bytes:
        """The 32-byte SHA-256 of the asset's content, taken from ``hash``."""
        return bytes.fromhex(self.hash[7:])


def _licenses(value: Any, where: str, name: str) -> tuple[str | License, ...]:
    entries = _array(value, where, name, 1, _MAX_LICENSES)
    field = _path(where, name)
    return tuple(
        _license_id(entry, field, i)
        if isinstance(entry, str)
        else License.from_obj(entry, f"{field}[{i}]")
        for i, entry in enumerate(entries)
    )


def _tags(value: Any, where: str, name: str) -> tuple[str, ...]:
    entries = _array(value, where, name, 0, _MAX_TAGS)
    field = _path(where, name)
    tags = tuple(_text(tag, field, i, _MAX_TAG) for i, tag in enumerate(entries))
    if len(set(tags)) != len(tags):
        seen: set[str] = set()
        for index, tag in enumerate(tags):
            if tag in seen:
                _fail(field, index, f'"{tag}" is listed twice')
            seen.add(tag)
    return tags


@dataclass(frozen=True)
class Creator:
    """Who signs the manifest and where their money goes.

    ``signing_key`` is ``p256:<base64 SEC1 compressed point>`` or
    ``eth:<EIP-55 address>``; it is None only in an unsigned draft.
    """

    id: str
    signing_key: str | None
    wallet: str | None = None
    payout: str | None = None
    name: str | None = None

    _MEMBERS = frozenset({"id", "signingKey", "wallet", "payout", "name"})

    @classmethod
    def from_obj(cls, obj: Any, where: str = "creator", *, allow_unsigned: bool = False) -> Creator:
        """Parse a creator object; ``where`` is its JSON path, for errors."""
        _object(obj, where, cls._MEMBERS, ("id",) if allow_unsigned else ("id", "signingKey"))
        if "wallet" not in obj and "payout" not in obj:
            _fail(where, None, 'must have a "wallet" or a "payout"')
        return cls(
            id=check_creator_id(obj["id"], where, "id"),
            signing_key=(
                check_signing_key(obj["signingKey"], where, "signingKey")
                if "signingKey" in obj
                else None
            ),
            wallet=_account_ref(obj["wallet"], where, "wallet") if "wallet" in obj else None,
            payout=_account_ref(obj["payout"], where, "payout") if "payout" in obj else None,
            name=_text(obj["name"], where, "name") if "name" in obj else None,
        )

    def to_obj(self) -> dict[str, Any]:
        """The creator as a JSON object."""
        obj: dict[str, Any] = {"id": self.id}
        _put(obj, "signingKey", self.signing_key)
        _put(obj, "wallet", self.wallet)
        _put(obj, "payout", self.payout)
        _put(obj, "name", self.name)
        return obj


def check_creator_id(value: Any, where: str = "", name: _Name = "creatorId") -> str:
    """Check a creator id against `CREATOR_ID_PATTERN` and return it."""
    return _match(value, where, name, _CREATOR_ID, _CREATOR_ID_EXPECTED)


def check_signing_key(value: Any, where: str = "", name: _Name = "signingKey") -> str:
    """Check the syntax of a ``signingKey`` (``p256:…`` or ``eth:0x…``) and return it.

    Whether a P-256 key is a point on the curve is checked when it is used.
    """
    if isinstance(value, str):
        if _P256_KEY.fullmatch(value):
            return value
        if _ETH_KEY.fullmatch(value):
            if checksum_address(value[4:]) != value[4:]:
                _fail(where, name, f"must be EIP-55 checksummed: eth:{checksum_address(value[4:])}")
            return value
    _fail(
        where,
        name,
        'must be "p256:" and a base64 compressed P-256 point, or "eth:0x" and an address',
    )


def check_signature(value: Any, where: str = "", name: _Name = "signature") -> str:
    """Check the syntax of a signature (``p256ecdsa:…`` or ``eip712:0x…``) and return it.

    Whether it verifies, and is strict DER with low s, is checked by signing.
    """
    if isinstance(value, str) and (
        _P256_SIGNATURE.fullmatch(value) or _EIP712_SIGNATURE.fullmatch(value)
    ):
        return value
    _fail(where, name, 'must be "p256ecdsa:" and base64 DER, or "eip712:0x" and 130 lower-case hex')


@dataclass(frozen=True)
class Manifest:
    """A creator manifest (format "1.0"), validated but not yet verified.

    ``signature`` is None only for an unsigned draft (``allow_unsigned=True``).
    """

    manifest_version: str
    creator: Creator
    assets: tuple[Asset, ...]
    signature: str | None = None
    created_at: str | None = None
    extensions: Mapping[str, Any] | None = None

    _MEMBERS = frozenset(
        {"manifestVersion", "creator", "assets", "signature", "createdAt", "extensions"}
    )

    @classmethod
    def from_json(cls, data: bytes | str, *, allow_unsigned: bool = False) -> Manifest:
        """Parse manifest JSON strictly (see ``parse_strict``) and validate it.

        Raises CanonicalJSONError or ValidationError, naming the field.
        """
        return cls.from_obj(parse_strict(data), allow_unsigned=allow_unsigned)

    @classmethod
    def from_obj(cls, obj: Any, *, allow_unsigned: bool = False) -> Manifest:
        """Validate a parsed manifest object; raises ValidationError naming the field.

        ``allow_unsigned`` accepts a draft without ``signature`` whose creator
        may also lack ``signingKey``; such a manifest cannot be verified.
        """
        required = ("manifestVersion", "creator", "assets")
        _object(obj, "", cls._MEMBERS, required if allow_unsigned else (*required, "signature"))
        _choice(obj["manifestVersion"], "", "manifestVersion", (MANIFEST_VERSION,))
        creator = Creator.from_obj(obj["creator"], allow_unsigned=allow_unsigned)
        entries = _array(obj["assets"], "", "assets", 1, MAX_ASSETS)
        assets = tuple(Asset.from_obj(entry, f"assets[{i}]") for i, entry in enumerate(entries))
        _check_unique_ids(assets)
        return cls(
            manifest_version=MANIFEST_VERSION,
            creator=creator,
            assets=assets,
            signature=check_signature(obj["signature"]) if "signature" in obj else None,
            created_at=_timestamp(obj["createdAt"], "", "createdAt")
            if "createdAt" in obj
            else None,
            extensions=(
                _extensions(obj["extensions"], "", "extensions") if "extensions" in obj else None
            ),
        )

    def to_obj(self) -> dict[str, Any]:
        """The manifest as a JSON object: ``to_obj(from_obj(x)) == x``."""
        obj = self._unsigned_obj()
        _put(obj, "signature", self.signature)
        return obj

    def to_json(self) -> bytes:
        """The canonical (RFC 8785) bytes of the whole manifest, signature included."""
        payload = self.signing_payload()
        if self.signature is None:
            return payload
        # "signature" sorts after every other top-level member name, so the
        # canonical form is the unsigned one with the signature appended.
        return payload[:-1] + b',"signature":' + _quote(self.signature).encode() + b"}"

    def signing_payload(self) -> bytes:
        """U: the canonical bytes of the manifest without its ``signature`` member.

        Each signature scheme adds its own domain separation to U (see signing).
        """
        return self._signing_payload

    def digest(self) -> bytes:
        """SHA-256 of the canonical manifest with its signature: what the Merkle leaf commits to."""
        return sha256(self.to_json())

    def digest_hex(self) -> str:
        """``digest()`` written as ``0x`` and 64 lowercase hex digits."""
        return to_hex(self.digest())

    def with_signature(self, signature: str) -> Manifest:
        """This manifest carrying ``signature`` (syntax checked, not verified)."""
        return replace(self, signature=check_signature(signature))

    @cached_property
    def _signing_payload(self) -> bytes:
        return canonicalize(self._unsigned_obj())

    def _unsigned_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "manifestVersion": self.manifest_version,
            "creator": self.creator.to_obj(),
            "assets": [asset.to_obj() for asset in self.assets],
        }
        _put(obj, "createdAt", self.created_at)
        if self.extensions is not None:
            obj["extensions"] = _copy_json(self.extensions, "extensions", None)
        return obj


def _check_unique_ids(assets: tuple[Asset, ...]) -> None:
    if len({asset.id for asset in assets}) == len(assets):
        return
    first: dict[str, int] = {}
    for index, asset in enumerate(assets):
        if asset.id in first:
            _fail(
                f"assets[{index}]",
                "id",
                f"{asset.id} is already the id of assets[{first[asset.id]}]",
            )
        first[asset.id] = index
