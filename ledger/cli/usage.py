"""The ``ledger usage`` subcommands: report usage as a metering source.

``ledger usage send`` signs usage events with a source's HMAC key (the wire format of
docs/royalties.md) and posts them to ``/v1/usage``: one event from options, or many
from a JSON-lines or CSV file, in batches. The key comes from a keys file
(``ledger-usage-keys/1``); by default the one the embedded default made in its data
dir. The work is done by `ledger.cli.client.send_usage`, usable from Python as well.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ledger.cli.common import EXIT_OK, Commands
from ledger.core.times import iso_utc
from ledger.errors import ConfigError, ValidationError

EXIT_REFUSED = 2
USAGE_KEYS_FILE = "usage-keys.json"  # ledger.run.compose.USAGE_KEYS_FILE
#: CSV columns; each row becomes one event (``unit``, ``time``, ``source`` optional).
CSV_COLUMNS = ("eventId", "buyer", "manifestDigest", "assetId", "units", "unit", "time",
               "source")


def add_usage_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``ledger usage send``."""
    usage = commands.add_parser("usage", help="report usage events as a metering source")
    actions = usage.add_subparsers(dest="usage_action", required=True, metavar="ACTION")
    send = actions.add_parser(
        "send", help="sign usage events (HMAC) and send them to the service",
        description="Send one event (--buyer, --manifest, --asset, --units) or every event "
        "of --file: JSON lines (one event object a line, as in docs/royalties.md) or CSV "
        f"with a header of {', '.join(CSV_COLUMNS)} (source defaults to the signing "
        "source; every other field but unit is required). Prints one line per event; exits 2 "
        "if any was refused. Events are stored once by eventId, so sending a file again "
        "is harmless.",
    )
    send.add_argument("--file", help="events as JSON lines (.jsonl) or CSV (.csv); - for "
                                     "JSON lines on stdin")
    send.add_argument("--buyer", help="one event: the buyer's 0x address")
    send.add_argument("--manifest", help="one event: the manifest digest (0x…)")
    send.add_argument("--asset", help="one event: the asset id, e.g. asset:photo-1")
    send.add_argument("--units", type=int, help="one event: how many units were used")
    send.add_argument("--unit", help="one event: sample, 1k-samples or epoch (default: the "
                                     "asset's price unit)")
    send.add_argument("--event-id", help="one event: its id (default: a new random one; give "
                                         "it and --time so that a retry is harmless)")
    send.add_argument("--time", help="one event: when, YYYY-MM-DDTHH:MM:SSZ (default: now)")
    send.add_argument("--source", help="the metering source (default: the keys file's only "
                                       "source)")
    send.add_argument("--keys-file", type=Path,
                      help=f"the usage keys file (default: <data dir>/{USAGE_KEYS_FILE}, made "
                           "by the embedded default)")
    send.add_argument("--data-dir", type=Path, default=Path(".ledger"),
                      help="a local service's data dir (default .ledger)")
    send.add_argument("--batch-size", type=int, default=1_000,
                      help="events per request, 1 to 10000 (default 1000)")
    send.add_argument("--url", help="the service (default: $LEDGER_URL, the local service's, "
                                    "http://127.0.0.1:8710)")
    send.add_argument("--wait", type=float, metavar="SECONDS", default=0.0,
                      help="then follow the stored events until each is settled on chain or "
                           "held (with the reason), for at most SECONDS; exit 2 if any is not")
    send.set_defaults(handler=cmd_usage_send)


def cmd_usage_send(args: argparse.Namespace) -> int:
    """Sign and send the events; one line per event; exit 2 if any was refused."""
    import asyncio

    from ledger.cli.client import send_usage
    from ledger.cli.common import DEFAULT_URL, endpoint_record
    from ledger.cli.service import say_refused

    if not 1 <= args.batch_size <= 10_000:
        raise ValidationError("must be 1 to 10000", field="batch-size")
    source, secret = read_source_key(args.keys_file or args.data_dir / USAGE_KEYS_FILE,
                                     args.source)
    events = list(_file_events(args.file, source) if args.file else [_one_event(args, source)])
    url = (args.url or os.environ.get("LEDGER_URL") or endpoint_record(args.data_dir).get("url")
           or DEFAULT_URL)
    results = asyncio.run(send_usage(str(url), source, secret, events,
                                     batch_size=args.batch_size))
    refused = 0
    for result in results:
        event_id = result.get("eventId", "?")
        if "error" in result:
            refused += 1
            say_refused(str(event_id), result["error"])
        else:
            print(f"{event_id}  {result.get('status', result.get('httpStatus'))}")
    print(f"sent {len(results)} events as {source}: {len(results) - refused} stored, "
          f"{refused} refused", file=sys.stderr)
    stored = [str(r["eventId"]) for r in results if "error" not in r]
    if args.wait > 0 and stored:
        unsettled = asyncio.run(_follow(str(url), source, secret, stored, args.wait))
        refused += unsettled
    return EXIT_REFUSED if refused else EXIT_OK


