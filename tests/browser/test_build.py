"""The verifier page's build: the committed file is what the sources and the lock file
give (rebuilt byte for byte), it fits its size budget, and the canonical JSON library
it bundles writes RFC 8785 as ledger does (tests/vectors/canonical.json)."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser.page import PAGE, ROOT

pytestmark = pytest.mark.node

#: Issue 16's budget for the page and its libraries, gzipped.
BUDGET = 400 * 1024


def node(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run([shutil.which("node") or "node", *args], input=stdin, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rebuilding_from_the_lock_gives_the_committed_page(tmp_path: Path) -> None:
    rebuilt = tmp_path / "verify.html"
    node("web/verifier/build.mjs", str(rebuilt))
    assert rebuilt.read_bytes() == PAGE.read_bytes(), (
        "ledger/api/static/verify.html is stale: run node web/verifier/build.mjs")


def test_the_page_fits_its_budget_and_loads_nothing() -> None:
    page = PAGE.read_bytes()
    assert len(gzip.compress(page, 9)) <= BUDGET
    for outside in (b"<script src", b"<link", b"@import", b"url(http"):
        assert outside not in page


def test_the_bundled_canonical_json_matches_the_vectors() -> None:
    # Only the vectors a JSON.parse reader accepts: rejecting input (duplicates, lone
    # surrogates, precision loss) is ledger's reader's job, not the serialiser's.
    script = """
      import { readFileSync } from "node:fs";
      import canonicalize from "canonicalize";
      const v = JSON.parse(readFileSync("tests/vectors/canonical.json", "utf8"));
      const out = [];
      for (const n of v.numbers.filter((n) => n.canonical !== undefined)) {
        const d = Buffer.from(n.ieee, "hex").readDoubleBE(0);
        out.push([n.ieee, canonicalize(d), n.canonical]);
      }
      const readable = v.documents.filter((d) => d.canonical !== undefined && d.input);
      for (const d of readable) {
        out.push([d.name, canonicalize(JSON.parse(d.input)), d.canonical]);
      }
      console.log(JSON.stringify(out));
    """
    checked = json.loads(node("--input-type=module", "-e", script))
    assert len(checked) > 30
    assert [(name, got) for name, got, want in checked if got != want] == []
