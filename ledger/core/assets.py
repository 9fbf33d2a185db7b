"""The assets of a creator manifest: each file's hash, licences and commercial terms.

Every parser here takes the `Fields` reader of the enclosing object and names
the JSON path of the first problem (``assets[2].priceModel.rate``); ``to_obj``
gives back exactly the object that was parsed, so canonical bytes, signature
and digest do not depend on how the document was read. Consensus-critical as
the manifest is (see ``ledger.core.manifest``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ledger.core.fields import ADDRESS, ASSET_ID, SHA256_ID, Fields, Name, checksummed
from ledger.core.vocabulary import PAYEE_ROLES, PRICE_TYPES, PRICE_UNITS
from ledger.errors import LedgerError

MAX_PAYEES = 32
TOTAL_SHARE_BPS = 10_000


_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]{0,126}/[A-Za-z0-9][\w!#$&^.+-]{0,126}", re.ASCII)
_URL = re.compile(
    r"https://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:[/?#][!-~]*)?"
    r"|r2://[a-z0-9][a-z0-9-]{1,61}[a-z0-9]/[!-~]+"
)
_LICENSE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}")
_CURRENCY = re.compile(r"[A-Z][A-Z0-9]{1,15}")
_AMOUNT = re.compile(r"0|[1-9][0-9]{0,77}")
_ACCOUNT_REF = re.compile(r"[a-z][a-z0-9-]{0,31}:[!-~]{1,256}")

_MAX_URL = 2048
_MAX_ATTRIBUTION = 4096
_MAX_TAG = 128
_MAX_TAGS = 256
_MAX_LICENSES = 64
_MAX_UINT256 = 2**256 - 1

T = TypeVar("T")


# -- readers shared with the manifest ---------------------------------------------


def url(fields: Fields, name: str) -> str:
    """An https:// or r2:// URL."""
    value = fields[name]
    if not isinstance(value, str) or len(value) > _MAX_URL or not _URL.fullmatch(value):
        fields.fail(name, f"must be an https:// or r2:// URL of at most {_MAX_URL} characters")
    return value


def account_ref(fields: Fields, name: str) -> str:
    """A payout target: an EVM address, or ``provider:account`` such as ``stripe:acct_1``."""
    value = fields[name]
    if isinstance(value, str) and value.startswith("0x"):
        return fields.address(name)
    return fields.match(
        name, _ACCOUNT_REF, 'an address 0x… or "provider:account" (stripe:acct_1)'
    )


def extensions(fields: Fields, name: str) -> dict[str, Any]:
    """An ``extensions`` object: any JSON, copied so the parsed manifest is immutable."""
    value = fields[name]
    if not isinstance(value, dict):
        fields.fail(name, "must be a JSON object")
    copy: dict[str, Any] = copy_json(value, fields, name)
    return copy


def copy_json(value: Any, fields: Fields, name: Name) -> Any:
    """A deep copy of a JSON value, refusing (at ``name`` of ``fields``) what JSON cannot hold."""
    kind = type(value)
    if kind is dict:
        copy = {}
        for key, item in value.items():
            if not isinstance(key, str):
                fields.fail(name, "member names must be strings")
            copy[key] = copy_json(item, fields, name)
        return copy
    if kind is list:
        return [copy_json(item, fields, name) for item in value]
    if value is None or kind in (str, int, float, bool):
        return value
    fields.fail(name, f"{kind.__name__} is not a JSON value")


#: Where a copy made for ``to_obj`` would report a problem (it never does: the value
#: was checked when parsed).
EXTENSIONS = Fields(None, "extensions")


def put(obj: dict[str, Any], name: str, value: Any) -> None:
    """Set member ``name`` of ``obj`` unless ``value`` is None (absent stays absent)."""
    if value is not None:
        obj[name] = value


def _license_id(fields: Fields, name: Name) -> str:
    return fields.match(
        name, _LICENSE_ID, "a license id like cc-by-4.0 (letters, digits, ._:+-)"
    )


def _attribution(fields: Fields) -> str | None:
    return fields.optional("attribution", fields.text, _MAX_ATTRIBUTION)


# -- the parts of an asset ----------------------------------------------------------


#: The longest revocation notice a licence may declare: ten years, in seconds.
MAX_REVOCATION_NOTICE_S = 10 * 365 * 24 * 60 * 60


