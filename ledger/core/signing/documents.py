"""Signing and verifying ledger documents: manifests, and other messages under a tag.

Each function finds the key's scheme in the registry; the scheme adds its own domain
separation (see ``p256`` and ``eth``).
"""

from __future__ import annotations

import re
from typing import Any

from ledger.core.manifest import AnyManifest, check_signature, check_signing_key, parse_manifest
from ledger.core.signing.registry import scheme_of_key
from ledger.core.signing.scheme import MANIFEST_TAG, SigningKey
from ledger.errors import SignatureError, ValidationError

_TAG = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")


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
    manifest = parse_manifest(obj, allow_unsigned=True)
    if manifest.creator.signing_key != key.public_id:
        raise SignatureError(
            f"the manifest names {manifest.creator.signing_key} but the key is {key.public_id}",
            field="creator.signingKey",
        )
    return manifest.with_signature(key.sign_manifest(manifest)).to_obj()


def verify_manifest(manifest: AnyManifest) -> None:
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
    scheme = scheme_of_key(key_id, "creator.signingKey")
    scheme.verify_manifest(key_id, manifest.signature, manifest, key_field="creator.signingKey")


def sign_message(tag: str, payload: bytes, key: SigningKey) -> str:
    """Sign ``payload`` under domain ``tag`` (e.g. ``ledger-creator-v1``); return the signature."""
    _check_tag(tag)
    return key.sign_message(tag, payload)


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
    scheme_of_key(signing_key).verify_message(
        signing_key, signature, tag, payload, key_field="signingKey"
    )


def _check_tag(tag: str) -> None:
    if not _TAG.fullmatch(tag):
        raise SignatureError(f"bad domain tag {tag!r}: lower-case letters, digits, . and -")
    if tag == MANIFEST_TAG:
        raise SignatureError(f"{MANIFEST_TAG} is reserved for manifests: use sign_manifest")
