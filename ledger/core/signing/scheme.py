"""What a signature scheme is: a private key type that signs, and a `Scheme` that
verifies signatures by the public key ids it owns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from ledger.errors import SignatureError

if TYPE_CHECKING:
    from ledger.core.manifest import AnyManifest

MANIFEST_TAG = "ledger-manifest-v1"
"""Domain tag of manifest signatures; other messages must use other tags."""


class SigningKey(ABC):
    """A private key that can sign ledger messages; see ``public_id``."""

    @property
    @abstractmethod
    def public_id(self) -> str:
        """The public key as a manifest's ``creator.signingKey`` writes it."""

    @abstractmethod
    def sign_manifest(self, manifest: AnyManifest) -> str:
        """The signature of ``manifest`` (its ``signing_payload``, domain-separated)."""

    @abstractmethod
    def sign_message(self, tag: str, payload: bytes) -> str:
        """The signature of ``payload`` under domain ``tag`` (already checked)."""


class Scheme(ABC):
    """One signature scheme: which key ids and signatures are its, and how they verify.

    ``name`` is how key files and the CLI call it; ``key_prefix`` starts its public
    key ids and ``signature_prefix`` its signatures. Verifiers raise SignatureError
    naming the field at fault (``key_field`` for the key).
    """

    name: ClassVar[str]
    key_prefix: ClassVar[str]
    signature_prefix: ClassVar[str]
    #: What the error says when a signature of another scheme meets this key.
    needs: ClassVar[str]

    def address_of(self, key_id: str) -> str | None:
        """The EVM account a key id controls (EIP-55), or None if it is not an account."""
        del key_id
        return None

    @abstractmethod
    def verify_manifest(
        self, key_id: str, signature: str, manifest: AnyManifest, *, key_field: str
    ) -> None:
        """Check ``signature`` over ``manifest`` by ``key_id``."""

    @abstractmethod
    def verify_message(
        self, key_id: str, signature: str, tag: str, payload: bytes, *, key_field: str
    ) -> None:
        """Check ``signature`` over ``payload`` under ``tag`` by ``key_id``."""

    def check_signature_scheme(self, signature: str) -> None:
        """Refuse a signature written in another scheme than this key's."""
        if not signature.startswith(self.signature_prefix):
            raise SignatureError(
                f"{self.needs}, not {signature.split(':')[0]}:", field="signature"
            )


def tagged(tag: str, payload: bytes) -> bytes:
    """``tag`` and a newline before ``payload``: the bytes a byte-signing scheme signs."""
    return tag.encode("ascii") + b"\n" + payload
