"""What every command group shares: exit statuses, the subparsers type, and where the
service is."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

EXIT_OK = 0
#: A user error: one line ``ledger: error: <message>`` on stderr.
EXIT_ERROR = 2

Commands = argparse._SubParsersAction  # the object add_subparsers returns

DEFAULT_URL = "http://127.0.0.1:8710"


def url_option(command: argparse.ArgumentParser) -> None:
    """Add ``--url``, the service to talk to."""
    command.add_argument(
        "--url", help=f"service URL (default: $LEDGER_URL, .ledger/endpoint.json, {DEFAULT_URL})"
    )


def endpoint_record(data_dir: Path) -> dict[str, Any]:
    """What a local service started with ``data_dir`` recorded in its endpoint.json
    (url, rpcUrl, chainId, registry), or {} when there is none."""
    path = data_dir / "endpoint.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    return doc if isinstance(doc, dict) else {}


def service_url(explicit: str | None) -> str:
    """The service to talk to: the flag, $LEDGER_URL, a local endpoint file, or the default."""
    if explicit:
        return explicit
    if os.environ.get("LEDGER_URL"):
        return os.environ["LEDGER_URL"]
    endpoint = Path(".ledger") / "endpoint.json"
    if endpoint.exists():
        return str(json.loads(endpoint.read_text())["url"])
    return DEFAULT_URL

