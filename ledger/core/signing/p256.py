"""The P-256 scheme: ECDSA with SHA-256 over ``tag + "\\n" + payload``.

For a manifest the tag is ``ledger-manifest-v1`` and the payload is U, its canonical
bytes without the signature. Keys are written ``p256:<base64 compressed point>``,
signatures ``p256ecdsa:<base64 strict DER>``, low s only.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ledger.core.signing.scheme import MANIFEST_TAG, Scheme, SigningKey, tagged
from ledger.errors import SignatureError

if TYPE_CHECKING:
    from ledger.core.manifest import AnyManifest

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


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

    def sign_manifest(self, manifest: AnyManifest) -> str:
        """The signature of the tagged manifest payload U."""
        return self.sign_bytes(tagged(MANIFEST_TAG, manifest.signing_payload()))

    def sign_message(self, tag: str, payload: bytes) -> str:
        """The signature of the tagged ``payload``."""
        return self.sign_bytes(tagged(tag, payload))


class P256Scheme(Scheme):
    """Verifies ``p256ecdsa:`` signatures by ``p256:`` keys."""

    name = "p256"
    key_prefix = "p256:"
    signature_prefix = "p256ecdsa:"
    needs = "a p256 signingKey needs a p256ecdsa: signature"

    def verify_manifest(
        self, key_id: str, signature: str, manifest: AnyManifest, *, key_field: str
    ) -> None:
        """Check ``signature`` over the tagged manifest payload U."""
        self._verify(key_id, signature, tagged(MANIFEST_TAG, manifest.signing_payload()),
                     key_field)

    def verify_message(
        self, key_id: str, signature: str, tag: str, payload: bytes, *, key_field: str
    ) -> None:
        """Check ``signature`` over the tagged ``payload``."""
        self._verify(key_id, signature, tagged(tag, payload), key_field)

    def _verify(self, key_id: str, signature: str, message: bytes, key_field: str) -> None:
        self.check_signature_scheme(signature)
        public_key = public_key_of(key_id, key_field)
        der = _decode_base64(signature[len(self.signature_prefix) :])
        _check_strict_der(der)
        try:
            public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise SignatureError(
                f"the signature does not verify against {key_field}", field="signature"
            ) from None


@lru_cache(maxsize=4096)
def public_key_of(key_id: str, key_field: str) -> ec.EllipticCurvePublicKey:
    """The public key a ``p256:`` key id names; SignatureError (at ``key_field``) when
    it is not a compressed point on the curve."""
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
