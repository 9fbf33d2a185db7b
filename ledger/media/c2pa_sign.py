"""Sign a C2PA manifest into an embedded copy with c2pa-python's Builder.

The manifest carries three assertions beside the ones c2pa adds itself (the actions
and, when the file already had a manifest, the earlier one as parent ingredient):

- ``cawg.training-mining``: the entries of `Claims.training` as CAWG names them, for
  current readers;
- ``c2pa.training-mining``: the same entries with the ``c2pa.`` prefix of C2PA 1.x,
  for older readers;
- ``org.ledger.record``: the creator id, the asset id and the URL of the asset's
  public record.

It is signed ES256 with the creator's P-256 key under a certificate chain whose
first certificate is that key's (docs/metadata.md, "C2PA", says how to obtain one).
Only the copy is rewritten, and atomically: a failed signature leaves it as it was.
"""

from __future__ import annotations

import datetime
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ledger import __version__
from ledger.core.rights import C2PA_LABEL, CAWG_LABEL, Claims
from ledger.core.signing import P256SigningKey, SigningKey
from ledger.errors import ConfigError, LedgerError
from ledger.files import replace_file
from ledger.media.formats import EMBEDDABLE, sniff

RECORD_LABEL = "org.ledger.record"
"""Our assertion naming the ledger record of the asset."""
CERT_FIELD = "--c2pa-cert"
_MAX_CHAIN = 64 * 1024


class C2paSigningError(LedgerError):
    """c2pa refused to sign a file."""

    code = "c2pa_signing_failed"


@dataclass(frozen=True)
class C2paIdentity:
    """A P-256 private key (PKCS#8 PEM) and its certificate chain (PEM, leaf first)."""

    key_pem: bytes
    chain_pem: bytes


def signing_identity(key: SigningKey, chain_pem: bytes) -> C2paIdentity:
    """The identity signing with ``key`` under ``chain_pem``; ConfigError naming
    ``--c2pa-cert`` when the key cannot sign C2PA or the chain is not for it."""
    if not isinstance(key, P256SigningKey):
        raise ConfigError(
            "C2PA manifests are signed with a P-256 key (ES256): C2PA allows ES256/384/512, "
            "PS256/384/512 and Ed25519, not Ethereum's secp256k1; package with a P-256 key",
            field=CERT_FIELD,
        )
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise ConfigError("not a PEM certificate chain", field=CERT_FIELD) from None
    leaf = chain[0]
    if leaf.public_key() != serialization.load_pem_private_key(key.to_pem(), None).public_key():
        raise ConfigError("the first certificate is not for the signing key", field=CERT_FIELD)
    now = datetime.datetime.now(datetime.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise ConfigError(
            f"the certificate is valid from {leaf.not_valid_before_utc:%Y-%m-%d} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d}, not now", field=CERT_FIELD)
    return C2paIdentity(key.to_pem(), chain_pem)


def load_identity(key: SigningKey, chain_path: str | os.PathLike[str]) -> C2paIdentity:
    """`signing_identity` with the chain read from the PEM file at ``chain_path``."""
    try:
        with Path(chain_path).open("rb") as handle:
            chain_pem = handle.read(_MAX_CHAIN + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {chain_path}: {exc.strerror}", field=CERT_FIELD) from None
    if len(chain_pem) > _MAX_CHAIN:
        raise ConfigError(f"{chain_path} is too large to be a certificate chain", field=CERT_FIELD)
    return signing_identity(key, chain_pem)


def manifest_definition(claims: Claims, *, title: str) -> dict[str, Any]:
    """The manifest the Builder signs for ``claims`` (JSON as c2pa-python takes it)."""
    record: dict[str, Any] = {"creator": claims.creator_id, "asset": claims.asset_id}
    if claims.web_statement is not None:
        record["record"] = claims.web_statement
    return {
        "claim_generator_info": [{"name": "ledger", "version": __version__}],
        "title": title,
        "assertions": [
            {"label": CAWG_LABEL, "data": {"entries": _entries(claims.training, "cawg.")}},
            {"label": C2PA_LABEL, "data": {"entries": _entries(claims.training, "c2pa.")}},
            {"label": RECORD_LABEL, "data": record},
        ],
    }


def _entries(training: Mapping[str, str], prefix: str) -> dict[str, dict[str, str]]:
    return {prefix + name.partition(".")[2]: {"use": use} for name, use in training.items()}


class C2paSigner:
    """Signs manifests into files with one identity; reusable, close when done."""

    def __init__(self, identity: C2paIdentity) -> None:
        info = c2pa.C2paSignerInfo(
            c2pa.C2paSigningAlg.ES256, identity.chain_pem, identity.key_pem, None)
        settings = {
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            # Thumbnails would make every copy tens of kilobytes larger for nothing a
            # licence check reads.
            "builder": {"thumbnail": {"enabled": False}},
        }
        try:
            self._signer = c2pa.Signer.from_info(info)
            self._context = c2pa.Context.from_dict(settings)
        except c2pa.C2paError as exc:
            raise ConfigError(f"c2pa refused the key or chain: {exc}", field=CERT_FIELD) from None
        self._try()

    def _try(self) -> None:
        """Sign a blank image once, so a certificate c2pa refuses (its profile is only
        checked when signing) stops packaging before any copy is written."""
        from PIL import Image

        blank = io.BytesIO()
        Image.new("RGB", (1, 1)).save(blank, "PNG")
        builder = c2pa.Builder({"claim_generator_info": [{"name": "ledger"}]},
                               context=self._context)
        builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        try:
            builder.sign(self._signer, "image/png", io.BytesIO(blank.getvalue()), io.BytesIO())
        except c2pa.C2paError as exc:
            self.close()
            raise ConfigError(f"c2pa refused to sign with it: {_reason(exc)}",
                              field=CERT_FIELD) from None

    def __enter__(self) -> C2paSigner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Free c2pa's signer and context."""
        self._signer.close()
        self._context.close()

    def sign(self, path: str | os.PathLike[str], claims: Claims) -> None:
        """Sign a manifest for ``claims`` into the file at ``path`` (a copy we made),
        replacing it atomically. C2paSigningError when c2pa refuses or the file is not
        a JPEG, PNG or WebP (told by its first bytes)."""
        target = Path(path)
        data = target.read_bytes()
        media_type = sniff(data)
        if media_type not in EMBEDDABLE:
            raise C2paSigningError(f"{target.name}: C2PA is written into JPEG, PNG and WebP "
                                   "files only", field=CERT_FIELD)
        builder = c2pa.Builder(manifest_definition(claims, title=target.name),
                               context=self._context)
        # EDIT makes the unsigned file, or its earlier manifest, the parent ingredient.
        builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
        # In memory: c2pa reads and writes Python files in small chunks, a third slower.
        output = io.BytesIO()
        try:
            builder.sign(self._signer, media_type, io.BytesIO(data), output)
        except c2pa.C2paError as exc:
            raise C2paSigningError(f"{target.name}: c2pa could not sign: {_reason(exc)}",
                                   field=CERT_FIELD) from None
        # Through a temporary file, so no half-signed copy is ever left behind.
        replace_file(target, output.getvalue())


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    if "certificate" in text:
        text += (" (C2PA wants keyUsage digitalSignature and an extendedKeyUsage such as "
                 "emailProtection or documentSigning; docs/metadata.md)")
    return text
