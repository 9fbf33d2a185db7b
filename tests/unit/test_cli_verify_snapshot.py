"""``ledger verify`` of the snapshot vectors (tests/vectors/snapshots.json): each valid
snapshot, version 1 among them, verifies and the output says which buyer it names (or
that it names none, and why); a snapshot whose buyer was changed is refused with one
line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.cli.main import main
from tests.vectors.generate_snapshots import BUYER, OUT

VECTORS = json.loads(OUT.read_text(encoding="utf-8"))
EXPECTED = {
    "v1": "buyer: none named (a version 1 snapshot, issued before checks named their buyer)",
    "v2-buyer": f"buyer: {BUYER}, the wallet that signed the check's request",
    "v2-anonymous": "buyer: none named (the check's request was not signed)",
}


def _write(tmp_path: Path, snapshot: str, answers: list[str]) -> str:
    path = tmp_path / "check.json"
    path.write_text(json.dumps({"snapshot": json.loads(snapshot),
                                "answers": [json.loads(a) for a in answers]}))
    return str(path)


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_verify_names_the_buyer_the_snapshot_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, Any]) -> None:
    answers = [a["answer"] for a in case["answers"]]
    path = _write(tmp_path, case["snapshot"], answers)
    assert main(["verify", path, "--service-key", VECTORS["serviceKey"]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"licence snapshot ok: {case['digest']} ")
    assert out[1] == "  " + EXPECTED[case["name"]]


def test_a_changed_buyer_is_refused_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in VECTORS["invalid"] if c["name"] == "v2-buyer-changed")
    path = _write(tmp_path, case["snapshot"], case["answers"])
    assert main(["verify", path, "--service-key", VECTORS["serviceKey"]]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "signature" in captured.err
