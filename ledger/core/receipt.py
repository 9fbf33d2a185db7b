"""Intake receipts: the service's signed promise, given before the chain confirms.

A receipt names a manifest digest, when the service accepted it, and the latest
time its batch will be anchored. A creator holds it while the manifest is
pending; `ledger verify` checks it, and a missed `anchorBy` is evidence against
the operator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.fields import ANY_CASE_HASH, Fields
from ledger.core.signing import SigningKey, sign_message, verify_message
from ledger.core.vocabulary import RECEIPT_VERSION
from ledger.errors import SignatureError, ValidationError

RECEIPT_TAG = "ledger-receipt-v1"

_NON_EMPTY = re.compile(r".+", re.DOTALL)
_MEMBERS = ("version", "manifestDigest", "acceptedAt", "anchorBy", "serviceKey", "signature")


@dataclass(frozen=True)
class Receipt:
    """A signed intake receipt; times are milliseconds since the Unix epoch."""

    manifest_digest: bytes
    accepted_at: int
    anchor_by: int
    service_key: str
    signature: str

    def payload(self) -> bytes:
        """The canonical bytes the signature covers (everything but the signature)."""
        return _payload(self.manifest_digest, self.accepted_at, self.anchor_by, self.service_key)

    def to_obj(self) -> dict[str, Any]:
        """The receipt as a JSON object (`from_obj` inverts it)."""
        return {
            "version": RECEIPT_VERSION,
            "manifestDigest": "0x" + self.manifest_digest.hex(),
            "acceptedAt": self.accepted_at,
            "anchorBy": self.anchor_by,
            "serviceKey": self.service_key,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: bytes | str) -> Receipt:
        """Parse receipt JSON strictly; ValidationError names the bad member."""
        return cls.from_obj(parse_strict(data))

    @classmethod
    def from_obj(cls, obj: Any) -> Receipt:
        """Validate a parsed receipt object."""
        if not isinstance(obj, dict):
            raise ValidationError("a receipt must be a JSON object")
        for name in _MEMBERS:
            if name not in obj:
                raise ValidationError("is missing", field=name)
        for name in obj:
            if name not in _MEMBERS:
                raise ValidationError("is not a receipt member", field=name)
        fields = Fields(obj)
        if obj["version"] != RECEIPT_VERSION:
            raise ValidationError(f"must be {RECEIPT_VERSION!r}", field="version")
        return cls(
            manifest_digest=fields.hex_bytes(
                "manifestDigest", ANY_CASE_HASH, "0x followed by 64 hex digits"
            ),
            accepted_at=fields.timestamp_ms("acceptedAt"),
            anchor_by=fields.timestamp_ms("anchorBy"),
            service_key=fields.match("serviceKey", _NON_EMPTY, "a non-empty string"),
            signature=fields.match("signature", _NON_EMPTY, "a non-empty string"),
        )

    def verify(self, service_key: str | None = None) -> None:
        """Check the signature, and that it is `service_key`'s when one is given."""
        if service_key is not None and service_key != self.service_key:
            raise SignatureError("receipt is signed by another service key", field="serviceKey")
        if self.anchor_by < self.accepted_at:
            raise ValidationError("is before acceptedAt", field="anchorBy")
        verify_message(RECEIPT_TAG, self.payload(), self.signature, self.service_key)


class ReceiptSigner:
    """Signs receipts with the service's own key."""

    def __init__(self, key: SigningKey) -> None:
        self._key = key

    @property
    def public_key(self) -> str:
        """The service key receipts name, e.g. ``p256:…``."""
        return self._key.public_id

    def sign_message(self, tag: str, payload: bytes) -> str:
        """The service key's signature of another document (a licence snapshot) under
        its own domain ``tag``; never a receipt's."""
        if tag == RECEIPT_TAG:
            raise SignatureError(f"{RECEIPT_TAG} is reserved for receipts: use sign")
        return sign_message(tag, payload, self._key)

    def sign(self, digest: bytes, accepted_at: int, anchor_by: int) -> Receipt:
        """A receipt for `digest`; deterministic for the same inputs."""
        payload = _payload(digest, accepted_at, anchor_by, self.public_key)
        signature = sign_message(RECEIPT_TAG, payload, self._key)
        return Receipt(digest, accepted_at, anchor_by, self.public_key, signature)


def _payload(digest: bytes, accepted_at: int, anchor_by: int, service_key: str) -> bytes:
    if _plain_millis(accepted_at) and _plain_millis(anchor_by):
        # The canonical form written directly (members in RFC 8785 order): intake
        # signs one receipt per manifest, and this is a tenth of canonicalize's cost.
        return b'{"acceptedAt":%d,"anchorBy":%d,"manifestDigest":"0x%s","serviceKey":%s,%s' % (
            accepted_at,
            anchor_by,
            digest.hex().encode(),
            _json_string(service_key),
            _VERSION_MEMBER,
        )
    return canonicalize(
        {
            "version": RECEIPT_VERSION,
            "manifestDigest": "0x" + digest.hex(),
            "acceptedAt": accepted_at,
            "anchorBy": anchor_by,
            "serviceKey": service_key,
        }
    )


_VERSION_MEMBER = canonicalize({"version": RECEIPT_VERSION})[1:]


def _plain_millis(value: int) -> bool:
    # An int that canonicalize writes in plain decimal digits (not a bool, exactly a double).
    return type(value) is int and 0 <= value < 2**53


@lru_cache(maxsize=8)
def _json_string(text: str) -> bytes:
    return canonicalize(text)
