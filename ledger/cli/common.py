"""What every command group shares: exit statuses, the subparsers type, and where the
service is."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import ConfigError

if TYPE_CHECKING:
    from ledger.cli.client import LedgerClient
    from ledger.config import Settings

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


def chain_node_url(settings: Settings) -> str:
    """The chain node the service uses: its ``rpc_url``, else the running embedded
    default's (its endpoint.json); ConfigError when there is none."""
    if settings.rpc_url:
        return settings.rpc_url
    found = endpoint_record(settings.data_dir).get("rpcUrl")
    if not found:
        raise ConfigError("no chain node: pass --rpc-url, or start `ledger serve` with this "
                          "data dir first (its embedded chain runs only while it does)",
                          field="rpc_url")
    return str(found)


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


@contextmanager
def blocking_client(url: str) -> Iterator[tuple[LedgerClient, Callable[[Awaitable[Any]], Any]]]:
    """A client of the service at ``url`` for code that is not async, and the function
    that runs one of its calls to the end: one connection for many calls."""
    import asyncio

    from ledger.cli.client import LedgerClient

    loop = asyncio.new_event_loop()
    client = LedgerClient(url)

    async def wait(call: Awaitable[Any]) -> Any:
        return await call

    try:
        loop.run_until_complete(client.__aenter__())
        try:
            yield client, lambda call: loop.run_until_complete(wait(call))
        finally:
            loop.run_until_complete(client.__aexit__(None, None, None))
    finally:
        loop.close()
