"""The audit report as one static HTML page a creator can read: a row per file with its
thumbnail (a data: URI, so the page is one file and loads nothing), its findings and what
to fix. Every text from the folder (file names, metadata values) is escaped: a file
named ``<script>…`` is shown, not run. No script at all; a strict Content-Security-Policy
says so to the browser as well.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.app.audit import AuditReport
    from ledger.core.audit import FileFacts, Finding

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-top:1px solid #ddd;padding:.5em;
vertical-align:top;text-align:left}img{max-width:96px;max-height:96px}
.error{color:#b00020}.warning{color:#8a5a00}.review{color:#0b5cad}.fix{color:#555}
.clean{color:#2e7d32}code{font-size:12px}
"""


def render(report: AuditReport, thumbnails: Mapping[str, bytes]) -> str:
    """The page; ``thumbnails`` maps a file's path to a PNG of it."""
    by_path: defaultdict[str, list[Finding]] = defaultdict(list)
    for item in report.findings:
        by_path[item.path].append(item)
    counts = report.counts()
    rows = [_row(facts, by_path.get(facts.path, []), thumbnails.get(facts.path))
            for facts in report.files]
    folder = by_path.get(".", [])
    return "\n".join([
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>Rights audit of {escape(report.folder)}</title><style>{_STYLE}</style>",
        "</head><body>",
        f"<h1>Rights audit of <code>{escape(report.folder)}</code></h1>",
        f"<p>{len(report.files)} files: {counts['error']} errors, {counts['warning']} "
        f"warnings, {counts['review']} to review. Face detection "
        f"{'on' if report.faces_checked else 'off'}; a face is a suggestion to look, "
        "never a fact.</p>",
        *(f"<p>{_finding(item)}</p>" for item in folder),
        "<table><thead><tr><th>file</th><th></th><th>findings and what to fix</th></tr>"
        "</thead><tbody>",
        *rows,
        "</tbody></table></body></html>",
        "",
    ])


def _row(facts: FileFacts, findings: list[Finding], thumbnail: bytes | None) -> str:
    image = (f'<img alt="" src="data:image/png;base64,{base64.b64encode(thumbnail).decode()}">'
             if thumbnail else "")
    size = f"<br>{facts.width} x {facts.height}" if facts.width and facts.height else ""
    kind = escape(facts.format or facts.kind)
    body = ("<br>".join(_finding(item) for item in findings) if findings
            else '<span class="clean">nothing to fix</span>')
    return (f"<tr><td><code>{escape(facts.path)}</code><br>{kind}{size}</td>"
            f"<td>{image}</td><td>{body}</td></tr>")


def _finding(item: Finding) -> str:
    return (f'<span class="{escape(item.severity)}">{escape(item.severity)}: '
            f"{escape(item.code)}</span> {escape(item.message)}"
            f'<br><span class="fix">fix: {escape(item.fix)}</span>')
