"""The verifier page's checks (web/verifier/src, run in Node by tests/browser/modules.mjs)
on the shared vectors: every manifest signature ledger accepts verifies and every one it
refuses for its signature is refused; every anchored proof bundle verifies, every
mutated one is refused, and a bundle with no anchor proves no time.

Two mutations pass the page's reader, by design: it reads JSON with the browser's
`JSON.parse` (the last duplicate member wins, long numbers round), where ledger's
strict reader refuses the document; the signature or digest then decides
(docs/verifier-page.md, "What it trusts")."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.node

READER_ONLY = {"number-precision-loss", "duplicate-member"}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, list[list[str]]]:
    done = subprocess.run([shutil.which("node") or "node", str(Path(__file__).with_name(
        "modules.mjs"))], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    answer: dict[str, list[list[str]]] = json.loads(done.stdout)
    return answer


def test_manifest_signatures_as_ledger_decides(outcomes: dict[str, list[list[str]]]) -> None:
    cases = outcomes["signatures"]
    assert len(cases) > 50
    for name, expected, got in cases:
        if expected == "ok":
            assert got == "ok", name
        elif expected == "SignatureError":
            assert got.startswith("refused: "), name
    wrong = {name for name, expected, got in cases if expected != "ok" and got == "ok"}
    assert wrong <= READER_ONLY


def test_proof_bundles_as_ledger_decides(outcomes: dict[str, list[list[str]]]) -> None:
    cases = outcomes["bundles"]
    assert len(cases) > 40
    assert {name for name, expected, got in cases if expected == "ok" and got != "ok"} == set()
    assert all(got.startswith("refused: anchor: ")
               for _, expected, got in cases if expected == "no anchor")
    assert {name for name, expected, got in cases
            if expected == "invalid" and got == "ok"} <= READER_ONLY
