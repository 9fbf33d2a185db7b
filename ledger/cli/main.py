"""The ``ledger`` command.

One small function per subcommand, each registered by an ``_add_*`` function
in ``build_parser``; a new subcommand adds one of each. Handlers take the
parsed arguments and return the exit status. Every error a user can cause
(a ``LedgerError`` or an ``OSError``) ends as one line
``ledger: error: <message>`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ledger import __version__

# Only light modules at the top: `ledger --help` must not pay for web3, eth_account
# (py_ecc), aiohttp or SQLAlchemy; each handler imports what it uses
# (tests/unit/test_cli_startup.py).
from ledger.cli.assets import add_lookup_command
from ledger.cli.audit import add_audit_command
from ledger.cli.common import EXIT_ERROR
from ledger.cli.crawl import add_crawl_command
from ledger.cli.creator import add_creator_commands
from ledger.cli.dataset import add_dataset_command
from ledger.cli.db import add_db_commands
from ledger.cli.dev import add_dev_commands
from ledger.cli.evidence import add_evidence_command
from ledger.cli.export import add_export_commands
from ledger.cli.licence import add_lifecycle_commands
from ledger.cli.manifests import add_manifest_commands
from ledger.cli.olp import add_olp_commands
from ledger.cli.royalty import add_royalty_commands
from ledger.cli.service import add_service_commands
from ledger.cli.usage import add_usage_commands
from ledger.cli.verify import add_verify_command
from ledger.cli.webhooks import add_webhook_commands
from ledger.errors import LedgerError

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ledger`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help already
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    handler: Handler = args.handler
    try:
        return handler(args)
    except LedgerError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(_os_message(exc))
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="ledger",
        description="Provenance ledger for content licensed to AI training.",
    )
    parser.add_argument("--version", action="version", version=f"ledger {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        add_manifest_commands,
        add_verify_command,
        add_evidence_command,
        add_service_commands,
        add_export_commands,
        add_lookup_command,
        add_audit_command,
        add_dataset_command,
        add_webhook_commands,
        add_creator_commands,
        add_lifecycle_commands,
        add_royalty_commands,
        add_usage_commands,
        add_dev_commands,
        add_db_commands,
        add_olp_commands,
        add_crawl_command,
    ):
        add(commands)
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"ledger: error: {message}\n")
    return EXIT_ERROR


def _os_message(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


if __name__ == "__main__":
    sys.exit(main())
