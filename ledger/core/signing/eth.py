"""The Ethereum scheme: EIP-712 signatures by the address in the key id.

A manifest is signed as ``LedgerManifest(manifestVersion, creatorId, assetCount,
contentHash = keccak256(U))``, any other message as ``LedgerMessage(tag, contentHash =
keccak256(payload))``. Keys are written ``eth:<EIP-55 address>``, signatures
``eip712:0x<r‖s‖v>``, v 27 or 28, low s only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ledger.core.hashing import checksum_address, keccak256
from ledger.core.signing.scheme import Scheme, SigningKey
from ledger.errors import SignatureError

if TYPE_CHECKING:
    from ledger.core.manifest import AnyManifest

EIP712_DOMAIN = {"name": "ledger", "version": "1"}
"""The EIP-712 domain: no chainId, because manifests are chain-independent."""

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

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
_HEX_SECRET = re.compile(r"[0-9a-fA-F]{64}")


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
        if not _HEX_SECRET.fullmatch(digits):
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

    def sign_manifest(self, manifest: AnyManifest) -> str:
        """The signature of the manifest's ``LedgerManifest`` typed data."""
        return self.sign_typed_data(manifest_typed_data(manifest))

    def sign_message(self, tag: str, payload: bytes) -> str:
        """The signature of the message's ``LedgerMessage`` typed data."""
        return self.sign_typed_data(message_typed_data(tag, payload))


class EthScheme(Scheme):
    """Verifies ``eip712:`` signatures by ``eth:`` keys, recovering the signer's address."""

    name = "eth"
    key_prefix = "eth:"
    signature_prefix = "eip712:"
    needs = "an eth signingKey needs an eip712: signature"

    def address_of(self, key_id: str) -> str | None:
        """The address an ``eth:`` key id names, EIP-55 checksummed."""
        return checksum_address(key_id[len(self.key_prefix) :])

    def verify_manifest(
        self, key_id: str, signature: str, manifest: AnyManifest, *, key_field: str
    ) -> None:
        """Check ``signature`` over the manifest's ``LedgerManifest`` hash."""
        self._verify(key_id, signature, _manifest_hash(manifest), key_field)

    def verify_message(
        self, key_id: str, signature: str, tag: str, payload: bytes, *, key_field: str
    ) -> None:
        """Check ``signature`` over the message's ``LedgerMessage`` hash."""
        self._verify(key_id, signature, _message_hash(tag, payload), key_field)

    def _verify(self, key_id: str, signature: str, digest: bytes, key_field: str) -> None:
        self.check_signature_scheme(signature)
        raw = bytes.fromhex(signature[len("eip712:0x") :])
        r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
        if v not in (27, 28):
            raise SignatureError("malformed signature: v must be 27 or 28", field="signature")
        if not (0 < r < SECP256K1_ORDER and 0 < s < SECP256K1_ORDER):
            raise SignatureError("malformed signature: r or s out of range", field="signature")
        if s > SECP256K1_ORDER // 2:
            raise SignatureError("high-s signature: s must be at most n/2", field="signature")
        recovered = _recover(digest, v, r, s)
        if recovered != bytes.fromhex(key_id[len("eth:0x") :]):
            raise SignatureError(
                f"the signature does not verify: it recovers address "
                f"{checksum_address('0x' + recovered.hex())}, not {key_id[len('eth:') :]} "
                f"({key_field})",
                field="signature",
            )


def _recover(digest: bytes, v: int, r: int, s: int) -> bytes:
    """The 20-byte address whose key made signature (v, r, s) of ``digest``."""
    from eth_keys.datatypes import Signature as EthSignature
    from eth_keys.exceptions import BadSignature
    from eth_utils.exceptions import ValidationError as EthKeysValidationError

    try:
        public_key = EthSignature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, EthKeysValidationError):
        raise SignatureError(
            "the signature does not verify: no key recovers", field="signature"
        ) from None
    return keccak256(public_key.to_bytes())[12:]


def manifest_typed_data(manifest: AnyManifest) -> dict[str, Any]:
    """The EIP-712 typed data an Ethereum creator signs (e.g. with eth_signTypedData_v4)."""
    return {
        "types": {name: _EIP712_TYPES[name] for name in ("EIP712Domain", "LedgerManifest")},
        "primaryType": "LedgerManifest",
        "domain": dict(EIP712_DOMAIN),
        "message": {
            "manifestVersion": manifest.manifest_version,
            "creatorId": manifest.creator.id,
            "assetCount": manifest.asset_count,
            "contentHash": keccak256(manifest.signing_payload()),
        },
    }


def message_typed_data(tag: str, payload: bytes) -> dict[str, Any]:
    """The EIP-712 typed data of a non-manifest message."""
    return {
        "types": {name: _EIP712_TYPES[name] for name in ("EIP712Domain", "LedgerMessage")},
        "primaryType": "LedgerMessage",
        "domain": dict(EIP712_DOMAIN),
        "message": {"tag": tag, "contentHash": keccak256(payload)},
    }


def _manifest_hash(manifest: AnyManifest) -> bytes:
    struct = keccak256(
        _MANIFEST_TYPEHASH
        + keccak256(manifest.manifest_version.encode())
        + keccak256(manifest.creator.id.encode())
        + manifest.asset_count.to_bytes(32, "big")
        + keccak256(manifest.signing_payload())
    )
    return keccak256(b"\x19\x01" + _DOMAIN_SEPARATOR + struct)


def _message_hash(tag: str, payload: bytes) -> bytes:
    struct = keccak256(_MESSAGE_TYPEHASH + keccak256(tag.encode()) + keccak256(payload))
    return keccak256(b"\x19\x01" + _DOMAIN_SEPARATOR + struct)
