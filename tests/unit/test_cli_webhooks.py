"""``ledger webhooks add URL --url SERVICE``: the hook and the service are two URLs."""

from __future__ import annotations

import argparse
from typing import Any

from ledger.cli.webhooks import _request, add_webhook_commands


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands: Any = parser.add_subparsers()
    add_webhook_commands(commands)
    return parser.parse_args(["webhooks", *argv])


def test_add_posts_the_hook_url_not_the_service_url() -> None:
    args = _parse("add", "https://hooks.example/in", "--key", "k",
                  "--url", "https://ledger.example")
    assert args.url == "https://ledger.example"
    assert _request(args) == ("POST", "/v1/webhooks", {"url": "https://hooks.example/in"})


def test_add_without_url_leaves_the_service_to_its_default() -> None:
    assert _parse("add", "https://hooks.example/in", "--key", "k").url is None
