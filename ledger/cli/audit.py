"""``ledger audit DIR``: the rights audit of a folder, before it is packaged or listed.

A table on the terminal (one row per finding, with what to fix), and on request the
report as JSON (``--json FILE``, ``-`` for stdout) and as an HTML page a creator can read
(``--html FILE``: a thumbnail and the findings of every file). Exit 0 when there is
nothing to report, 1 when there is, 2 on bad input. Nothing leaves the machine except,
with ``--service``, the files' SHA-256 digests (to find who else registered them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ledger.cli.assets import service_lookup
from ledger.cli.common import Commands
from ledger.cli.manifests import add_consent_options, consent_of, privacy_of
from ledger.errors import ValidationError

if TYPE_CHECKING:
    from ledger.app.audit import AuditReport
    from ledger.core.audit import Declared

_WIDTH = {"severity": 7, "path": 28, "code": 22}


def add_audit_command(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``audit``."""
    command = commands.add_parser(
        "audit", help="check a folder before listing it: releases, personal data, faces, "
        "duplicates, broken files, metadata conflicts",
        description="Examine every file of DIR (links are reported, never followed) and "
        "print what to fix. Exit 0 when clean, 1 when there are findings, 2 on bad input "
        "(docs/metadata.md, \"Audit\").",
    )
    command.add_argument("directory", type=Path, metavar="DIR", help="the folder to audit")
    command.add_argument("--json", dest="json_out", metavar="FILE",
                         help="write the report as JSON to FILE (- for stdout)")
    command.add_argument("--html", type=Path, metavar="FILE",
                         help="write the report as an HTML page with thumbnails")
    command.add_argument("--no-faces", action="store_true",
                         help="skip face detection (the slowest check)")
    command.add_argument("--quick", action="store_true",
                         help="no decoding: skip face detection, near-duplicates and damage "
                         "inside images; truncated files are still found by how they end "
                         "(near the speed of hashing)")
    command.add_argument("--service", metavar="URL",
                         help="ask this service who else registered each file (sends "
                              "only the SHA-256 digests)")
    command.add_argument("--workers", type=int, help="processes (default: the CPUs)")
    declared = command.add_argument_group("what the package will declare")
    declared.add_argument("--creator", help="creator id, e.g. creator:alice")
    declared.add_argument("--name", help="creator display name (matched against owners "
                          "named in the files)")
    declared.add_argument("--license", action="append", dest="licenses", default=[],
                          help="licence id (repeatable)")
    add_consent_options(declared)
    command.set_defaults(handler=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    """Audit, print the table (unless the JSON goes to stdout), write the files asked for."""
    from ledger.app.audit import AuditOptions, audit

    if args.workers is not None and not 1 <= args.workers <= 256:
        raise ValidationError("must be from 1 to 256", field="--workers")
    options = AuditOptions(faces=not (args.no_faces or args.quick), workers=args.workers)
    if args.quick:
        options = dataclasses.replace(options, phash=False, decode=False, check_ends=True)
    with service_lookup(args.service) as lookup:
        report = audit(args.directory, _declared(args), options=options, lookup=lookup)
    if args.json_out == "-":
        sys.stdout.write(json.dumps(report.to_obj(), indent=2) + "\n")
    else:
        print_table(report, sys.stdout)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(report.to_obj(), indent=2) + "\n")
    if options.faces and not report.faces_checked:
        sys.stderr.write("note: face detection skipped: its detector (OpenCV's cascades) is "
                         "not installed\n")
    if args.html:
        from ledger.app.audit import thumbnails
        from ledger.cli.audit_html import render

        args.html.write_text(render(report, thumbnails(report)), encoding="utf-8")
    return report.exit_code


def _declared(args: argparse.Namespace) -> Declared:
    from ledger.core.audit import Declared

    return Declared(creator_id=args.creator, creator_names=(args.name,) if args.name else (),
                    licences=tuple(args.licenses), privacy=privacy_of(args) or {},
                    consent=consent_of(args) or {})


def print_table(report: AuditReport, out: TextIO) -> None:
    """The findings as a table, each followed by its fix, then a summary line."""
    for item in report.findings:
        out.write(f"{item.severity.upper():<{_WIDTH['severity']}}  "
                  f"{_shown(item.path):<{_WIDTH['path']}}  {item.code:<{_WIDTH['code']}}  "
                  f"{_shown(item.message)}\n")
        out.write(f"{'':<{_WIDTH['severity']}}  fix: {_shown(item.fix)}\n")
    counts = report.counts()
    faces = "on" if report.faces_checked else "off"
    out.write(f"{len(report.files)} files: {counts['error']} errors, {counts['warning']} "
              f"warnings, {counts['review']} to review (face detection {faces})\n")


def _shown(text: str) -> str:
    """``text`` with control characters escaped, so a file name cannot drive the terminal."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