@dataclass(frozen=True)
class License:
    """A license written as an object: ``{"id", "url"?, "attribution"?,
    "revocationNotice"?}``; ``revocation_notice`` (seconds) is the notice a revocation
    of it must give (manifest format 1.2 and later: `check_format_features`).

    A license written as a bare id string stays a ``str`` in ``Asset.licenses``,
    so both spellings round-trip unchanged.
    """

    id: str
    url: str | None = None
    attribution: str | None = None
    revocation_notice: int | None = None

    _MEMBERS = frozenset({"id", "url", "attribution", "revocationNotice"})

    @classmethod
    def from_obj(cls, obj: Any, where: str = "") -> License:
        """Parse a license object; ``where`` is its JSON path, for errors."""
        fields = Fields.of_object(obj, where, allowed=cls._MEMBERS, required=("id",))
        return cls(
            id=_license_id(fields, "id"),
            url=url(fields, "url") if "url" in fields else None,
            attribution=_attribution(fields),
            revocation_notice=fields.optional("revocationNotice", fields.integer, 0,
                                              MAX_REVOCATION_NOTICE_S),
        )

    def to_obj(self) -> dict[str, Any]:
        """The license as a JSON object."""
        obj: dict[str, Any] = {"id": self.id}
        put(obj, "url", self.url)
        put(obj, "attribution", self.attribution)
        put(obj, "revocationNotice", self.revocation_notice)
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
        fields = Fields.of_object(
            obj, where, allowed=cls._MEMBERS, required=("type", "rate", "currency")
        )
        return cls(
            type=fields.choice("type", PRICE_TYPES),
            rate=fields.number("rate"),
            currency=fields.match("currency", _CURRENCY, "an upper-case code like USD or ETH"),
            min_payout=fields.optional("minPayout", fields.number),
            unit=fields.optional("unit", fields.choice, PRICE_UNITS),
            amount=_amount(fields) if "amount" in fields else None,
            token=_token(fields) if "token" in fields else None,
        )

    def to_obj(self) -> dict[str, Any]:
        """The price model as a JSON object."""
        obj: dict[str, Any] = {"type": self.type, "rate": self.rate, "currency": self.currency}
        put(obj, "minPayout", self.min_payout)
        put(obj, "unit", self.unit)
        put(obj, "amount", self.amount)
        put(obj, "token", self.token)
        return obj


def _amount(fields: Fields) -> str:
    text = fields.match("amount", _AMOUNT, "a decimal integer string (base units)")
    if int(text) > _MAX_UINT256:
        fields.fail("amount", "must fit in uint256")
    return text


def _token(fields: Fields) -> str:
    value = fields["token"]
    if value == "ETH":
        return "ETH"
    if not isinstance(value, str) or not value.startswith("0x"):
        fields.fail("token", 'must be "ETH" or an ERC-20 token address')
    return fields.address("token")


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
        fields = Fields.of_object(
            obj, where, allowed=cls._MEMBERS, required=("account", "shareBps", "role")
        )
        share = fields.integer(
            "shareBps", 1, TOTAL_SHARE_BPS, f"an integer from 1 to {TOTAL_SHARE_BPS}"
        )
        return cls(
            account=fields.address("account"),
            share_bps=share,
            role=fields.choice("role", PAYEE_ROLES),
        )

    def to_obj(self) -> dict[str, Any]:
        """The payee as a JSON object."""
        return {"account": self.account, "shareBps": self.share_bps, "role": self.role}


def _payees(fields: Fields) -> tuple[Payee, ...]:
    entries = fields.array("payees", 1, MAX_PAYEES)
    payees = tuple(
        Payee.from_obj(entries[i], entries.path(i)) for i in range(len(entries))
    )
    seen: set[str] = set()
    for index, payee in enumerate(payees):
        account = payee.account.lower()
        if account in seen:
            Fields(None, entries.path(index)).fail("account", f"{payee.account} is listed twice")
        seen.add(account)
    total = sum(payee.share_bps for payee in payees)
    if total != TOTAL_SHARE_BPS:
        fields.fail("payees", f"shares must sum to {TOTAL_SHARE_BPS} basis points, not {total}")
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
        fields = Fields.of_object(obj, where, allowed=cls._MEMBERS)
        return cls(
            model_release=fields.optional("modelRelease", fields.text, _MAX_URL),
            property_release=fields.optional("propertyRelease", fields.text, _MAX_URL),
            pii_redacted=fields.optional("piiRedacted", fields.flag),
        )

    def to_obj(self) -> dict[str, Any]:
        """The consent block as a JSON object."""
        obj: dict[str, Any] = {}
        put(obj, "modelRelease", self.model_release)
        put(obj, "propertyRelease", self.property_release)
        put(obj, "piiRedacted", self.pii_redacted)
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
        fields = Fields.of_object(obj, where, allowed=cls._MEMBERS)
        return cls(**{name: fields.flag(name) for name in cls._NAMES if name in fields})

    def to_obj(self) -> dict[str, Any]:
        """The privacy flags as a JSON object."""
        obj: dict[str, Any] = {}
        for name in self._NAMES:
            put(obj, name, getattr(self, name))
        return obj


