"""`ledger demo`, the README's main job, ends green end to end (fewer manifests than the
README's 1,000, same path: package, sign, submit, anchor, verify three ways, royalties,
and the web-licensing loop: a crawler through the Worker in workerd, settled on chain)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.chain, pytest.mark.node]


def test_ledger_demo_ends_green(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "demo", "--manifests", "60",
         "--data-dir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every proof verified three ways" in done.stderr, done.stderr
    for check in ("ledger", "verifyInclusion", "OpenZeppelin"):
        assert re.search(rf"verified: {check}\s+60/60$", done.stdout, re.M), done.stdout
    assert re.search(r"balances = chain\s+yes$", done.stdout, re.M), done.stdout
    # The web loop: each file fetched through the Worker with its own token, its usage
    # event settled in a transaction, and a line of the creator's statement.
    assert re.search(r"web: fetched through the Worker\s+3/3 \(step [\d.]+ s\)$", done.stdout,
                     re.M), done.stdout
    assert re.search(r"web: statement = fetches\s+yes$", done.stdout, re.M), done.stdout
    assert len(re.findall(r"^web: token \w+ → fetched .* → usage event olp:\w+:\w+$",
                          done.stderr, re.M)) == 3, done.stderr
    assert len(re.findall(r"^web: usage event olp:\S+ settled in tx 0x[0-9a-f]{64}$",
                          done.stderr, re.M)) == 3, done.stderr
    assert len(re.findall(r"^web: statement of creator:dee-web: asset:web-photo-\d .* 1 use",
                          done.stderr, re.M)) == 3, done.stderr
    # One 1.1 library too, one of its assets proven alone.
    assert re.search(r"one asset's proof\s+[\d,]+ bytes, verified$", done.stdout, re.M), (
        done.stdout)
