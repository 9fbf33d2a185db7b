"""The assets-tree vectors checked by code that shares nothing with ledger.

scripts/oz_assets.mjs recomputes canonical JSON, entry hashes and chunk roots in
JavaScript and verifies every proof with OpenZeppelin's StandardMerkleTree; the
Solidity check is contracts/test/AssetTreeVectors.t.sol.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.node

ROOT = Path(__file__).parents[3]


def test_openzeppelin_js_reaches_the_same_leaves_roots_and_verdicts() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; it is part of the toolchain (scripts/setup.sh)")
    done = subprocess.run(
        [node, "scripts/oz_assets.mjs", "tests/vectors/assets.json"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["failures"] == []
    assert answer["checked"] > 150
