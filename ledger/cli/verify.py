"""``ledger verify``: registers the command; the checks live in `ledger.cli.verify_checks`,
imported only when the command runs so that ``ledger --help`` loads no crypto."""

from __future__ import annotations

import argparse
from pathlib import Path

from ledger.cli.common import EXIT_OK, Commands
from ledger.cli.manifests import read_source
from ledger.core.canonical import parse_strict
from ledger.core.vocabulary import ASSET_PROOF_VERSION, EVIDENCE_VERSION, RECEIPT_VERSION
from ledger.errors import ValidationError

# -- verify (proof bundles) ------------------------------------------------------


def add_verify_command(commands: Commands[argparse.ArgumentParser]) -> None:
    command = commands.add_parser(
        "verify",
        help="check an evidence package (against a registry you pin and one block hash), "
        "a proof bundle or one asset's proof (offline, or on chain against a registry you "
        "pin) or an intake receipt (against a service key you pin)",
        description="Exit 0 when verified, 1 when an evidence package does not verify, "
        "2 on bad input (or a bundle or receipt that fails).",
    )
    command.add_argument(
        "document", nargs="?",
        help="evidence package, proof bundle, asset proof, receipt or dataset check "
        "(ledger check-dataset) JSON file, or - for stdin"
    )
    command.add_argument(
        "--rpc-url", help="bundles: also check the anchor on this chain node (needs a pin); "
        "evidence: read the trusted block hash from this node, which you chose"
    )
    evidence = command.add_argument_group("evidence packages (ledger-evidence/1)")
    evidence.add_argument("--file", type=Path, metavar="FILE",
                          help="the file in dispute: its SHA-256 must be the asset's hash")
    evidence.add_argument("--block-hash", metavar="0x…",
                          help="the hash of the package's block, from sources you trust "
                          "(e.g. a finalized checkpoint seen by several explorers)")
    evidence.add_argument("--json", action="store_true",
                          help="print the verdict as JSON: verified, statement, steps, facts")
    pins = command.add_argument_group(
        "trust roots (the verifier's choice; never taken from the document)"
    )
    pins.add_argument("--deployment", type=Path, metavar="FILE",
                      help="pin the chain and registry of this deployment.json (ledger deploy)")
    pins.add_argument("--registry", metavar="ADDR", help="pin this AnchorRegistry address")
    pins.add_argument("--chain-id", type=int, metavar="N", help="pin this chain id")
    pins.add_argument("--service-key", metavar="KEY",
                      help="receipts and licence snapshots: pin the service key they must "
                      "be signed by")
    pins.add_argument("--service", metavar="URL",
                      help="pin the chain, registry and receipt key this service publishes "
                      "at /v1/service (fetched once, now)")
    pins.add_argument("--code-hash", action="append", default=[], metavar="HASH",
                      help="accept registry code with this hash instead of this release's "
                      "(repeatable; e.g. a registry deployed by an older release)")
    command.add_argument("--print-code-hash", action="store_true",
                         help="print the code hash of the AnchorRegistry this release ships")
    command.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """Check an evidence package (see verify_evidence), a proof bundle's Merkle path
    (and, with --rpc-url, its anchor against a pinned registry), or a receipt against a
    pinned service key (see verify_checks)."""
    from ledger.cli import verify_checks, verify_evidence

    if args.print_code_hash:
        verify_checks.print_code_hash()
        return EXIT_OK
    if args.document is None:
        raise ValidationError("give a proof bundle or receipt file (or --print-code-hash)")
    data = read_source(args.document)
    document = parse_strict(data)
    version = document.get("version") if isinstance(document, dict) else None
    if version == EVIDENCE_VERSION:
        return verify_evidence.verify_package(args, data)
    from ledger.core.proof import ProofBundle, verify_bundle

    verify_evidence.refuse_evidence_options(args)
    if isinstance(document, dict) and ("checks" in document or "snapshot" in document):
        # A dataset check's answer (ledger check-dataset); imported only here, as it costs
        # the cold start of every other document ~80 ms.
        from ledger.cli import verify_snapshot

        verify_snapshot.verify_dataset_checks(args, document)
        return EXIT_OK
    if version == ASSET_PROOF_VERSION:
        from ledger.core.asset_tree import AssetProof

        asset_proof = AssetProof.from_obj(document)
        verify_bundle(asset_proof.manifest_proof)
        trust = verify_checks.pin_trust(args)
        verify_checks.verify_asset_proof(asset_proof, trust, args.rpc_url, args.code_hash)
        return EXIT_OK
    is_receipt = version == RECEIPT_VERSION
    if is_receipt:
        from ledger.core.receipt import Receipt

        receipt = Receipt.from_obj(document)
    else:
        receipt = None
    bundle = None if is_receipt else ProofBundle.from_json(data)
    if bundle is not None:
        verify_bundle(bundle)
    trust = verify_checks.pin_trust(args)
    if receipt is not None:
        verify_checks.verify_receipt(receipt, trust)
    else:
        assert bundle is not None
        verify_checks.verify_bundle_anchor(bundle, trust, args.rpc_url, args.code_hash)
    return EXIT_OK
