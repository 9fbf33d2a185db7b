"""Licence snapshots (ledger/core/licence_snapshot.py): a true round trip, the signature
against a pinned key, the answers committed to as a whole and one by one, and named
mutations of a good snapshot failing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from ledger.core.licence_snapshot import (
    LicenceSnapshot,
    answer_proof,
    canonical_answer,
    check_answer,
    sign_snapshot,
)
from ledger.core.receipt import ReceiptSigner
from ledger.core.signing import P256SigningKey
from ledger.errors import ProofError, SignatureError, ValidationError

SERVICE = ReceiptSigner(P256SigningKey.from_secret(0x736E6170_31))
OTHER = ReceiptSigner(P256SigningKey.from_secret(0x736E6170_32))
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"


def _answers(n: int) -> list[dict[str, Any]]:
    return [{"sha256": f"{i:064x}", "registered": False, "registrations": []}
            for i in range(n)]


def _snapshot(answers: list[dict[str, Any]], signer: ReceiptSigner = SERVICE
              ) -> LicenceSnapshot:
    return sign_snapshot([canonical_answer(a) for a in answers], deployment=DEPLOYMENT,
                         checked_at=1_800_000_000_123, at=1_800_000_000_000, signer=signer)


def test_a_snapshot_round_trips_both_ways_and_verifies() -> None:
    answers = _answers(5)
    snapshot = _snapshot(answers)
    obj = snapshot.to_obj()
    assert LicenceSnapshot.from_obj(obj) == snapshot
    assert LicenceSnapshot.from_obj(obj).to_obj() == obj
    snapshot.verify(SERVICE.public_key)
    snapshot.check_answers(answers)
    assert snapshot.digest() != LicenceSnapshot.from_obj({**obj, "at": 1}).digest()


def test_one_answer_is_provable_alone() -> None:
    answers = _answers(7)
    snapshot = _snapshot(answers)
    for index, answer in enumerate(answers):
        check_answer(snapshot, index, answer, answer_proof(answers, index))
    with pytest.raises(ProofError):
        check_answer(snapshot, 3, {**answers[3], "registered": True}, answer_proof(answers, 3))
    with pytest.raises(ProofError):
        check_answer(snapshot, 2, answers[3], answer_proof(answers, 3))


@pytest.mark.parametrize("mutation", ["answer-changed", "answer-dropped", "answer-added",
                                      "answers-swapped"])
def test_tampered_answers_fail(mutation: str) -> None:
    answers = _answers(4)
    snapshot = _snapshot(answers)
    changed = [dict(a) for a in answers]
    if mutation == "answer-changed":
        changed[2]["registered"] = True
    elif mutation == "answer-dropped":
        changed.pop()
    elif mutation == "answer-added":
        changed.append(_answers(5)[4])
    else:
        changed[0], changed[1] = changed[1], changed[0]
    with pytest.raises(ProofError, match="answers"):
        snapshot.check_answers(changed)


@pytest.mark.parametrize("member, value", [("at", 1), ("count", 3), ("checkedAt", 2),
                                           ("answersRoot", "0x" + "00" * 32)])
def test_a_changed_member_no_longer_verifies(member: str, value: Any) -> None:
    obj = {**_snapshot(_answers(4)).to_obj(), member: value}
    with pytest.raises(SignatureError):
        LicenceSnapshot.from_obj(obj).verify(SERVICE.public_key)


def test_another_key_is_refused_even_when_its_signature_holds() -> None:
    snapshot = _snapshot(_answers(2), OTHER)
    snapshot.verify(OTHER.public_key)
    with pytest.raises(SignatureError, match="pinned"):
        snapshot.verify(SERVICE.public_key)


@pytest.mark.parametrize("change, field", [
    ({"version": "ledger-licence-snapshot/3"}, "version"),
    ({"buyer": "0xab"}, "buyer"),
    ({"buyer": "0x" + "AB" * 20}, "buyer"),
    ({"version": "ledger-licence-snapshot/1"}, "buyer"),
    ({"count": 0}, "count"),
    ({"answersRoot": "0xAB"}, "answersRoot"),
    ({"extra": 1}, "extra"),
    ({"deployment": "eip155:1:0xABC"}, "deployment"),
])
def test_a_malformed_snapshot_names_its_member(change: dict[str, Any], field: str) -> None:
    obj = {**_snapshot(_answers(1)).to_obj(), **change}
    with pytest.raises(ValidationError) as caught:
        LicenceSnapshot.from_obj(obj)
    assert caught.value.field == field


def test_a_missing_member_is_named_and_no_answer_is_refused() -> None:
    obj = _snapshot(_answers(1)).to_obj()
    del obj["signature"]
    with pytest.raises(ValidationError) as caught:
        LicenceSnapshot.from_obj(obj)
    assert caught.value.field == "signature"
    with pytest.raises(ValidationError):
        _snapshot([])


def test_the_receipt_tag_is_not_lent_out() -> None:
    with pytest.raises(SignatureError):
        SERVICE.sign_message("ledger-receipt-v1", b"{}")


def test_an_unregistered_answer_hashes_as_its_canonical_json() -> None:
    from ledger.core.canonical import canonicalize
    from ledger.core.hashing import sha256
    from ledger.core.licence_snapshot import ANSWER_TAG, answer_digest

    for answer in [*_answers(3), {"sha256": "ab" * 32, "registered": False,
                                  "registrations": [], "note": 1},
                   {"sha256": "AB" * 32, "registered": False, "registrations": []}]:
        expected = sha256(ANSWER_TAG.encode() + b"\n7\n" + canonicalize(answer))
        assert answer_digest(7, answer) == expected


BUYER = "0x" + "ab" * 20


def test_a_snapshot_names_the_buyer_it_was_made_for_under_its_signature() -> None:
    snapshot = sign_snapshot([canonical_answer(a) for a in _answers(2)],
                             deployment=DEPLOYMENT, checked_at=1, at=1, signer=SERVICE,
                             buyer="0x" + "AB" * 20)
    obj = snapshot.to_obj()
    assert obj["version"] == "ledger-licence-snapshot/2" and obj["buyer"] == BUYER
    assert LicenceSnapshot.from_obj(obj) == snapshot
    snapshot.verify(SERVICE.public_key)
    forged = LicenceSnapshot.from_obj({**obj, "buyer": "0x" + "cd" * 20})
    with pytest.raises(SignatureError):
        forged.verify(SERVICE.public_key)


def test_an_anonymous_check_says_buyer_null() -> None:
    assert _snapshot(_answers(1)).to_obj()["buyer"] is None


def test_a_version_1_snapshot_still_reads_and_verifies() -> None:
    answers = _answers(3)
    unsigned = replace(_snapshot(answers), checked_at=1, buyer=None, signature="",
                       version="ledger-licence-snapshot/1")
    signed = replace(unsigned, signature=SERVICE.sign_message("ledger-licence-snapshot-v1",
                                                              unsigned.payload()))
    obj = signed.to_obj()
    assert "buyer" not in obj
    assert LicenceSnapshot.from_obj(obj) == signed
    signed.verify(SERVICE.public_key)
    signed.check_answers(answers)
