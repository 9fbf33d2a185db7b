"""Writing a benchmark's section of docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(name: str, section: str, doc: Path = DOC) -> None:
    """Replace the ``bench:<name>`` section of `doc` (markers included in `section`),
    or append it if the document has none yet."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    current = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        updated = head + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        updated = current.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(updated, encoding="utf-8")
