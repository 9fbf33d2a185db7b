"""Lifecycle statements from the command line: ``ledger licence revoke | amend |
grant-exclusive | withdraw-consent``, ``ledger takedown open | answer | decide``, and the
status of files (``ledger status FILE…``).

Each statement command signs a ``ledger-statement/1`` with ``--key`` for the service's
deployment and sends it (``POST /v1/statements``); the service checks it whole and keeps
nothing of a refused one. Times are given as ``now``, milliseconds since the Unix epoch,
an ISO 8601 UTC time (``2027-01-31T12:00:00Z``), or from now (``+30d``, ``+12h``,
``+90m``, ``+45s``). docs/lifecycle.md explains the statements and the rules.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.cli.common import EXIT_OK, Commands, url_option
from ledger.core.times import iso_utc_ms
from ledger.errors import ValidationError

#: ``ledger status FILE…``: some file is unregistered, or no registration may be used.
EXIT_NOT_USABLE = 1
_RELATIVE = re.compile(r"\+([0-9]{1,9})([smhd])")
_UNITS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# States in which no one's usage is accepted (docs/lifecycle.md, "Status").
_ENDED = ("revoked", "withdrawn", "taken-down")


def add_lifecycle_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``licence`` and ``takedown``."""
    licence = commands.add_parser(
        "licence", help="change an anchored licence: revoke, amend, grant exclusivity, "
        "withdraw consent")
    sub = licence.add_subparsers(dest="licence_command", required=True, metavar="ACTION")
    revoke = _statement_parser(sub, "revoke", "end the licence of assets after the notice "
                               "their licences declare (30 days when none)")
    revoke.add_argument("--effective-at", required=True, metavar="TIME",
                        help="when the revocation takes effect (at least the notice from now)")
    amend = _statement_parser(sub, "amend", "new terms (priceModel, licenses, payees) "
                              "from a time on")
    amend.add_argument("--effective-at", required=True, metavar="TIME",
                       help="from when the new terms apply (usage before is priced as before)")
    amend.add_argument("--terms", required=True, metavar="JSON|FILE",
                       help='the new terms as JSON ({"priceModel": …}) or a file holding it')
    grant = _statement_parser(sub, "grant-exclusive", "license assets to one buyer alone "
                              "for a time")
    grant.add_argument("--buyer", required=True, help="the buyer's address (0x…)")
    grant.add_argument("--licence", action="append", required=True, dest="licences",
                       metavar="ID", help="a licence id in scope (repeat for more)")
    grant.add_argument("--start", required=True, metavar="TIME",
                       help="when the exclusivity begins (not before now)")
    grant.add_argument("--end", required=True, metavar="TIME",
                       help="when it ends (6 to 12 months is the field's advice)")
    grant.add_argument("--irrevocable", action="store_true",
                       help="no revocation may take effect before --end")
    withdraw = _statement_parser(sub, "withdraw-consent", "the subject withdraws consent: "
                                 "the assets stop being licensable at once")
    withdraw.add_argument("--reason", help="why, in words")
    _add_takedown(commands)


def _add_takedown(commands: Commands[argparse.ArgumentParser]) -> None:
    takedown = commands.add_parser("takedown", help="open, answer or decide a takedown case")
    sub = takedown.add_subparsers(dest="takedown_command", required=True, metavar="ACTION")
    claim = _statement_parser(sub, "open", "claim assets must be taken down (any key)")
    claim.add_argument("--grounds", required=True, help="why, in words")
    claim.add_argument("--claimant", required=True, help="who claims, and how to reach them")
    answer = _case_parser(sub, "answer", "the creator answers a case")
    answer.add_argument("--answer", required=True, help="the creator's answer, in words")
    decide = _case_parser(sub, "decide", "the operator decides a case (the service key)")
    decide.add_argument("--outcome", required=True, choices=("upheld", "rejected"),
                        help="upheld takes the assets down; rejected closes the case")
    decide.add_argument("--reason", help="why, in words")


def _statement_parser(sub: Commands[argparse.ArgumentParser], name: str, text: str
                      ) -> argparse.ArgumentParser:
    command = sub.add_parser(name, help=text, description=text)
    command.add_argument("manifest", help="the manifest digest (0x…)")
    command.add_argument("--asset", action="append", dest="assets", metavar="ID",
                         help="an asset id (asset:…); repeat for more; default: every asset")
    _signing_options(command)
    command.set_defaults(handler=cmd_statement, kind=_KINDS.get(name, name))
    return command


def _case_parser(sub: Commands[argparse.ArgumentParser], name: str, text: str
                 ) -> argparse.ArgumentParser:
    command = sub.add_parser(name, help=text, description=text)
    command.add_argument("case", help="the takedown's statement digest (0x…)")
    _signing_options(command)
    command.set_defaults(handler=cmd_statement, kind=_KINDS[name], manifest=None, assets=None)
    return command


_KINDS = {"open": "takedown", "answer": "takedown-answer", "decide": "takedown-decision"}


def _signing_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--key", type=Path, required=True,
                         help="the key file that signs (the creator's, the operator's, or "
                         "a claimant's)")
    command.add_argument("--json", action="store_true", help="print the service's answer")
    url_option(command)


