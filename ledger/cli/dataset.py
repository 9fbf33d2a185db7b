"""``ledger check-dataset DIR|LIST``: a buyer's training set checked file by file.

A folder is hashed in parallel (`ledger.app.file_hashes`, the packager's walk: hidden
files skipped, links refused); a list is a file of SHA-256 hashes, one a line (``-``:
stdin). The hashes go to ``POST /v1/dataset-checks`` in parts under the body limit; each
part comes back with its answers and a signed licence snapshot. The command writes every
part (``{"checks": [...]}``) for the buyer to keep, and ``ledger verify`` checks it; with
``--wait`` it first waits until each snapshot is anchored and adds its proof. With
``--key`` (the buyer's wallet) each request is signed and each snapshot names the buyer;
without it the snapshots' buyer is null.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ledger.cli.common import EXIT_OK, Commands, url_option
from ledger.errors import ValidationError

#: Some file is unregistered, or none of its registrations may be used at the time.
EXIT_NOT_LICENSABLE = 1
#: Hashes per request: about 3.4 MB of JSON, well under the service's 8 MiB body limit.
PART_SIZE = 50_000
PARTS_IN_FLIGHT = 2
# States in which a registration may be used (by some buyer): docs/lifecycle.md.
_USABLE = ("licensable", "notice", "exclusive", "disputed")
_HASH_LINE = re.compile(r"(?:sha256:)?([0-9a-f]{64})")


def add_dataset_command(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``check-dataset``."""
    command = commands.add_parser(
        "check-dataset", help="check a training set: registration, licence and status of "
        "every file, with a signed licence snapshot to keep",
        description="Exit 0 when every file is registered and usable at the time, 1 when "
        "some is not, 2 on bad input.",
    )
    command.add_argument("source", help="a folder to hash, or a file of SHA-256 hashes "
                         "one a line (- for stdin)")
    command.add_argument("--at", type=int, metavar="MS",
                         help="the time to answer for, ms since the epoch (default: now)")
    command.add_argument("--output", "-o", type=Path, metavar="FILE",
                         help="write the answers and snapshots here (default: stdout)")
    command.add_argument("--wait", action="store_true",
                         help="wait until each snapshot is anchored and include its proof")
    command.add_argument("--timeout", type=float, default=300.0, metavar="S",
                         help="how long --wait waits (default 300 s)")
    command.add_argument("--part-size", type=int, default=PART_SIZE, metavar="N",
                         help=f"hashes per request (default {PART_SIZE})")
    command.add_argument("--key", type=Path, metavar="FILE",
                         help="the buyer's wallet key file: sign each request so each "
                         "snapshot names the buyer (default: anonymous, buyer null)")
    url_option(command)
    command.set_defaults(handler=cmd_check_dataset)


def cmd_check_dataset(args: argparse.Namespace) -> int:
    """Check every hash, write the checks, print a summary on stderr."""
    import asyncio

    from ledger.cli.common import service_url

    if not 1 <= args.part_size <= 100_000:
        raise ValidationError("must be 1 to 100000", field="--part-size")
    hashes = read_hashes(args.source)
    if not hashes:
        raise ValidationError(f"{args.source} holds no file to check")
    checks = asyncio.run(_check(service_url(args.url), hashes, args))
    text = json.dumps({"checks": checks}, indent=1) + "\n"
    if args.output is not None:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    counts = summarise(checks)
    sys.stderr.write(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) + "\n")
    return EXIT_OK if counts["unregistered"] == counts["unusable"] == 0 else EXIT_NOT_LICENSABLE


def read_hashes(source: str) -> list[str]:
    """The hex SHA-256 of each file of a folder, in path order, or the hashes listed in
    a file (``-``: stdin); ValidationError naming the first bad line."""
    path = Path(source)
    if source != "-" and path.is_dir():
        from ledger.app.file_hashes import hash_listing, list_folder

        return [digest.hex() for digest in hash_listing(list_folder(path))]
    text = sys.stdin.read() if source == "-" else path.read_text()
    return list(_listed(text, source))


def _listed(text: str, source: str) -> Iterator[str]:
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        found = _HASH_LINE.fullmatch(line)
        if found is None:
            raise ValidationError(f"line {number} is not a SHA-256 (64 lower-case hex "
                                  'digits, optionally after "sha256:")', field=source)
        yield found.group(1)


async def _check(url: str, hashes: list[str], args: argparse.Namespace) -> list[Any]:
    import asyncio

    from ledger.cli.client import LedgerClient
    from ledger.keyfile import load_key

    key = None if args.key is None else load_key(args.key)
    # Two parts in flight: a service with two serving processes answers both at once
    # (docs/benchmarks.md, issue 17), and the answers keep the request's order.
    gate = asyncio.Semaphore(PARTS_IN_FLIGHT)

    async def part(start: int) -> dict[str, Any]:
        async with gate:
            found: dict[str, Any] = await client.dataset_check(
                hashes[start : start + args.part_size], args.at, key)
        return {**found, "proof": None}

    async with LedgerClient(url, timeout=max(60.0, args.timeout)) as client:
        checks = list(await asyncio.gather(
            *(part(start) for start in range(0, len(hashes), args.part_size))))
        if args.wait:
            deadline = time.monotonic() + args.timeout
            for check in checks:
                check["proof"] = await _anchored(client, check["id"], deadline)
    return checks


async def _anchored(client: Any, check_id: str, deadline: float) -> Any:
    import asyncio

    while True:
        stored = await client.stored_dataset_check(check_id)
        proof = stored["proof"]
        if proof is not None and proof.get("anchor") is not None:
            return proof
        if time.monotonic() > deadline:
            raise ValidationError(f"snapshot {check_id} is not anchored yet ({stored['status']});"
                                  " run again later or without --wait", field="--timeout")
        await asyncio.sleep(0.5)


def summarise(checks: list[Any]) -> Counter[str]:
    """How many files were checked, registered, unregistered, and registered but usable
    under none of their registrations at the time."""
    counts: Counter[str] = Counter(files=0, registered=0, unregistered=0, unusable=0)
    for check in checks:
        for answer in check["answers"]:
            counts["files"] += 1
            if not answer["registered"]:
                counts["unregistered"] += 1
                continue
            counts["registered"] += 1
            states = {r["licenceStatus"]["state"] for r in answer["registrations"]}
            if not states & set(_USABLE):
                counts["unusable"] += 1
    return counts
