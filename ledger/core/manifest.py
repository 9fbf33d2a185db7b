"""The creator manifest, format versions "1.0" and "1.1": strict parsing, validation, digest.

A manifest lists a creator's assets (content hashes, licenses, price model,
payees, consent and privacy flags) and carries the creator's signature.
``Manifest.from_obj`` checks every rule of the format and names the JSON path
of the first problem (``assets[2].priceModel.rate``); ``to_obj`` gives back
exactly the object that was parsed, so canonical bytes, signature and digest
do not depend on how the document was read.

Consensus-critical: ``signing_payload`` and ``digest`` fix what signatures and
Merkle leaves commit to. Cryptographic checks live in ``ledger.core.signing``;
this module checks syntax only.

The assets and their terms are in ``ledger.core.assets``; both read their
input through ``ledger.core.fields``, whose error paths are only built when
there is an error.

A 1.0 manifest carries its assets. A 1.1 manifest (`ManifestHeader`) is a small
signed header committing to its assets through a Merkle root and a count; the
entries travel apart and each can be disclosed alone (``ledger.core.asset_tree``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from json.encoder import encode_basestring as _quote
from typing import Any, Self

from ledger.core.assets import EXTENSIONS, Asset, account_ref, copy_json, extensions, put
from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.fields import ADDRESS, SIGNATURE_65, SLUG, Fields, Name, checksummed, path
from ledger.core.hashing import sha256, to_hex
from ledger.errors import ValidationError

MANIFEST_VERSION = "1.0"
MAX_ASSETS = 100_000
HEADER_VERSION = "1.1"
NOTICE_VERSION = "1.2"
"""A 1.1 header whose licences may declare a ``revocationNotice`` (docs/manifest.md)."""
HEADER_VERSIONS = (HEADER_VERSION, NOTICE_VERSION)
MAX_HEADER_ASSETS = 2**24
"""Assets a 1.1 or 1.2 manifest may commit to."""

#: The one creator-id rule: the manifest parser, the service's creator actions, the
#: OpenAPI document and docs/manifest.schema.json all use this pattern (a test checks).
CREATOR_ID_PATTERN = "creator:" + SLUG
_CREATOR_ID = re.compile(CREATOR_ID_PATTERN)
_CREATOR_ID_EXPECTED = (
    '"creator:" and a lower-case slug (a-z 0-9 . _ -, at most 128, starting and ending '
    "with a letter or digit)"
)
_P256_KEY = re.compile(r"p256:[A-Za-z0-9+/]{44}")
_ETH_KEY = re.compile("eth:" + ADDRESS.pattern)
# Base64 of a DER ECDSA signature (8 to 72 bytes), padded.
_P256_SIGNATURE = re.compile(
    r"p256ecdsa:(?:[A-Za-z0-9+/]{4}){1,23}(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)"
)
_EIP712_SIGNATURE = re.compile("eip712:" + SIGNATURE_65.pattern)


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
        required = ("id",) if allow_unsigned else ("id", "signingKey")
        fields = Fields.of_object(obj, where, allowed=cls._MEMBERS, required=required)
        if "wallet" not in obj and "payout" not in obj:
            fields.fail(None, 'must have a "wallet" or a "payout"')
        return cls(
            id=check_creator_id(obj["id"], where, "id"),
            signing_key=(
                check_signing_key(obj["signingKey"], where, "signingKey")
                if "signingKey" in obj
                else None
            ),
            wallet=account_ref(fields, "wallet") if "wallet" in obj else None,
            payout=account_ref(fields, "payout") if "payout" in obj else None,
            name=fields.optional("name", fields.text),
        )

    def to_obj(self) -> dict[str, Any]:
        """The creator as a JSON object."""
        obj: dict[str, Any] = {"id": self.id}
        put(obj, "signingKey", self.signing_key)
        put(obj, "wallet", self.wallet)
        put(obj, "payout", self.payout)
        put(obj, "name", self.name)
        return obj


def check_creator_id(value: Any, where: str = "", name: Name = "creatorId") -> str:
    """Check a creator id against `CREATOR_ID_PATTERN` and return it."""
    return _value(value, where, name).match(None, _CREATOR_ID, _CREATOR_ID_EXPECTED)


def check_signing_key(value: Any, where: str = "", name: Name = "signingKey") -> str:
    """Check the syntax of a ``signingKey`` (``p256:…`` or ``eth:0x…``) and return it.

    Whether a P-256 key is a point on the curve is checked when it is used.
    """
    if isinstance(value, str):
        if _P256_KEY.fullmatch(value):
            return value
        if _ETH_KEY.fullmatch(value):
            if checksummed(value[4:]) != value[4:]:
                _value(value, where, name).fail(
                    None, f"must be EIP-55 checksummed: eth:{checksummed(value[4:])}"
                )
            return value
    _value(value, where, name).fail(
        None,
        'must be "p256:" and a base64 compressed P-256 point, or "eth:0x" and an address',
    )


def check_signature(value: Any, where: str = "", name: Name = "signature") -> str:
    """Check the syntax of a signature (``p256ecdsa:…`` or ``eip712:0x…``) and return it.

    Whether it verifies, and is strict DER with low s, is checked by signing.
    """
    if isinstance(value, str) and (
        _P256_SIGNATURE.fullmatch(value) or _EIP712_SIGNATURE.fullmatch(value)
    ):
        return value
    _value(value, where, name).fail(
        None, 'must be "p256ecdsa:" and base64 DER, or "eip712:0x" and 130 lower-case hex'
    )


def _value(value: Any, where: str, name: Name) -> Fields:
    return Fields(value, path(where, name))


class _SignedDocument:
    """What a manifest of either format does with its canonical bytes and signature.

    Subclasses are frozen dataclasses with ``signature`` and ``_unsigned_obj()``.
    """

    signature: str | None

    def _unsigned_obj(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_obj(self) -> dict[str, Any]:
        """The document as a JSON object: ``to_obj(from_obj(x)) == x``."""
        obj = self._unsigned_obj()
        put(obj, "signature", self.signature)
        return obj

    def to_json(self) -> bytes:
        """The canonical (RFC 8785) bytes of the whole document, signature included."""
        payload = self.signing_payload()
        if self.signature is None:
            return payload
        # "signature" sorts after every other top-level member name, so the
        # canonical form is the unsigned one with the signature appended.
        return payload[:-1] + b',"signature":' + _quote(self.signature).encode() + b"}"

    def signing_payload(self) -> bytes:
        """U: the canonical bytes of the document without its ``signature`` member.

        Each signature scheme adds its own domain separation to U (see signing).
        """
        return self._signing_payload

    def digest(self) -> bytes:
        """SHA-256 of the canonical document with its signature: what the batch leaf
        commits to."""
        return sha256(self.to_json())

    def digest_hex(self) -> str:
        """``digest()`` written as ``0x`` and 64 lowercase hex digits."""
        return to_hex(self.digest())

    def with_signature(self, signature: str) -> Self:
        """This document carrying ``signature`` (syntax checked, not verified)."""
        # Every subclass is a dataclass; the mixin itself cannot be one (its
        # defaulted ``signature`` would precede their required fields).
        changed: Self = replace(self, signature=check_signature(signature))  # type: ignore[type-var]
        return changed

    @cached_property
    def _signing_payload(self) -> bytes:
        return canonicalize(self._unsigned_obj())


@dataclass(frozen=True)
class Manifest(_SignedDocument):
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
        fields = Fields.of_object(
            obj, allowed=cls._MEMBERS,
            required=required if allow_unsigned else (*required, "signature"),
        )
        fields.choice("manifestVersion", (MANIFEST_VERSION,))
        creator = Creator.from_obj(obj["creator"], allow_unsigned=allow_unsigned)
        entries = fields.array("assets", 1, MAX_ASSETS).value
        assets = tuple(Asset.from_obj(entry, f"assets[{i}]") for i, entry in enumerate(entries))
        for index, entry in enumerate(entries):
            check_format_features(MANIFEST_VERSION, entry, f"assets[{index}]")
        _check_unique_ids(assets)
        return cls(
            manifest_version=MANIFEST_VERSION,
            creator=creator,
            assets=assets,
            signature=check_signature(obj["signature"]) if "signature" in obj else None,
            created_at=fields.optional("createdAt", fields.timestamp),
            extensions=extensions(fields, "extensions") if "extensions" in obj else None,
        )

    @property
    def asset_count(self) -> int:
        """How many assets the manifest holds (what an EIP-712 signature states)."""
        return len(self.assets)

    def _unsigned_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "manifestVersion": self.manifest_version,
            "creator": self.creator.to_obj(),
            "assets": [asset.to_obj() for asset in self.assets],
        }
        put(obj, "createdAt", self.created_at)
        if self.extensions is not None:
            obj["extensions"] = copy_json(self.extensions, EXTENSIONS, None)
        return obj


@dataclass(frozen=True)
class ManifestHeader(_SignedDocument):
    """A 1.1 manifest: the creator's signed commitment to ``asset_count`` assets.

    The assets are not here: ``assets_root`` is the root of their tree
    (``ledger.core.asset_tree``), so one asset can be proven without the others.
    Signed, digested and anchored exactly as a 1.0 manifest is.
    """

    creator: Creator
    asset_count: int
    assets_root: bytes
    signature: str | None = None
    created_at: str | None = None
    extensions: Mapping[str, Any] | None = None
    manifest_version: str = HEADER_VERSION

    _MEMBERS = frozenset(
        {"manifestVersion", "creator", "assetCount", "assetsRoot", "signature", "createdAt",
         "extensions"}
    )

    @classmethod
    def from_json(cls, data: bytes | str, *, allow_unsigned: bool = False) -> ManifestHeader:
        """Parse header JSON strictly and validate it (errors name the field)."""
        return cls.from_obj(parse_strict(data), allow_unsigned=allow_unsigned)

    @classmethod
    def from_obj(cls, obj: Any, *, allow_unsigned: bool = False) -> ManifestHeader:
        """Validate a parsed 1.1 header; raises ValidationError naming the field."""
        required = ("manifestVersion", "creator", "assetCount", "assetsRoot")
        fields = Fields.of_object(
            obj, allowed=cls._MEMBERS,
            required=required if allow_unsigned else (*required, "signature"),
        )
        version = fields.choice("manifestVersion", HEADER_VERSIONS)
        return cls(
            creator=Creator.from_obj(obj["creator"], allow_unsigned=allow_unsigned),
            asset_count=fields.integer("assetCount", 1, MAX_HEADER_ASSETS),
            assets_root=fields.hex_bytes("assetsRoot"),
            signature=check_signature(obj["signature"]) if "signature" in obj else None,
            created_at=fields.optional("createdAt", fields.timestamp),
            extensions=extensions(fields, "extensions") if "extensions" in obj else None,
            manifest_version=version,
        )

    def _unsigned_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "manifestVersion": self.manifest_version,
            "creator": self.creator.to_obj(),
            "assetCount": self.asset_count,
            "assetsRoot": to_hex(self.assets_root),
        }
        put(obj, "createdAt", self.created_at)
        if self.extensions is not None:
            obj["extensions"] = copy_json(self.extensions, EXTENSIONS, None)
        return obj


AnyManifest = Manifest | ManifestHeader
"""A manifest of either format: what is signed, digested and anchored."""


def check_format_features(version: str, entry: Any, where: str = "asset") -> None:
    """Refuse what a valid asset `entry` (a parsed JSON object) uses that manifest format
    `version` does not have: a licence's ``revocationNotice`` needs 1.2, so a reader of
    1.0 and 1.1 never meets a member it does not know."""
    if version in (MANIFEST_VERSION, HEADER_VERSION):
        for index, licence in enumerate(entry["licenses"]):
            if isinstance(licence, dict) and "revocationNotice" in licence:
                raise ValidationError(
                    f"needs manifestVersion {NOTICE_VERSION} (this is a {version} manifest)",
                    field=path(path(where, "licenses"), index) + ".revocationNotice",
                )


def is_header_version(version: object) -> bool:
    """Whether `version` is a header format (assets in a tree): 1.1 or 1.2."""
    return version in HEADER_VERSIONS


def parse_manifest(obj: Any, *, allow_unsigned: bool = False) -> AnyManifest:
    """A 1.0 `Manifest` or a 1.1/1.2 `ManifestHeader`, by its ``manifestVersion``."""
    if isinstance(obj, dict) and is_header_version(obj.get("manifestVersion")):
        return ManifestHeader.from_obj(obj, allow_unsigned=allow_unsigned)
    return Manifest.from_obj(obj, allow_unsigned=allow_unsigned)


def parse_manifest_json(data: bytes | str, *, allow_unsigned: bool = False) -> AnyManifest:
    """`parse_manifest` of strictly parsed JSON."""
    return parse_manifest(parse_strict(data), allow_unsigned=allow_unsigned)


def _check_unique_ids(assets: tuple[Asset, ...]) -> None:
    if len({asset.id for asset in assets}) == len(assets):
        return
    first: dict[str, int] = {}
    for index, asset in enumerate(assets):
        if asset.id in first:
            Fields(asset, f"assets[{index}]").fail(
                "id", f"{asset.id} is already the id of assets[{first[asset.id]}]"
            )
        first[asset.id] = index
