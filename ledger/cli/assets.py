"""Commands about single files: ``ledger lookup FILE…`` and ``ledger proof DIGEST --asset``.

``lookup`` hashes each file and asks the service for every registration of those bytes
(``GET /v1/assets/by-hash/{sha256}``): who registered them, how that creator id is
verified, under which licences, and since when the chain says so. Several creators may
register the same bytes; all are shown, earliest anchor first, and a conflict is said
out loud. ``proof --asset`` fetches one asset's ``ledger-asset-proof/1``, which discloses
that asset alone; ``ledger verify`` checks it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.cli.common import EXIT_OK, Commands, blocking_client, url_option
from ledger.core.lookups import MAX_LOOKUP
from ledger.core.times import iso_utc
from ledger.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from ledger.cli.client import LedgerClient

EXIT_NOT_FOUND = 1

def add_lookup_command(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``lookup``."""
    command = commands.add_parser(
        "lookup", help="who registered these files, under which licences, since when",
        description="Hash each file and print every registration of its bytes, earliest "
        "anchor first. Exit 0 when every file is registered, 1 when some is not, 2 on "
        "bad input.",
    )
    command.add_argument("files", nargs="+", type=Path, help="files to look up")
    command.add_argument("--json", action="store_true",
                         help="print the service's answers as one JSON array")
    url_option(command)
    command.set_defaults(handler=cmd_lookup)


def cmd_lookup(args: argparse.Namespace) -> int:
    """Print each file's registrations; exit 1 if any file has none."""
    import asyncio

    from ledger.app.file_hashes import sha256_file
    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url

    hashes = [sha256_file(str(path)).hex() for path in args.files]

    async def ask() -> list[Any]:
        async with LedgerClient(service_url(args.url)) as client:
            return [answer async for _, answer in lookups(client, hashes)]

    answers = asyncio.run(ask())
    if args.json:
        out = [{"file": str(path), **answer} for path, answer in zip(args.files, answers,
                                                                      strict=True)]
        print(json.dumps(out, indent=2))
    else:
        for path, answer in zip(args.files, answers, strict=True):
            print("\n".join(describe(str(path), answer)))
    missing = sum(not answer["registrations"] for answer in answers)
    return EXIT_NOT_FOUND if missing else EXIT_OK


def describe(name: str, answer: dict[str, Any]) -> list[str]:
    """The lines ``lookup`` prints for one file and the service's answer about it."""
    found = answer["registrations"]
    lines = [f"{name}  sha256:{answer['sha256']}"]
    if not found:
        return [*lines, "  not registered with this service"]
    if answer.get("conflict"):
        creators = sorted({item["creatorId"] for item in found})
        lines.append(f"  CONFLICT: {len(creators)} creators registered these same bytes "
                     f"({', '.join(creators)}); the earliest anchor is listed first, and "
                     "only the chain's times, not this order, settle who came first")
    for item in found:
        lines += _registration(item)
    return lines


def _registration(item: dict[str, Any]) -> list[str]:
    verification = item.get("creatorVerification") or {}
    # The service's detail says how, in words: "key: the id is derived from …".
    how = verification.get("detail") or verification.get("method") or "not verified"
    licences = ", ".join(entry if isinstance(entry, str) else str(entry.get("id"))
                         for entry in item["licenses"])
    anchor = item.get("anchor")
    if anchor is None:
        when = (f"accepted {iso_utc(item['acceptedAt'] // 1000)}, not anchored yet "
                f"({item['status']}): only the service's word so far")
    else:
        when = (f"anchored in block {anchor['blockNumber']} at "
                f"{iso_utc(anchor['blockTimestamp'])} (chain {anchor['chainId']}, "
                f"batch {anchor['batchNumber']})")
    return [
        f"  {item['creatorId']}: {item['assetId']} (asset {item['assetIndex']} of manifest "
        f"{item['manifestDigest']}, format {item['manifestVersion']})",
        f"    creator id: {how}",
        f"    licences: {licences}",
        f"    {when}",
    ]


def fetch_asset_proof(args: argparse.Namespace) -> tuple[int, Any]:
    """``ledger proof DIGEST --asset INDEX|ID``: (200, proof) or (202, status record)."""
    import asyncio

    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url

    index = asset_index(args.asset, args.assets)

    async def fetch() -> tuple[int, Any]:
        async with LedgerClient(service_url(args.url)) as client:
            return await client.asset_proof(args.digest, index)

    return asyncio.run(fetch())


def asset_index(asset: str, assets_file: Path | None) -> int:
    """The index an ``--asset`` value names: a number, or an asset id found in
    ``assets_file`` (a 1.1 package's assets.jsonl)."""
    if asset.isdigit():
        return int(asset)
    if not asset.startswith("asset:"):
        raise ValidationError("must be an asset index or an asset id (asset:…)",
                              field="--asset")
    if assets_file is None:
        raise ConfigError("an asset id is found in the manifest's assets.jsonl: give "
                          "--assets FILE, or the asset's index", field="--asset")
    needle = json.dumps(asset).encode()
    with open(assets_file, "rb") as handle:
        for index, line in enumerate(handle):
            if needle in line and json.loads(line).get("id") == asset:
                return index
    raise ValidationError(f"{asset} is not in {assets_file}", field="--asset")


def write_document(body: Any, output: Path | None) -> None:
    """Print a JSON document, or write it to ``output``."""
    text = json.dumps(body, indent=2) + "\n"
    if output is not None:
        output.write_text(text)
    else:
        sys.stdout.write(text)


@contextmanager
def service_lookup(url: str | None
                   ) -> Iterator[Callable[[Sequence[str]], dict[str, list[str]]] | None]:
    """A lookup asking the service at ``url`` who registered each of some files' bytes
    (`ledger.app.audit.Lookup`; ``ledger audit`` and ``ledger package``), or None: a
    request for each `MAX_LOOKUP` files (POST /v1/assets/by-hash:batch)."""
    if url is None:
        yield None
        return
    with blocking_client(url) as (client, run):

        async def every(digests: Sequence[str]) -> dict[str, list[str]]:
            return {digest: [str(item["creatorId"]) for item in answer["registrations"]]
                    async for digest, answer in lookups(client, digests)}

        yield lambda digests: run(every(digests))


async def lookups(client: LedgerClient, digests: Sequence[str]
                  ) -> AsyncIterator[tuple[str, Any]]:
    """Each SHA-256 (hex) with the service's lookup of it, `MAX_LOOKUP` a request."""
    for start in range(0, len(digests), MAX_LOOKUP):
        part = digests[start : start + MAX_LOOKUP]
        for digest, answer in zip(part, await client.lookups(part), strict=True):
            yield digest, answer
