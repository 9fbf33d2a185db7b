"""Signing and verifying manifests and other ledger messages.

Two schemes, fixed by the manifest format:

- P-256: ECDSA with SHA-256 over ``tag + "\\n" + payload`` (for a manifest the
  tag is ``ledger-manifest-v1`` and the payload is U, its canonical bytes
  without the signature). Written ``p256ecdsa:<base64 strict DER>``, low s only.
- Ethereum: an EIP-712 signature by the address in ``signingKey``, over
  ``LedgerManifest(manifestVersion, creatorId, assetCount, contentHash =
  keccak256(U))`` for a manifest, or ``LedgerMessage(tag, contentHash =
  keccak256(payload))`` for other messages. Written ``eip712:0x<r‖s‖v>``,
  v 27 or 28, low s only.

Requiring low s makes each signature, hence each manifest digest, unique.
Signing is deterministic (RFC 6979), so this module needs no randomness;
keys are generated and stored by ``ledger.keyfile``.
"""

from __future__ import annotations

import base64
import binascii
import re
from abc import ABC, abstractmethod
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ledger.core.hashing import checksum_address, keccak256
from ledger.core.manifest import Manifest, check_signature, check_signing_key
from ledger.errors import SignatureError, ValidationError

MANIFEST_TAG = "ledger-manifest-v1"
"""Domain tag of manifest signatures; other messages must use other tags."""

EIP712_DOMAIN = {"name": "ledger", "version": "1"}
"""The EIP-712 domain: no chainId, because manifests are chain-independent."""

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

_TAG = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")
_EIP712_TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}],
    "LedgerManifest": [
        {"name": "manifestVersion", "type": "string"},
        {"name": "creatorId", "type": "string"},
        {"name": "assetCount", "type": "uint256"},
        {"name": "contentHash", "type": "bytes32"},
    ],
    "LedgerMessage": [
        {"name": "tag", "type": "string"},
        {"name": "contentHash", "type": "bytes32"},
    ],
}
# EIP-712 hashing done here with the fast keccak: verification is a hot path.
_DOMAIN_SEPARATOR = keccak256(
    keccak256(b"EIP712Domain(string name,string version)")
    + keccak256(EIP712_DOMAIN["name"].encode())
    + keccak256(EIP712_DOMAIN["version"].encode())
)
_MANIFEST_TYPEHASH = keccak256(
    b"LedgerManifest(string manifestVersion,string creatorId,"
    b"uint256 assetCount,bytes32 contentHash)"
)
_MESSAGE_TYPEHASH = keccak256(b"LedgerMessage(string tag,bytes32 contentHash)")


# -- keys -------------------------------------------------------------------------


class SigningKey(ABC):
    """A private key that can sign ledger messages; see ``public_id``."""

    @property
    @abstractmethod
    def public_id(self) -> str:
        """The public key as a manifest's ``creator.signingKey`` writes it."""


