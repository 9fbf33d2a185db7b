"""What buyers and split owners post to the service, parsed and checked: pure, so the
use cases get typed values and every refusal names its member."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.core.fields import ADDRESS, SIGNATURE_65, Fields
from ledger.errors import ValidationError

_SIGNATURE = "0x and 130 lower-case hex digits"
#: Members of `SplitSignatureRequest`, all required.
SPLIT_MEMBERS = frozenset({"manifestDigest", "assetId", "version", "deadline", "signature"})
#: Members of `CosignRequest`, all required.
COSIGN_MEMBERS = frozenset({"usageRoot", "token", "signature"})


def asset_query(digest_hex: Any, asset_id: Any) -> tuple[bytes, str]:
    """The manifest digest and asset id a split request names (``manifestDigest``,
    ``assetId``)."""
    fields = Fields({"manifestDigest": digest_hex, "assetId": asset_id})
    digest = fields.hex_bytes("manifestDigest")
    if not isinstance(asset_id, str):
        fields.fail("assetId", "must be a string")
    return digest, asset_id


@dataclass(frozen=True)
class SplitSignatureRequest:
    """An owner's EIP-712 signature of an asset's next split terms."""

    manifest_digest: bytes
    asset_id: str
    version: int
    deadline: int
    signature: bytes

    @classmethod
    def from_obj(cls, obj: Any) -> SplitSignatureRequest:
        """Parse the body of ``POST /v1/splits``."""
        fields = _exactly(obj, SPLIT_MEMBERS)
        digest, asset_id = asset_query(obj["manifestDigest"], obj["assetId"])
        return cls(
            digest, asset_id,
            fields.integer("version", 1, 2**53 - 1, "a positive integer"),
            fields.integer("deadline", 1, 2**53 - 1, "a positive integer"),
            fields.hex_bytes("signature", SIGNATURE_65, _SIGNATURE),
        )


@dataclass(frozen=True)
class CosignRequest:
    """A buyer's signature of a proposed settlement, named by its usage root and token."""

    usage_root: bytes
    token: str
    signature: bytes

    @classmethod
    def from_obj(cls, obj: Any) -> CosignRequest:
        """Parse the body of ``POST /v1/buyers/{address}/cosign``."""
        fields = _exactly(obj, COSIGN_MEMBERS)
        root = fields.hex_bytes("usageRoot")
        token = obj["token"]
        if not isinstance(token, str) or not (token == "ETH" or ADDRESS.fullmatch(token)):
            fields.fail("token", 'must be "ETH" or an 0x address')
        return cls(root, token, fields.hex_bytes("signature", SIGNATURE_65, _SIGNATURE))


def _exactly(obj: Any, members: frozenset[str]) -> Fields:
    if not isinstance(obj, dict) or set(obj) != members:
        raise ValidationError(f"must be an object with exactly {sorted(members)}")
    return Fields(obj)
