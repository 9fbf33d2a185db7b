"""``ledger export proofs DIR``: every final proof bundle and evidence package as static
files (layout in `ledger.app.export`), for a static host or CDN to serve.

It reads the database, deployment and receipt key that ``ledger serve`` would open with
the same flags, file and ``LEDGER_*`` variables, and asks the chain node for headers
and state proofs: the configured ``rpc_url``, else the embedded default's chain while
``ledger serve`` runs (its ``endpoint.json``). Incremental: a file present is kept.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.cli.common import EXIT_OK, Commands, blocking_client, chain_node_url
from ledger.cli.olp import add_export_rsl
from ledger.errors import StorageError

if TYPE_CHECKING:
    from ledger.app.dataset_export import Status
    from ledger.app.export import ExportReport
    from ledger.config import Settings


def add_export_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``export proofs``, ``export dataset`` and ``export rsl``."""
    command = commands.add_parser(
        "export", help="write every final proof and evidence package as static files")
    what = command.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    proofs = what.add_parser(
        "proofs", help="proof bundles and evidence packages, keyed by digest and file hash",
        description="Write DIR/manifests/<digest>/proof.json, DIR/manifests/<digest>/assets/"
        "<index>/evidence.json, DIR/by-hash/<sha256>.json and DIR/_headers for every "
        "manifest whose anchors are final; files present are kept, so a second run writes "
        "only what is new (docs/operations.md, \"Publishing proofs\").",
    )
    proofs.add_argument("dir", type=Path, metavar="DIR", help="the folder to write (made "
                        "if missing)")
    proofs.add_argument("--config", type=Path, help="TOML settings file")
    proofs.add_argument("--data-dir", type=Path, help="the service's data dir (default .ledger)")
    proofs.add_argument("--db-url", help="postgresql+asyncpg://… (default: SQLite in data dir)")
    proofs.add_argument("--rpc-url", help="the chain node (default: the service's rpc_url, "
                        "else the chain of the embedded default's running `ledger serve`)")
    proofs.add_argument("--deployment-file", type=Path,
                        help="the record `ledger deploy` wrote (default: "
                             "<data dir>/deployment.json)")
    proofs.set_defaults(handler=cmd_export_proofs)
    _add_export_dataset(what)
    add_export_rsl(what)


def _add_export_dataset(what: Commands[argparse.ArgumentParser]) -> None:
    dataset = what.add_parser(
        "dataset", help="a signed manifest as dataset_manifest.json and .csv for marketplaces",
        description="Verify the signed MANIFEST and write DIR/dataset_manifest.json and "
        "DIR/dataset_manifest.csv: one row per file with creator_id, license_id, "
        "attribution_url, provenance_hash, privacy flags and rights_status, linking to the "
        "manifest (docs/metadata.md, \"Marketplace export\"). With --service, each file's "
        "anchor and licence status now come from the service (one request per file).",
    )
    dataset.add_argument("manifest", type=Path, metavar="MANIFEST", help="signed manifest file")
    dataset.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                         help="the folder to write (made if missing)")
    dataset.add_argument("--assets", type=Path, metavar="FILE",
                         help="1.1: its entries (default: assets.jsonl beside the manifest)")
    dataset.add_argument("--service", metavar="URL",
                         help="the service to ask for anchors and licence status")
    dataset.add_argument("--record-base", metavar="URL",
                         help="public URL of the service, for record_url (default: --service)")
    dataset.set_defaults(handler=cmd_export_dataset)


def cmd_export_proofs(args: argparse.Namespace) -> int:
    """Export, then print one line of counts."""
    import asyncio

    from ledger.config import load_settings

    names = ("data_dir", "db_url", "deployment_file")
    settings = load_settings(file=args.config, overrides={n: getattr(args, n) for n in names})
    if settings.db_url is None and not (settings.data_dir / "ledger.db").exists():
        # Opening it would make an empty one: say so instead.
        raise StorageError(f"no database at {settings.data_dir / 'ledger.db'}")
    report = asyncio.run(_export(settings, args.rpc_url or chain_node_url(settings), args.dir))
    print(f"exported to {args.dir}: {report.written} files written, {report.present} "
          f"present already, {report.pending} not final yet")
    return EXIT_OK


def cmd_export_dataset(args: argparse.Namespace) -> int:
    """Write the two files, then print where and how many rows."""
    from ledger.app.dataset_export import dataset_rows, load_entries, write_dataset

    manifest, entries = load_entries(args.manifest, args.assets)
    with _service_status(args.service) as status:
        rows = list(dataset_rows(manifest, entries, record_base=args.record_base or args.service,
                                 status=status))
    written = write_dataset(args.output, manifest, rows, manifest_file=args.manifest.name)
    print(f"{written.rows} files: {written.json_file} and {written.csv_file}")
    return EXIT_OK


@contextmanager
def _service_status(url: str | None) -> Iterator[Status | None]:
    """A status callable asking the service at ``url`` over one connection, or None."""
    if url is None:
        yield None
        return
    with blocking_client(url) as (client, run):

        def status(sha256_hex: str, digest: str, asset_id: str) -> dict[str, Any] | None:
            answer = run(client.hash_status(sha256_hex))
            for item in answer["registrations"]:
                if (item["manifestDigest"].lower(), item["assetId"]) == (digest.lower(),
                                                                          asset_id):
                    return {"rights_status": item["licenceStatus"]["state"],
                            "anchor": item.get("anchor") or {}}
            return None

        yield status


async def _export(settings: Settings, rpc_url: str, out: Path) -> ExportReport:
    from ledger.app.export import export_proofs
    from ledger.run.compose import reading_context
    from ledger.storage.exports import ExportStore

    async with reading_context(settings, rpc_url) as (ctx, engine):
        return await export_proofs(ctx, ExportStore(engine), out)
