"""The lifecycle vectors (tests/vectors/statements.json, snapshots.json) checked by code
that shares nothing with ledger's Python: tests/vectors/check_lifecycle.mjs, in Node,
recomputes every canonical form, digest, answer digest, answersRoot and answer path and
verifies every signature, with the verifier page's statement reader and signature
checks (web/verifier/src) and its own snapshot recipe from docs/lifecycle.md. Every
valid case must pass, and every mutation must be refused at the stage ledger refuses
it (tests/unit/core/test_statement_vectors.py, test_snapshot_vectors.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.node

SCRIPT = Path(__file__).parents[1] / "vectors" / "check_lifecycle.mjs"


@pytest.fixture(scope="module")
def outcomes() -> dict[str, list[list[str]]]:
    done = subprocess.run([shutil.which("node") or "node", str(SCRIPT)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    answer: dict[str, list[list[str]]] = json.loads(done.stdout)
    return answer


@pytest.mark.parametrize("kind, least", [("statements", 30), ("snapshots", 25)])
def test_node_decides_every_case_as_ledger_does(
        outcomes: dict[str, list[list[str]]], kind: str, least: int) -> None:
    cases = outcomes[kind]
    assert len(cases) >= least
    wrong = [(name, expected, got) for name, expected, got in cases
             if not (got == expected if expected == "ok" else got.startswith(expected + ":"))]
    assert wrong == []
