"""Read a file's C2PA manifest with c2pa-python and sum it up as a `C2paSummary`.

Only the active manifest counts: its validation state, its signer, its claim generator
and its training-and-data-mining entries, read from both the CAWG label
(``cawg.training-mining``, what current tools write) and the older C2PA label
(``c2pa.training-mining``). The states form a small set (docs/metadata.md, "C2PA"):

- ``trusted``: the manifest and the bytes it covers are intact, and the signing
  certificate chains to one of the trust anchors the caller gave;
- ``untrusted``: intact, but the signer chains to none of them, or no anchors were
  given (the default: we report who signed and do not vouch for them);
- ``invalid``: validation failed (bytes changed after signing, a broken signature, a
  malformed or unreadable manifest, a remote manifest we do not fetch).

Reading never goes to the network: remote manifests and OCSP responses are not fetched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import c2pa  # type: ignore[import-untyped]
from cryptography import x509

from ledger.core.rights import C2PA_LABEL, CAWG_LABEL, C2paSummary
from ledger.errors import ConfigError
from ledger.media.c2pa_boxes import may_hold_c2pa

TRUSTED = "trusted"
UNTRUSTED = "untrusted"
INVALID = "invalid"

TRAINING_LABELS = (CAWG_LABEL, C2PA_LABEL)
"""Assertion labels holding training-and-data-mining entries, newest first."""
USES = ("allowed", "constrained", "notAllowed")
"""Entry values from least to most restrictive: where two entries of the same name
disagree, the more restrictive wins."""

UNREADABLE = "ledger.manifestUnreadable"
"""Our failure code for a manifest store c2pa could not parse at all."""
INACCESSIBLE = "manifest.inaccessible"
"""C2PA's code for a manifest that is not in the file (a remote one we do not fetch)."""

TRUST_FIELD = "--c2pa-trust"
_MAX_ANCHORS = 4 * 1024 * 1024
_STATES = {"Trusted": TRUSTED, "Valid": UNTRUSTED, "WellFormed": UNTRUSTED}
_TRUST_FAILURES = frozenset({"signingCredential.untrusted"})


class ManifestReader:
    """Reads files' C2PA manifests under one set of trust anchors (PEM root
    certificates: a signer chaining to one of them is ``trusted``, any other
    ``untrusted``); reusable, close when done."""

    def __init__(self, trust_anchors: bytes | None = None) -> None:
        self._context = c2pa.Context.from_dict(reader_settings(trust_anchors))

    def __enter__(self) -> ManifestReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Free c2pa's context."""
        self._context.close()

    def __call__(self, path: str | os.PathLike[str]) -> C2paSummary | None:
        """The C2PA manifest embedded in the file at ``path``, summed up; None when the
        file carries none, is of a type c2pa cannot read or cannot be parsed as its type.
        OSError when the file cannot be read."""
        try:
            with Path(path).open("rb") as handle:
                if not may_hold_c2pa(handle):
                    return None
                handle.seek(0)
                reader = c2pa.Reader.try_create(None, handle, None, self._context)
                if reader is None:
                    return None
                with reader:
                    store = json.loads(reader.json())
        except (c2pa.C2paError.NotSupported, c2pa.C2paError.Other):
            # Not a type c2pa reads, or not a parsable image at all: no manifest to judge
            # (the audit reports unreadable files).
            return None
        except c2pa.C2paError.RemoteManifest:
            return _failed(INACCESSIBLE)
        except c2pa.C2paError:
            return _failed(UNREADABLE)
        return summarise(store)


def read_c2pa(
    path: str | os.PathLike[str], *, trust_anchors: bytes | None = None
) -> C2paSummary | None:
    """`ManifestReader` of one file."""
    with ManifestReader(trust_anchors) as read:
        return read(path)


def load_trust_anchors(path: str | os.PathLike[str]) -> bytes:
    """The PEM root certificates in the file at ``path`` (for example the C2PA trust
    list); ConfigError naming ``--c2pa-trust`` when it holds none or cannot be read."""
    try:
        with Path(path).open("rb") as handle:
            anchors = handle.read(_MAX_ANCHORS + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", field=TRUST_FIELD) from None
    if len(anchors) > _MAX_ANCHORS:
        raise ConfigError(f"{path} is too large for a trust list", field=TRUST_FIELD)
    try:
        x509.load_pem_x509_certificates(anchors)
    except ValueError:
        raise ConfigError(f"{path} holds no PEM certificates", field=TRUST_FIELD) from None
    return anchors


def reader_settings(trust_anchors: bytes | None) -> dict[str, Any]:
    """c2pa settings for reading offline, trusting ``trust_anchors`` (PEM) only."""
    settings: dict[str, Any] = {
        "verify": {"verify_trust": True, "remote_manifest_fetch": False, "ocsp_fetch": False},
    }
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors.decode("utf-8", "replace")}
    return settings


def summarise(store: Mapping[str, Any]) -> C2paSummary:
    """The summary of a manifest store as c2pa's Reader renders it in JSON."""
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    failures = failure_codes(store)
    state = _STATES.get(str(store.get("validation_state")), INVALID)
    if state == INVALID and failures and set(failures) <= _TRUST_FAILURES:
        # Validators that apply §15.7 strictly fail a manifest for its signer alone:
        # the bytes are intact, so it is untrusted, not tampered.
        state = UNTRUSTED
    return C2paSummary(
        state=state,
        signer=_signer(manifest.get("signature_info")),
        claim_generator=_claim_generator(manifest),
        training=training_entries(manifest.get("assertions", ())),
        failures=failures,
    )


def failure_codes(store: Mapping[str, Any]) -> tuple[str, ...]:
    """The distinct failure codes of the active manifest, sorted."""
    results = store.get("validation_results")
    if isinstance(results, Mapping):
        items = results.get("activeManifest", {}).get("failure", ())
    else:  # stores read by older c2pa versions carry a flat status list only
        items = store.get("validation_status", ())
    return tuple(sorted({str(item["code"]) for item in items if "code" in item}))


def training_entries(assertions: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Entry name -> use (allowed, constrained, notAllowed) from every training-mining
    assertion. Entries whose ``use`` is not one of the three are skipped."""
    entries: dict[str, str] = {}
    for assertion in assertions:
        if assertion.get("label") not in TRAINING_LABELS:
            continue
        found = assertion.get("data", {}).get("entries", {})
        for name, entry in found.items() if isinstance(found, Mapping) else ():
            use = entry.get("use") if isinstance(entry, Mapping) else None
            if use in USES:
                entries[name] = max(use, entries.get(name, use), key=USES.index)
    return entries


def _signer(info: Any) -> str | None:
    if not isinstance(info, Mapping):
        return None
    name, organisation = info.get("common_name"), info.get("issuer")
    if name and organisation:
        return f"{name} ({organisation})"
    return str(name or organisation) if name or organisation else None


def _claim_generator(manifest: Mapping[str, Any]) -> str | None:
    infos = manifest.get("claim_generator_info")
    if isinstance(infos, list) and infos and isinstance(infos[0], Mapping):
        first = infos[0]
        version = first.get("version")
        return f"{first.get('name')}/{version}" if version else str(first.get("name"))
    generator = manifest.get("claim_generator")  # version 1 claims
    return str(generator) if generator else None


def _failed(code: str) -> C2paSummary:
    return C2paSummary(
        state=INVALID, signer=None, claim_generator=None, training={}, failures=(code,)
    )

