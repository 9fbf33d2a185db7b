"""Signing and verifying manifests and other ledger messages: one module per scheme.

Two schemes, fixed by the manifest format, in a registry keyed by name
(``registry.SCHEMES``):

- ``p256`` (`p256`): ECDSA with SHA-256 over ``tag + "\\n" + payload`` (for a manifest
  the tag is ``ledger-manifest-v1`` and the payload is U, its canonical bytes without
  the signature). Written ``p256ecdsa:<base64 strict DER>``, low s only.
- ``eth`` (`eth`): an EIP-712 signature by the address in ``signingKey``, over
  ``LedgerManifest(manifestVersion, creatorId, assetCount, contentHash =
  keccak256(U))`` for a manifest, or ``LedgerMessage(tag, contentHash =
  keccak256(payload))`` for other messages. Written ``eip712:0x<r‖s‖v>``,
  v 27 or 28, low s only.

Requiring low s makes each signature, hence each manifest digest, unique.
Signing is deterministic (RFC 6979), so this package needs no randomness;
keys are generated and stored by ``ledger.keyfile``.
"""

from ledger.core.signing.documents import (
    sign_manifest,
    sign_message,
    verify_manifest,
    verify_message,
)
from ledger.core.signing.eth import (
    EIP712_DOMAIN,
    SECP256K1_ORDER,
    EthSigningKey,
    manifest_typed_data,
    message_typed_data,
)
from ledger.core.signing.p256 import P256_ORDER, P256SigningKey
from ledger.core.signing.registry import (
    SCHEME_NAMES,
    SCHEMES,
    address_of,
    scheme_of_key,
)
from ledger.core.signing.scheme import MANIFEST_TAG, Scheme, SigningKey

__all__ = [
    "EIP712_DOMAIN",
    "MANIFEST_TAG",
    "P256_ORDER",
    "SCHEMES",
    "SCHEME_NAMES",
    "SECP256K1_ORDER",
    "EthSigningKey",
    "P256SigningKey",
    "Scheme",
    "SigningKey",
    "address_of",
    "manifest_typed_data",
    "message_typed_data",
    "scheme_of_key",
    "sign_manifest",
    "sign_message",
    "verify_manifest",
    "verify_message",
]
