"""``ledger export proofs DIR``: every final proof bundle and evidence package as static
files (layout in `ledger.app.export`), for a static host or CDN to serve.

It reads the database, deployment and receipt key that ``ledger serve`` would open with
the same flags, file and ``LEDGER_*`` variables, and asks the chain node for headers
and state proofs: the configured ``rpc_url``, else the embedded default's chain while
``ledger serve`` runs (its ``endpoint.json``). Incremental: a file present is kept.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.cli.common import EXIT_OK, Commands, endpoint_record
from ledger.errors import ConfigError, StorageError

if TYPE_CHECKING:
    from ledger.app.export import ExportReport
    from ledger.config import Settings


def add_export_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``export proofs``."""
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


def cmd_export_proofs(args: argparse.Namespace) -> int:
    """Export, then print one line of counts."""
    import asyncio

    from ledger.config import load_settings

    names = ("data_dir", "db_url", "deployment_file")
    settings = load_settings(file=args.config, overrides={n: getattr(args, n) for n in names})
    if settings.db_url is None and not (settings.data_dir / "ledger.db").exists():
        # Opening it would make an empty one: say so instead.
        raise StorageError(f"no database at {settings.data_dir / 'ledger.db'}")
    report = asyncio.run(_export(settings, args.rpc_url or _rpc_url(settings), args.dir))
    print(f"exported to {args.dir}: {report.written} files written, {report.present} "
          f"present already, {report.pending} not final yet")
    return EXIT_OK


async def _export(settings: Settings, rpc_url: str, out: Path) -> ExportReport:
    from ledger.app.export import export_proofs
    from ledger.run.compose import reading_context
    from ledger.storage.exports import ExportStore

    async with reading_context(settings, rpc_url) as (ctx, engine):
        return await export_proofs(ctx, ExportStore(engine), out)


def _rpc_url(settings: Settings) -> str:
    """The node the service uses: its setting, else the running embedded default's."""
    if settings.rpc_url:
        return settings.rpc_url
    found = endpoint_record(settings.data_dir).get("rpcUrl")
    if not found:
        raise ConfigError("no chain node: pass --rpc-url, or start `ledger serve` with this "
                          "data dir first (its embedded chain runs only while it does)",
                          field="rpc_url")
    return str(found)