async def _follow(url: str, source: str, secret: bytes, event_ids: list[str],
                  seconds: float) -> int:
    """Report each event once it is settled or held; return how many were neither in time."""
    import asyncio
    from urllib.parse import quote

    from ledger.cli.client import LedgerClient

    deadline = time.monotonic() + seconds
    waiting = list(event_ids)
    async with LedgerClient(url) as client:
        while waiting and time.monotonic() < deadline:
            for event_id in list(waiting):
                path = f"/v1/usage/{quote(event_id, safe=':')}"
                _, record = await client.read_as_source(path, source, secret)
                outcome = _outcome(record)
                if outcome is not None:
                    print(f"{event_id}  {outcome}")
                    waiting.remove(event_id)
            if waiting:
                await asyncio.sleep(1.0)
    for event_id in waiting:
        print(f"{event_id}: not settled after {seconds:g} s (see GET /v1/usage/{event_id})",
              file=sys.stderr)
    return len(waiting)


def _outcome(record: dict[str, Any]) -> str | None:
    settlement = record.get("settlement") or {}
    if settlement.get("status") in ("confirmed", "final"):
        return (f"settled on chain: settlement {settlement['id']}, "
                f"transaction {settlement['txHash']}")
    if record.get("hold"):
        return f"held: {record['hold']}"
    return None


def read_source_key(path: Path, source: str | None) -> tuple[str, bytes]:
    """The source and its first key's secret from a usage keys file."""
    from ledger.core.canonical import parse_strict
    from ledger.core.royalty.auth import KeyRing

    if not path.exists():
        raise ConfigError(f"no usage keys file at {path}: start `ledger serve` (the embedded "
                          "default makes one) or pass --keys-file", field="keys-file")
    ring = KeyRing.from_obj(parse_strict(path.read_bytes()))
    if source is None:
        if len(ring.sources) != 1:
            raise ConfigError(f"{path} holds {len(ring.sources)} sources: pick one with "
                              "--source", field="source")
        (source,) = ring.sources
    keys = ring.keys(source)
    if not keys:
        raise ConfigError(f"{path} has no key for source {source!r}", field="source")
    return source, keys[0].secret


def _one_event(args: argparse.Namespace, source: str) -> dict[str, Any]:
    missing = [f"--{name}" for name in ("buyer", "manifest", "asset", "units")
               if getattr(args, name) is None]
    if missing:
        raise ValidationError(f"one event needs {', '.join(missing)} (or give --file)",
                              field=missing[0])
    event = {
        "eventId": args.event_id or f"{source}:{secrets.token_hex(8)}",
        "buyer": args.buyer,
        "asset": {"manifestDigest": args.manifest, "assetId": args.asset},
        "units": args.units,
        "time": args.time or _now(),
        "source": source,
    }
    if args.unit is not None:
        event["unit"] = args.unit
    return event


def _file_events(name: str, source: str) -> Iterator[dict[str, Any]]:
    """The file's events, each given the signing source if it names none. No time is
    made up: an event sent again must be the same event, or it is refused as a reuse
    of its id."""
    text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    rows = _csv_rows(text, name) if name.lower().endswith(".csv") else _json_lines(text, name)
    for event in rows:
        event.setdefault("source", source)
        yield event


def _json_lines(text: str, name: str) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{name} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(event, dict):
            raise ValidationError(f"{name} line {number}: an event must be a JSON object")
        yield event


def _csv_rows(text: str, name: str) -> Iterator[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    unknown = set(reader.fieldnames or ()) - set(CSV_COLUMNS)
    if unknown:
        raise ValidationError(f"{name}: unknown column(s) {', '.join(sorted(unknown))}; "
                              f"columns are {', '.join(CSV_COLUMNS)}")
    for number, row in enumerate(reader, 2):
        values = {key: value for key, value in row.items() if value not in (None, "")}
        try:
            units = int(values.pop("units"))
        except (KeyError, ValueError):
            raise ValidationError(f"{name} line {number}: units must be an integer") from None
        asset = {"manifestDigest": values.pop("manifestDigest", None),
                 "assetId": values.pop("assetId", None)}
        yield {**values, "units": units, "asset": asset}


def _now() -> str:
    return iso_utc(time.time())
