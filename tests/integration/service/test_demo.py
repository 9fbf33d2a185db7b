"""`ledger demo`, the README's main job, ends green end to end (fewer manifests than the
README's 1,000, same path: package, sign, submit, anchor, verify three ways, royalties)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.chain


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
    # One 1.1 library too, one of its assets proven alone.
    assert re.search(r"one asset's proof\s+[\d,]+ bytes, verified$", done.stdout, re.M), (
        done.stdout)
