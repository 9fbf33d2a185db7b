"""Every case of tests/vectors/snapshots.json against ledger/core/licence_snapshot.py:
each valid snapshot (version 1 among them: snapshots issued before ``buyer`` keep
verifying) reads, round-trips, keeps its payload, signature and digest, and commits to
its answers as a whole and one by one; each mutation is refused where the vector says;
and regenerating the file gives the same bytes. The same file is checked independently
in Node (tests/browser/test_lifecycle_vectors.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.core.licence_snapshot import (
    LicenceSnapshot,
    answer_digest,
    answer_proof,
    canonical_answer,
    check_answer,
)
from ledger.errors import LedgerError
from tests.vectors import generate_snapshots

VECTORS = json.loads(generate_snapshots.OUT.read_text(encoding="utf-8"))
KEY = VECTORS["serviceKey"]


def _hex(items: list[bytes]) -> list[str]:
    return ["0x" + b.hex() for b in items]


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_a_valid_snapshot_keeps_its_bytes_and_verifies(case: dict[str, Any]) -> None:
    obj = json.loads(case["snapshot"])
    snapshot = LicenceSnapshot.from_obj(obj)
    assert snapshot.to_obj() == obj
    assert snapshot.payload().decode() == case["payload"]
    assert snapshot.signature == case["signature"]
    assert "0x" + snapshot.digest().hex() == case["digest"]
    assert "0x" + snapshot.answers_root.hex() == case["answersRoot"]
    snapshot.verify(KEY)
    answers = [json.loads(a["answer"]) for a in case["answers"]]
    snapshot.check_answers(answers)
    for index, (answer, given) in enumerate(zip(answers, case["answers"], strict=True)):
        assert canonical_answer(answer).decode() == given["canonical"]
        assert "0x" + answer_digest(index, answer).hex() == given["digest"]
        assert _hex(answer_proof(answers, index)) == given["proof"]
        check_answer(snapshot, index, answer, [bytes.fromhex(p[2:]) for p in given["proof"]])


def test_version_1_and_both_kinds_of_version_2_are_there() -> None:
    seen = {(s["version"], s.get("buyer", "absent") is None)
            for s in (json.loads(c["snapshot"]) for c in VECTORS["valid"])}
    assert seen == {("ledger-licence-snapshot/1", False), ("ledger-licence-snapshot/2", False),
                    ("ledger-licence-snapshot/2", True)}


def _refusal(case: dict[str, Any]) -> tuple[str, LedgerError]:
    stage = case["expected"]["stage"]
    try:
        if stage == "answer":
            base = next(c for c in VECTORS["valid"] if c["name"] == case["base"])
            check_answer(LicenceSnapshot.from_obj(json.loads(base["snapshot"])), case["index"],
                         json.loads(case["answer"]), [bytes.fromhex(p[2:]) for p in case["proof"]])
            pytest.fail("accepted")
        stage = "read"
        snapshot = LicenceSnapshot.from_obj(json.loads(case["snapshot"]))
        stage = "signature"
        snapshot.verify(KEY)
        stage = "answers"
        snapshot.check_answers([json.loads(a) for a in case["answers"]])
    except LedgerError as exc:
        return stage, exc
    pytest.fail("accepted")


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_a_mutated_snapshot_is_refused_as_the_vector_says(case: dict[str, Any]) -> None:
    expected = case["expected"]
    stage, exc = _refusal(case)
    assert (stage, type(exc).__name__, exc.field) == (
        expected["stage"], expected["type"], expected["field"])
    assert expected["error"] in exc.message


def test_regenerating_gives_the_same_bytes() -> None:
    assert generate_snapshots.render() == generate_snapshots.OUT.read_text(encoding="utf-8")