class P256SigningKey(SigningKey):
    """A NIST P-256 (secp256r1) private key."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise SignatureError(f"key is on {private_key.curve.name}, not P-256 (secp256r1)")
        self._key = private_key
        point = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        self._public_id = "p256:" + base64.b64encode(point).decode("ascii")

    @classmethod
    def from_pem(cls, data: bytes) -> P256SigningKey:
        """Load an unencrypted PEM (PKCS#8 or SEC1) P-256 private key."""
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise SignatureError(f"not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SignatureError("PEM key is not an elliptic-curve key")
        return cls(key)

    @classmethod
    def from_secret(cls, secret: int) -> P256SigningKey:
        """The key with private scalar ``secret`` (1 ≤ secret < n); for fixed test keys."""
        if not 1 <= secret < P256_ORDER:
            raise SignatureError("P-256 private scalar out of range")
        return cls(ec.derive_private_key(secret, ec.SECP256R1()))

    def to_pem(self) -> bytes:
        """The key as unencrypted PKCS#8 PEM."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_id(self) -> str:
        """``p256:`` and the base64 of the 33-byte compressed public point."""
        return self._public_id

    def sign_bytes(self, message: bytes) -> str:
        """A ``p256ecdsa:`` signature over SHA-256 of ``message``: deterministic, low s."""
        der = self._key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        if s > P256_ORDER // 2:
            der = encode_dss_signature(r, P256_ORDER - s)
        return "p256ecdsa:" + base64.b64encode(der).decode("ascii")


class EthSigningKey(SigningKey):
    """A secp256k1 private key, identified by its Ethereum address."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32 or not 1 <= int.from_bytes(secret, "big") < SECP256K1_ORDER:
            raise SignatureError("an Ethereum private key is 32 bytes, 1 ≤ key < n")
        self._secret = secret
        # eth_account, eth_keys and eth_utils are imported where used: with py_ecc
        # they take most of a second, which `ledger --help` and `ledger verify` skip.
        from eth_account import Account

        address: str = Account.from_key(secret).address
        self._public_id = "eth:" + address

    @classmethod
    def from_hex(cls, text: str) -> EthSigningKey:
        """Load a key from 64 hex digits, with or without ``0x``."""
        digits = text[2:] if text.startswith(("0x", "0X")) else text
        if not re.fullmatch(r"[0-9a-fA-F]{64}", digits):
            raise SignatureError("an Ethereum private key is 64 hex digits")
        return cls(bytes.fromhex(digits))

    def to_hex(self) -> str:
        """The private key as ``0x`` and 64 lowercase hex digits."""
        return "0x" + self._secret.hex()

    @property
    def public_id(self) -> str:
        """``eth:`` and the EIP-55 checksummed address."""
        return self._public_id

    def sign_typed_data(self, typed_data: dict[str, Any]) -> str:
        """An ``eip712:`` signature of EIP-712 ``typed_data``: deterministic, low s."""
        from eth_account import Account
        from eth_account.messages import encode_typed_data

        signed = Account.sign_message(encode_typed_data(full_message=typed_data), self._secret)
        r: int = signed.r
        s: int = signed.s
        v: int = signed.v
        if s > SECP256K1_ORDER // 2:
            # (r, n - s) is the same signature for the other parity of R.
            s, v = SECP256K1_ORDER - s, 55 - v
        return "eip712:0x" + r.to_bytes(32, "big").hex() + s.to_bytes(32, "big").hex() + f"{v:02x}"


# -- manifests ------------------------------------------------------------------


def sign_manifest(manifest_obj: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """Sign a manifest object; return a new object carrying ``signature``.

    Any existing signature is replaced. A creator without ``signingKey`` gets
    ``key.public_id``; one naming another key is refused (SignatureError).
    Raises ValidationError if the manifest is invalid.
    """
    obj = {name: value for name, value in manifest_obj.items() if name != "signature"}
    creator = obj.get("creator")
    if isinstance(creator, dict) and "signingKey" not in creator:
        obj["creator"] = {**creator, "signingKey": key.public_id}
    manifest = Manifest.from_obj(obj, allow_unsigned=True)
    if manifest.creator.signing_key != key.public_id:
        raise SignatureError(
            f"the manifest names {manifest.creator.signing_key} but the key is {key.public_id}",
            field="creator.signingKey",
        )
    if isinstance(key, P256SigningKey):
        signature = key.sign_bytes(_tagged(MANIFEST_TAG, manifest.signing_payload()))
    elif isinstance(key, EthSigningKey):
        signature = key.sign_typed_data(manifest_typed_data(manifest))
    else:
        raise SignatureError(f"unsupported key type {type(key).__name__}")
    return manifest.with_signature(signature).to_obj()


def verify_manifest(manifest: Manifest) -> None:
    """Check a manifest's signature against ``creator.signingKey``.

    Raises SignatureError saying why: unsigned, malformed signature, scheme not
    matching the key, non-strict DER, high s, bad key encoding, or the
    signature does not verify (for Ethereum: recovers another address).
    """
    if manifest.signature is None:
        raise SignatureError("the manifest is not signed", field="signature")
    key_id = manifest.creator.signing_key
    if key_id is None:
        raise SignatureError("the creator has no signingKey", field="creator.signingKey")
    if key_id.startswith("p256:"):
        _verify_p256(
            key_id,
            manifest.signature,
            _tagged(MANIFEST_TAG, manifest.signing_payload()),
            key_field="creator.signingKey",
        )
    else:
        _verify_eip712(
            key_id,
            manifest.signature,
            _manifest_eip712_hash(manifest),
            key_field="creator.signingKey",
        )


def manifest_typed_data(manifest: Manifest) -> dict[str, Any]:
    """The EIP-712 typed data an Ethereum creator signs (e.g. with eth_signTypedData_v4)."""
    return {
        "types": {name: _EIP712_TYPES[name] for name in ("EIP712Domain", "LedgerManifest")},
        "primaryType": "LedgerManifest",
        "domain": dict(EIP712_DOMAIN),
        "message": {
            "manifestVersion": manifest.manifest_version,
            "creatorId": manifest.creator.id,
            "assetCount": len(manifest.assets),
            "contentHash": keccak256(manifest.signing_payload()),
        },
    }


def _manifest_eip712_hash(manifest: Manifest) -> bytes:
    struct = keccak256(
        _MANIFEST_TYPEHASH
        + keccak256(manifest.manifest_version.encode())
        + keccak256(manifest.creator.id.encode())
        + len(manifest.assets).to_bytes(32, "big")
        + keccak256(manifest.signing_payload())
    )
    return keccak256(b"\x19\x01" + _DOMAIN_SEPARATOR + struct)


# -- other messages -------------------------------------------------------------


def sign_message(tag: str, payload: bytes, key: SigningKey) -> str:
    """Sign ``payload`` under domain ``tag`` (e.g. ``ledger-creator-v1``); return the signature."""
    _check_tag(tag)
    if isinstance(key, P256SigningKey):
        return key.sign_bytes(_tagged(tag, payload))
    if isinstance(key, EthSigningKey):
        return key.sign_typed_data(message_typed_data(tag, payload))
    raise SignatureError(f"unsupported key type {type(key).__name__}")


def verify_message(tag: str, payload: bytes, signature: str, signing_key: str) -> None:
    """Check ``signature`` over ``payload`` under ``tag`` by ``signing_key`` (a public id).

    Raises SignatureError with the reason, as ``verify_manifest`` does.
    """
    _check_tag(tag)
    try:
        check_signing_key(signing_key, "", "signingKey")
        check_signature(signature, "", "signature")
    except ValidationError as exc:
        raise SignatureError(exc.message, field=exc.field) from None
    if signing_key.startswith("p256:"):
        _verify_p256(signing_key, signature, _tagged(tag, payload), key_field="signingKey")
    else:
        _verify_eip712(
            signing_key, signature, _message_eip712_hash(tag, payload), key_field="signingKey"
        )


def message_typed_data(tag: str, payload: bytes) -> dict[str, Any]:
    """The EIP-712 typed data of a non-manifest message."""
    return {
        "types": {name: _EIP712_TYPES[name] for name in ("EIP712Domain", "LedgerMessage")},
        "primaryType": "LedgerMessage",
        "domain": dict(EIP712_DOMAIN),
        "message": {"tag": tag, "contentHash": keccak256(payload)},
    }


def _message_eip712_hash(tag: str, payload: bytes) -> bytes:
    struct = keccak256(_MESSAGE_TYPEHASH + keccak256(tag.encode()) + keccak256(payload))
    return keccak256(b"\x19\x01" + _DOMAIN_SEPARATOR + struct)


def _check_tag(tag: str) -> None:
    if not _TAG.fullmatch(tag):
        raise SignatureError(f"bad domain tag {tag!r}: lower-case letters, digits, . and -")
    if tag == MANIFEST_TAG:
        raise SignatureError(f"{MANIFEST_TAG} is reserved for manifests: use sign_manifest")


def _tagged(tag: str, payload: bytes) -> bytes:
    return tag.encode("ascii") + b"\n" + payload


# -- verification -----------------------------------------------------------------


def _verify_p256(key_id: str, signature: str, message: bytes, *, key_field: str) -> None:
    if not signature.startswith("p256ecdsa:"):
        raise SignatureError(
            f"a p256 signingKey needs a p256ecdsa: signature, not {signature.split(':')[0]}:",
            field="signature",
        )
    public_key = _p256_public_key(key_id, key_field)
    der = _decode_base64(signature[len("p256ecdsa:") :])
    _check_strict_der(der)
    try:
        public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise SignatureError(
            f"the signature does not verify against {key_field}", field="signature"
        ) from None


@lru_cache(maxsize=4096)
def _p256_public_key(key_id: str, key_field: str) -> ec.EllipticCurvePublicKey:
    # Creators sign many manifests with one key; decompressing the point is costly.
    point = base64.b64decode(key_id[len("p256:") :])
    if len(point) != 33 or point[0] not in (2, 3):
        raise SignatureError("bad key encoding: not a compressed P-256 point", field=key_field)
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise SignatureError("bad key encoding: not a point on P-256", field=key_field) from None


def _decode_base64(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise SignatureError("malformed signature: bad base64", field="signature") from None
    if base64.b64encode(raw).decode("ascii") != text:
        # Non-zero padding bits would give one signature several spellings.
        raise SignatureError("malformed signature: non-canonical base64", field="signature")
    return raw


def _check_strict_der(der: bytes) -> None:
    """Accept only the one DER encoding of SEQUENCE { r INTEGER, s INTEGER }, with low s."""
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        raise SignatureError("not strict DER: bad SEQUENCE header or length", field="signature")
    r, offset = _der_integer(der, 2)
    s, offset = _der_integer(der, offset)
    if offset != len(der):
        raise SignatureError("not strict DER: bytes after the integers", field="signature")
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        raise SignatureError("malformed signature: r or s out of range", field="signature")
    if s > P256_ORDER // 2:
        raise SignatureError("high-s signature: s must be at most n/2", field="signature")


def _der_integer(der: bytes, offset: int) -> tuple[int, int]:
    if offset + 2 > len(der) or der[offset] != 0x02:
        raise SignatureError("not strict DER: INTEGER expected", field="signature")
    length = der[offset + 1]
    body = der[offset + 2 : offset + 2 + length]
    if not 1 <= length <= 33 or len(body) != length:
        raise SignatureError("not strict DER: bad INTEGER length", field="signature")
    if body[0] & 0x80:
        raise SignatureError("not strict DER: negative INTEGER", field="signature")
    if length > 1 and body[0] == 0 and not body[1] & 0x80:
        raise SignatureError(
            "not strict DER: INTEGER has a needless leading zero", field="signature"
        )
    return int.from_bytes(body, "big"), offset + 2 + length


def _verify_eip712(key_id: str, signature: str, digest: bytes, *, key_field: str) -> None:
    if not signature.startswith("eip712:"):
        raise SignatureError(
            f"an eth signingKey needs an eip712: signature, not {signature.split(':')[0]}:",
            field="signature",
        )
    raw = bytes.fromhex(signature[len("eip712:0x") :])
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v not in (27, 28):
        raise SignatureError("malformed signature: v must be 27 or 28", field="signature")
    if not (0 < r < SECP256K1_ORDER and 0 < s < SECP256K1_ORDER):
        raise SignatureError("malformed signature: r or s out of range", field="signature")
    if s > SECP256K1_ORDER // 2:
        raise SignatureError("high-s signature: s must be at most n/2", field="signature")
    from eth_keys.datatypes import Signature as EthSignature
    from eth_keys.exceptions import BadSignature
    from eth_utils.exceptions import ValidationError as EthKeysValidationError

    try:
        public_key = EthSignature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, EthKeysValidationError):
        raise SignatureError(
            "the signature does not verify: no key recovers", field="signature"
        ) from None
    recovered = keccak256(public_key.to_bytes())[12:]
    if recovered != bytes.fromhex(key_id[len("eth:0x") :]):
        raise SignatureError(
            f"the signature does not verify: it recovers address "
            f"{checksum_address('0x' + recovered.hex())}, not {key_id[len('eth:') :]} "
            f"({key_field})",
            field="signature",
        )