# -- the asset ----------------------------------------------------------------------


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
        fields = Fields.of_object(obj, where, allowed=cls._MEMBERS, required=cls._REQUIRED)
        return cls(
            id=fields.match("id", ASSET_ID, '"asset:" and a lower-case slug'),
            type=fields.match("type", _MEDIA_TYPE, "a media type like image/jpeg"),
            hash=fields.match("hash", SHA256_ID, '"sha256:" and 64 lower-case hex digits'),
            licenses=_licenses(fields),
            url=url(fields, "url") if "url" in fields else None,
            capture_date=fields.optional("captureDate", fields.timestamp),
            price_model=_part(fields, "priceModel", PriceModel.from_obj),
            payees=_payees(fields) if "payees" in fields else None,
            consent=_part(fields, "consent", Consent.from_obj),
            privacy=_part(fields, "privacy", Privacy.from_obj),
            attribution=_attribution(fields),
            tags=_tags(fields) if "tags" in fields else None,
            extensions=extensions(fields, "extensions") if "extensions" in fields else None,
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
        put(obj, "url", self.url)
        put(obj, "captureDate", self.capture_date)
        if self.price_model is not None:
            obj["priceModel"] = self.price_model.to_obj()
        if self.payees is not None:
            obj["payees"] = [payee.to_obj() for payee in self.payees]
        if self.consent is not None:
            obj["consent"] = self.consent.to_obj()
        if self.privacy is not None:
            obj["privacy"] = self.privacy.to_obj()
        put(obj, "attribution", self.attribution)
        if self.tags is not None:
            obj["tags"] = list(self.tags)
        if self.extensions is not None:
            obj["extensions"] = copy_json(self.extensions, EXTENSIONS, None)
        return obj

    @property
    def content_sha256(self) -> bytes:
        """The 32-byte SHA-256 of the asset's content, taken from ``hash``."""
        return bytes.fromhex(self.hash[7:])


def _part(fields: Fields, name: str, parse: Callable[[Any, str], T]) -> T | None:
    return parse(fields[name], fields.path(name)) if name in fields else None


def _licenses(fields: Fields) -> tuple[str | License, ...]:
    entries = fields.array("licenses", 1, _MAX_LICENSES)
    return tuple(
        _license_id(entries, i)
        if isinstance(entries[i], str)
        else License.from_obj(entries[i], entries.path(i))
        for i in range(len(entries))
    )


def _tags(fields: Fields) -> tuple[str, ...]:
    entries = fields.array("tags", 0, _MAX_TAGS)
    tags = tuple(entries.text(i, _MAX_TAG) for i in range(len(entries)))
    if len(set(tags)) != len(tags):
        seen: set[str] = set()
        for index, tag in enumerate(tags):
            if tag in seen:
                entries.fail(index, f'"{tag}" is listed twice')
            seen.add(tag)
    return tags


# -- the fast path for plain entries --------------------------------------------------

_PLAIN_MEMBERS = frozenset(
    {"id", "type", "url", "hash", "captureDate", "licenses", "priceModel", "payees"}
    | {"consent", "privacy", "attribution", "tags"}
)
_PLAIN_PRICE = frozenset({"type", "rate", "currency", "minPayout", "unit"})
_PAYEE_MEMBERS = frozenset({"account", "shareBps", "role"})
_CONSENT_TEXTS = ("modelRelease", "propertyRelease")
_SAFE_INT = 2**53


def plain_entry_bytes(obj: Any) -> bytes | None:
    """``JCS(obj)`` if ``obj`` is a valid asset of the common shape, else None.

    A library's entries are checked a million at a time, and `Asset.from_obj`
    costs ~40 µs an entry. This checks the same rules in one pass for entries
    without license objects, ``amount``/``token``, ``extensions`` or numbers
    whose JSON spelling differs between Python and RFC 8785 (integral or
    exponent-form floats), and then lets the C encoder write them: for such
    values its output is the canonical form. None means "not decided here":
    `Asset.from_obj` and ``canonicalize`` then give the answer or the error.
    Never accepts what `Asset.from_obj` refuses (a property test holds it).
    """
    if type(obj) is not dict or not obj.keys() <= _PLAIN_MEMBERS or not (
        _plain_head(obj) and _plain_licenses(obj.get("licenses"))
    ):
        return None
    for name, check in _PLAIN_PARTS:
        if name in obj and not check(obj[name]):
            return None
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True).encode()
    except UnicodeEncodeError:  # a lone surrogate: canonicalize names it
        return None


