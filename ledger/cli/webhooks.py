"""``ledger webhooks add|list|remove|feed``: a creator's or a buyer's own subscriptions
and event feed, each request signed with ``--key`` (docs/lifecycle.md, "Who may
subscribe"): for the creator named by ``--creator``, else as the buyer whose wallet
the key is. The operator manages every subscription with its token over HTTP.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ledger.cli.common import EXIT_OK, Commands, url_option


def add_webhook_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``webhooks add|list|remove|feed``."""
    group = commands.add_parser("webhooks", help="your own webhook subscriptions and event "
                                "feed, as a creator or a buyer (signed with --key)")
    sub = group.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    add = _parser(sub, "add", "subscribe a URL to your events; prints its secret, once")
    # Not dest "url": that is --url, the service (`url_option`).
    add.add_argument("hook_url", metavar="URL",
                     help="where the events are POSTed (Standard Webhooks)")
    add.add_argument("--type", action="append", dest="types", metavar="TYPE",
                     help="an event type (repeat for more; default: every type)")
    add.add_argument("--manifest", metavar="0xDIGEST", help="only events about this manifest")
    _parser(sub, "list", "your subscriptions and where their delivery stands")
    remove = _parser(sub, "remove", "delete one of your subscriptions")
    remove.add_argument("id", help="the subscription id (wh_…)")
    feed = _parser(sub, "feed", "your events after a cursor, oldest first")
    feed.add_argument("--after", metavar="CURSOR", help="the next of an earlier answer")
    feed.add_argument("--limit", type=int, metavar="N", help="events per answer (1 to 1000)")
    feed.add_argument("--type", action="append", dest="types", metavar="TYPE",
                      help="an event type (repeat for more; default: every type)")


def _parser(sub: Commands[argparse.ArgumentParser], name: str, text: str
            ) -> argparse.ArgumentParser:
    command = sub.add_parser(name, help=text, description=text)
    command.add_argument("--key", type=Path, required=True,
                         help="the key file that signs: the creator's signing key, or the "
                         "buyer's wallet")
    command.add_argument("--creator", metavar="ID",
                         help="act as this creator (default: as the buyer whose wallet "
                         "--key is)")
    url_option(command)
    command.set_defaults(handler=cmd_webhooks)
    return command


def cmd_webhooks(args: argparse.Namespace) -> int:
    """Send the signed request; print the service's answer as JSON."""
    import asyncio

    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url
    from ledger.keyfile import load_key

    key = load_key(args.key)
    method, path, body = _request(args)

    async def send() -> Any:
        async with LedgerClient(service_url(args.url)) as client:
            return (await client.signed(method, path, key, body, creator_id=args.creator))[1]

    answer = asyncio.run(send())
    if answer is None:
        print(f"removed {args.id}")
    else:
        print(json.dumps(answer, indent=2))
    return EXIT_OK


def _request(args: argparse.Namespace) -> tuple[str, str, Any]:
    """The method, path and body the action sends."""
    action = args.webhooks_command
    if action == "add":
        body: dict[str, Any] = {"url": args.hook_url}
        if args.types:
            body["types"] = args.types
        if args.manifest:
            body["manifestDigest"] = args.manifest
        return "POST", "/v1/webhooks", body
    if action == "list":
        return "GET", "/v1/webhooks", None
    if action == "remove":
        return "DELETE", f"/v1/webhooks/{args.id}", None
    query = {name: value for name, value in (
        ("after", args.after), ("limit", args.limit),
        ("types", ",".join(args.types) if args.types else None)) if value is not None}
    return "GET", "/v1/events" + (f"?{urlencode(query)}" if query else ""), None
