"""``ledger check-dataset`` input handling and ``ledger verify`` of a dataset check,
offline: a good file verifies against the pinned key; no pin, another key, a changed
answer, a proof of another leaf and bad input each end as exit 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.cli.main import main
from ledger.core.licence_snapshot import canonical_answer, sign_snapshot
from ledger.core.merkle import MerkleTree
from ledger.core.proof import ProofBundle
from ledger.core.receipt import ReceiptSigner
from ledger.core.signing import P256SigningKey

SERVICE = ReceiptSigner(P256SigningKey.from_secret(0x636C69_31))
OTHER = ReceiptSigner(P256SigningKey.from_secret(0x636C69_32))
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"


def _check(signer: ReceiptSigner = SERVICE) -> dict[str, Any]:
    answers = [{"sha256": f"{i:064x}", "registered": False, "registrations": []}
               for i in range(3)]
    snapshot = sign_snapshot([canonical_answer(a) for a in answers], deployment=DEPLOYMENT,
                             checked_at=1_800_000_000_000, at=1_800_000_000_000,
                             signer=signer)
    tree = MerkleTree([snapshot.digest(), bytes(32)])
    proof = ProofBundle.build(tree, 0, snapshot.digest()).to_obj()
    return {"id": "0x" + snapshot.digest().hex(), "snapshot": snapshot.to_obj(),
            "answers": answers, "proof": proof}


def _write(tmp_path: Path, doc: Any) -> str:
    path = tmp_path / "check.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_dataset_check_verifies_against_the_pinned_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, {"checks": [_check(), _check()]})
    assert main(["verify", path, "--service-key", SERVICE.public_key]) == 0
    out = capsys.readouterr().out
    assert out.count("licence snapshot ok") == 2 and "Merkle path ok" in out
    single = _write(tmp_path, _check())
    assert main(["verify", single, "--service-key", SERVICE.public_key]) == 0


@pytest.mark.parametrize("mutation, expected", [
    ("no-pin", "pin"),
    ("other-key", "not the pinned service key"),
    ("answer-changed", "checks[0].answers"),
    ("answer-dropped", "checks[0].answers"),
    ("proof-of-another-leaf", "checks[0].proof.manifestDigest"),
    ("no-answers", "checks[0]"),
])
def test_a_bad_dataset_check_fails_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], mutation: str,
        expected: str) -> None:
    check = _check(OTHER if mutation == "other-key" else SERVICE)
    if mutation == "answer-changed":
        check["answers"][1]["registered"] = True
    elif mutation == "answer-dropped":
        check["answers"].pop()
    elif mutation == "proof-of-another-leaf":
        check["proof"] = _check(OTHER)["proof"]
    elif mutation == "no-answers":
        del check["answers"]
    pins = [] if mutation == "no-pin" else ["--service-key", SERVICE.public_key]
    assert main(["verify", _write(tmp_path, {"checks": [check]}), *pins]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err


@pytest.mark.parametrize("content, argv, expected", [
    ("not a hash\n", [], "line 1"),
    ("\n\n", [], "no file to check"),
    ("ab" * 32 + "\n", ["--part-size", "0"], "--part-size"),
])
def test_bad_check_dataset_input_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, argv: list[str],
        expected: str) -> None:
    listed = tmp_path / "hashes.txt"
    listed.write_text(content)
    assert main(["check-dataset", str(listed), "--url", "http://127.0.0.1:9", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err
