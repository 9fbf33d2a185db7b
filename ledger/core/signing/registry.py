"""The signature schemes ledger accepts, found by name or by the key id they own.

To add a scheme, write a module like ``p256.py`` (a `SigningKey` subclass and a
`Scheme`) and list its Scheme here; the manifest format names the key and signature
syntax it accepts (``ledger.core.manifest.check_signing_key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ledger.core.signing.eth import EthScheme
from ledger.core.signing.p256 import P256Scheme
from ledger.core.signing.scheme import Scheme
from ledger.errors import SignatureError

SCHEMES: Mapping[str, Scheme] = MappingProxyType(
    {scheme.name: scheme for scheme in (P256Scheme(), EthScheme())}
)
"""Every scheme by name, in the order key types are offered (``p256`` first)."""

SCHEME_NAMES = tuple(SCHEMES)


def find_scheme(key_id: str) -> Scheme | None:
    """The scheme whose key ids start like ``key_id``, or None."""
    for scheme in SCHEMES.values():
        if key_id.startswith(scheme.key_prefix):
            return scheme
    return None


def scheme_of_key(key_id: str, key_field: str = "signingKey") -> Scheme:
    """The scheme of public key id ``key_id``; SignatureError naming ``key_field`` if none."""
    scheme = find_scheme(key_id)
    if scheme is None:
        raise SignatureError("no signature scheme has a key id like this", field=key_field)
    return scheme


def address_of(key_id: str) -> str | None:
    """The EVM account (EIP-55) that public key id ``key_id`` is, or None when the key
    is not an account (a P-256 key) or of no known scheme."""
    scheme = find_scheme(key_id)
    return None if scheme is None else scheme.address_of(key_id)
