"""``ledger verify`` of a dataset check (``ledger check-dataset``'s output, or one
``POST /v1/dataset-checks`` answer): each licence snapshot against the service key the
verifier pins, its answers against the snapshot's root, and its anchor like any proof."""

from __future__ import annotations

import argparse
from typing import Any

from ledger.cli import verify_checks
from ledger.core.creators import deployment_id
from ledger.core.licence_snapshot import SNAPSHOT_VERSION_1, LicenceSnapshot
from ledger.core.proof import ProofBundle, verify_bundle
from ledger.core.times import iso_utc
from ledger.core.trust import TrustRoot
from ledger.errors import ConfigError, ProofError, ValidationError


def verify_dataset_checks(args: argparse.Namespace, document: dict[str, Any]) -> None:
    """Check every part; raise on the first that fails."""
    checks = document.get("checks", [document])
    if not isinstance(checks, list) or not checks:
        raise ValidationError("must be a non-empty array of dataset checks", field="checks")
    trust = verify_checks.pin_trust(args)
    if trust is None or trust.service_key is None:
        raise ConfigError("a licence snapshot proves nothing unless signed by a service key "
                          "you pin: add --service-key KEY or --service URL")
    for index, check in enumerate(checks):
        where = f"checks[{index}]" if "checks" in document else ""
        try:
            _verify_one(args, check, trust)
        except (ProofError, ValidationError) as exc:
            field = ".".join(p for p in (where, exc.field) if p) or None
            raise type(exc)(exc.message, field=field) from exc


def _verify_one(args: argparse.Namespace, check: Any, trust: TrustRoot) -> None:
    if not isinstance(check, dict) or "snapshot" not in check or "answers" not in check:
        raise ValidationError("a dataset check has a snapshot and its answers")
    snapshot = LicenceSnapshot.from_obj(check["snapshot"])
    assert trust.service_key is not None
    snapshot.verify(trust.service_key)
    if trust.chain_id is not None and trust.registry is not None and (
            snapshot.deployment != deployment_id(trust.chain_id, trust.registry)):
        raise ValidationError(f"is {snapshot.deployment}, not the deployment you pinned",
                              field="snapshot.deployment")
    answers = check["answers"]
    if not isinstance(answers, list):
        raise ValidationError("must be an array", field="answers")
    snapshot.check_answers(answers)
    digest = snapshot.digest()
    registered = sum(1 for a in answers if isinstance(a, dict) and a.get("registered"))
    print(f"licence snapshot ok: 0x{digest.hex()} signed by the service key you pinned "
          f"({trust.source}) at {iso_utc(snapshot.checked_at // 1000)}: "
          f"{snapshot.count} answers committed to (root 0x{snapshot.answers_root.hex()}), "
          f"{registered} registered and {snapshot.count - registered} unregistered, each "
          f"status as of {iso_utc(snapshot.at // 1000)}")
    print(f"  {_buyer_line(snapshot)}")
    proof = check.get("proof")
    if proof is None:
        print("  no proof in the file: the snapshot's anchor is not checked (fetch it with "
              "check-dataset --wait, or GET /v1/dataset-checks/ID once batched)")
        return
    bundle = ProofBundle.from_obj(proof)
    if bundle.manifest_digest != digest:
        raise ProofError("is the proof of another leaf than this snapshot",
                         field="proof.manifestDigest")
    verify_bundle(bundle)
    print("  its proof (the leaf below is the snapshot's digest):")
    verify_checks.verify_bundle_anchor(bundle, trust, args.rpc_url, args.code_hash)


def _buyer_line(snapshot: LicenceSnapshot) -> str:
    """Whom the snapshot says the check was for: what the service key signed."""
    if snapshot.version == SNAPSHOT_VERSION_1:
        return ("buyer: none named (a version 1 snapshot, issued before checks named "
                "their buyer)")
    if snapshot.buyer is None:
        return "buyer: none named (the check's request was not signed)"
    return f"buyer: {snapshot.buyer}, the wallet that signed the check's request"
