"""``ledger evidence FILE|DIGEST``: one asset's evidence package, from the service.

Given a file, its SHA-256 is looked up (``GET /v1/assets/by-hash/{sha256}``) and the
earliest registration of those bytes is taken; given a manifest digest, ``--asset``
names the asset. The package (``ledger-evidence/1``, docs/proof-format.md) comes from
``GET /v1/manifests/{digest}/assets/{index}/evidence``, which answers 202 until the
anchors it relies on are final; ``--wait`` keeps asking. The package is parsed
strictly before it is written, canonical, so the file is byte for byte what the
service and a static export serve. ``ledger verify`` checks it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ledger.cli.common import EXIT_OK, Commands, url_option
from ledger.core.fields import ANY_CASE_HASH
from ledger.errors import ConfigError

#: Exit status when there is no package to write (not registered, or not final yet).
EXIT_NO_EVIDENCE = 1

_POLL_S = 1.0


def add_evidence_command(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``evidence``."""
    command = commands.add_parser(
        "evidence", help="fetch one asset's evidence package, which `ledger verify` checks "
        "from one block hash",
        description="Exit 0 when the package is written, 1 when the file is not registered "
        "or the evidence is not final yet, 2 on bad input.",
    )
    command.add_argument("target", metavar="FILE|DIGEST",
                         help="a registered file (its earliest registration), or a manifest "
                         "digest (0x…) with --asset")
    command.add_argument("--asset", metavar="INDEX|ID",
                         help="with a digest: the asset's index, or its id (found in --assets)")
    command.add_argument("--assets", type=Path, metavar="FILE",
                         help="with --asset ID: the 1.1 manifest's assets.jsonl")
    command.add_argument("-o", "--output", type=Path, metavar="FILE",
                         help="write the package here (default: stdout)")
    command.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                         help="while the evidence is not final, keep asking for at most "
                         "SECONDS, reporting why on stderr")
    url_option(command)
    command.set_defaults(handler=cmd_evidence)


def cmd_evidence(args: argparse.Namespace) -> int:
    """Write the package; exit 1 when there is none (yet)."""
    import asyncio

    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url
    from ledger.core.evidence import Evidence

    if args.wait < 0:
        raise ConfigError("must be 0 or more", field="--wait")

    async def fetch() -> tuple[int, Any]:
        async with LedgerClient(service_url(args.url)) as client:
            target = await _target(client, args)
            if target is None:
                return 404, {"status": "not registered with this service"}
            return await _poll(client, *target, args.wait)

    status, body = asyncio.run(fetch())
    if status != 200:
        reason = (body.get("reason") or body.get("status")) if isinstance(body, dict) else body
        _say(f"no evidence: {reason}")
        return EXIT_NO_EVIDENCE
    data = Evidence.from_obj(body).to_json()
    if args.output is None:
        sys.stdout.buffer.write(data + b"\n")
    else:
        args.output.write_bytes(data)
        _say(f"wrote {args.output} ({len(data):,} bytes): ledger verify {args.output} "
             "--block-hash 0x… (or --rpc-url URL) with your pins")
    return EXIT_OK


async def _target(client: Any, args: argparse.Namespace) -> tuple[str, int] | None:
    """(manifest digest, asset index) the arguments name; None for an unregistered file."""
    from ledger.cli.assets import asset_index

    if ANY_CASE_HASH.fullmatch(args.target):
        if args.asset is None:
            raise ConfigError("with a manifest digest, name the asset: --asset INDEX|ID",
                              field="--asset")
        return args.target.lower(), asset_index(args.asset, args.assets)
    if args.asset is not None or args.assets is not None:
        raise ConfigError("a file names its own asset: --asset goes with a manifest digest",
                          field="--asset")
    import asyncio

    from ledger.app.file_hashes import sha256_file

    sha256 = (await asyncio.to_thread(sha256_file, args.target)).hex()
    found = (await client.lookup(sha256))["registrations"]
    if not found:
        return None
    first = found[0]
    if len(found) > 1:
        _say(f"{args.target} has {len(found)} registrations; taking the earliest anchored, "
             f"{first['creatorId']}'s (`ledger lookup` lists them all)")
    return str(first["manifestDigest"]), int(first["assetIndex"])


async def _poll(client: Any, digest: str, index: int, wait: float) -> tuple[int, Any]:
    """The service's answer, asked again while it is 202 and ``wait`` seconds allow."""
    import asyncio

    deadline = time.monotonic() + wait
    said = ""
    while True:
        status, body = await client.evidence(digest, index)
        if status != 202 or time.monotonic() >= deadline:
            return status, body
        reason = str(body.get("reason") or body.get("status"))
        if reason != said:
            _say(f"evidence for asset {index} of {digest} not final yet: {reason}")
            said = reason
        await asyncio.sleep(_POLL_S)


def _say(message: str) -> None:
    print(message, file=sys.stderr)