def _plain_head(obj: dict[str, Any]) -> bool:
    ident, kind, hash_ = obj.get("id"), obj.get("type"), obj.get("hash")
    if not (type(ident) is str and ASSET_ID.fullmatch(ident) and type(kind) is str
            and _MEDIA_TYPE.fullmatch(kind) and type(hash_) is str
            and SHA256_ID.fullmatch(hash_)):
        return False
    if "url" in obj:
        link = obj["url"]
        if not (type(link) is str and len(link) <= _MAX_URL and _URL.fullmatch(link)):
            return False
    if "captureDate" in obj:
        try:
            Fields(obj).timestamp("captureDate")
        except LedgerError:
            return False
    return True


def _plain_licenses(value: Any) -> bool:
    return (type(value) is list and 1 <= len(value) <= _MAX_LICENSES and all(
        type(item) is str and _LICENSE_ID.fullmatch(item) for item in value))


def _plain_text(value: Any, most: int) -> bool:
    return type(value) is str and 0 < len(value) <= most


def _plain_number(value: Any) -> bool:
    if type(value) is int:
        return 0 <= value <= _SAFE_INT
    # Python and RFC 8785 spell these floats alike: no exponent, not integral.
    return type(value) is float and 1e-4 <= value < 1e16 and not value.is_integer()


def _plain_price(value: Any) -> bool:
    return (type(value) is dict and value.keys() <= _PLAIN_PRICE
            and value.get("type") in PRICE_TYPES and _plain_number(value.get("rate"))
            and type(value.get("currency")) is str and bool(_CURRENCY.fullmatch(value["currency"]))
            and ("minPayout" not in value or _plain_number(value["minPayout"]))
            and ("unit" not in value or value["unit"] in PRICE_UNITS))


def _plain_payees(value: Any) -> bool:
    if type(value) is not list or not 1 <= len(value) <= MAX_PAYEES:
        return False
    seen, total = set(), 0
    for payee in value:
        if type(payee) is not dict or payee.keys() != _PAYEE_MEMBERS:
            return False
        account, share = payee["account"], payee["shareBps"]
        if not (type(account) is str and ADDRESS.fullmatch(account)
                and (account[2:] == account[2:].lower() or checksummed(account) == account)
                and type(share) is int and 1 <= share <= TOTAL_SHARE_BPS
                and payee["role"] in PAYEE_ROLES and account.lower() not in seen):
            return False
        seen.add(account.lower())
        total += share
    return total == TOTAL_SHARE_BPS


def _plain_consent(value: Any) -> bool:
    return (type(value) is dict and value.keys() <= Consent._MEMBERS
            and all(_plain_text(value[n], _MAX_URL) for n in _CONSENT_TEXTS if n in value)
            and ("piiRedacted" not in value or type(value["piiRedacted"]) is bool))


def _plain_privacy(value: Any) -> bool:
    return (type(value) is dict and value.keys() <= Privacy._MEMBERS
            and all(type(flag) is bool for flag in value.values()))


def _plain_tags(value: Any) -> bool:
    return (type(value) is list and len(value) <= _MAX_TAGS
            and all(_plain_text(tag, _MAX_TAG) for tag in value)
            and len(set(value)) == len(value))


_PLAIN_PARTS: tuple[tuple[str, Callable[[Any], bool]], ...] = (
    ("priceModel", _plain_price),
    ("payees", _plain_payees),
    ("consent", _plain_consent),
    ("privacy", _plain_privacy),
    ("attribution", lambda value: _plain_text(value, _MAX_ATTRIBUTION)),
    ("tags", _plain_tags),
)