def cmd_statement(args: argparse.Namespace) -> int:
    """Sign one statement and send it; print its digest and where it stands."""
    import asyncio

    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url
    from ledger.core.statements import sign_statement
    from ledger.keyfile import load_key

    key = load_key(args.key)
    now = int(time.time() * 1000)
    members = _members(args, now)

    async def send() -> tuple[int, Any]:
        async with LedgerClient(service_url(args.url)) as client:
            target = await _target(client, args)
            obj = {"type": args.kind, "deployment": await client.deployment(),
                   "issuedAt": now, "target": target, **members}
            return await client.lifecycle_statement(sign_statement(obj, key))

    code, answer = asyncio.run(send())
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        known = "accepted" if code == 202 else "known already"
        print(f"{known}: {answer['type']} {answer['digest']}, effective "
              f"{iso_utc_ms(answer['effectiveAt'])} ({answer['status']})")
    return EXIT_OK


async def _target(client: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The statement's target: the named assets, or a case's (an answer or decision is
    about what the takedown claimed)."""
    if args.manifest is None:
        case = await client.stored_statement(args.case)
        target: dict[str, Any] = case["statement"]["target"]
        return target
    target = {"manifestDigest": args.manifest}
    if args.assets:
        target["assetIds"] = sorted(set(args.assets))
    return target


def _members(args: argparse.Namespace, now: int) -> dict[str, Any]:
    """The members of the statement's type, from the options."""
    kind = args.kind
    if kind == "revoke":
        return {"effectiveAt": parse_time(args.effective_at, now, "--effective-at")}
    if kind == "amend":
        return {"effectiveAt": parse_time(args.effective_at, now, "--effective-at"),
                "terms": _terms(args.terms)}
    if kind == "grant-exclusive":
        return {"buyer": args.buyer, "licences": sorted(set(args.licences)),
                "start": parse_time(args.start, now, "--start"),
                "end": parse_time(args.end, now, "--end"), "irrevocable": args.irrevocable}
    if kind == "takedown":
        return {"grounds": args.grounds, "claimant": args.claimant}
    if kind == "takedown-answer":
        return {"case": args.case, "answer": args.answer}
    members: dict[str, Any] = {"case": args.case, "outcome": args.outcome} if (
        kind == "takedown-decision") else {}
    if args.reason:
        members["reason"] = args.reason
    return members


def parse_time(text: str, now: int, option: str) -> int:
    """A time option in milliseconds: ``now``, milliseconds, ISO 8601 UTC, or ``+N[smhd]``."""
    if text == "now":
        return now
    if text.isascii() and text.isdigit():
        return int(text)
    relative = _RELATIVE.fullmatch(text)
    if relative is not None:
        return now + int(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValidationError("must be now, milliseconds, an ISO 8601 UTC time "
                              "(2027-01-31T12:00:00Z) or +N followed by s, m, h or d",
                              field=option)
    return int(when.timestamp() * 1000)


def _terms(text: str) -> Any:
    raw = Path(text).read_text() if not text.lstrip().startswith("{") else text
    try:
        return json.loads(raw)
    except ValueError:
        raise ValidationError("must be a JSON object or a file holding one",
                              field="--terms") from None


# -- ledger status FILE… ------------------------------------------------------------------


def add_status_arguments(command: argparse.ArgumentParser) -> None:
    """The options of ``ledger status`` that ask about files rather than the service."""
    command.add_argument("files", nargs="*", type=Path,
                         help="files to ask about: each registration's licence status "
                         "(without: the service's health and recent batches)")
    command.add_argument("--at", metavar="TIME",
                         help="the time asked about (default now; see `ledger licence`)")
    command.add_argument("--json", action="store_true",
                         help="print the service's answers as one JSON array")


def cmd_file_status(args: argparse.Namespace) -> int:
    """Print each file's registrations with their status; exit 1 when a file is not
    registered, or every registration of it is revoked, withdrawn or taken down."""
    import asyncio

    from ledger.app.file_hashes import sha256_file
    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url

    at = None if args.at is None else parse_time(args.at, int(time.time() * 1000), "--at")
    hashes = [sha256_file(str(path)).hex() for path in args.files]

    async def ask() -> list[Any]:
        async with LedgerClient(service_url(args.url)) as client:
            return [await client.hash_status(digest, at) for digest in hashes]

    answers = asyncio.run(ask())
    if args.json:
        print(json.dumps([{"file": str(path), **answer}
                          for path, answer in zip(args.files, answers, strict=True)], indent=2))
    else:
        for path, answer in zip(args.files, answers, strict=True):
            print("\n".join(describe_status(str(path), answer)))
    usable = [any(r["licenceStatus"]["state"] not in _ENDED for r in answer["registrations"])
              for answer in answers]
    return EXIT_OK if all(usable) else EXIT_NOT_USABLE


def describe_status(name: str, answer: dict[str, Any]) -> list[str]:
    """The lines ``status FILE`` prints for one file."""
    lines = [f"{name}  sha256:{answer['sha256']}"]
    if not answer["registered"]:
        return [*lines, "  not registered with this service"]
    for item in answer["registrations"]:
        status = item["licenceStatus"]
        lines.append(f"  {item['creatorId']}: {item['assetId']} of {item['manifestDigest']}: "
                     f"{_state(status)}")
    return lines


def _state(status: dict[str, Any]) -> str:
    state = status["state"]
    if state == "notice":
        words = f"licensable, notice running until {iso_utc_ms(status['until'])}"
    elif state == "exclusive":
        words = f"exclusive to {status['buyer']} until {iso_utc_ms(status['until'])}"
    elif state == "licensable":
        words = "licensable"
    else:
        words = f"{state} since {iso_utc_ms(status['since'])}"
    if status["disputed"] and state != "disputed":
        words += " (a takedown case is open)"
    return words
