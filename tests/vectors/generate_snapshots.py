"""Writes tests/vectors/snapshots.json; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_snapshots

Licence snapshots (docs/lifecycle.md, "The dataset check"): a version 1 snapshot (no
``buyer``), a version 2 for a buyer and a version 2 for an anonymous check, each with
its answers, every answer's canonical JSON, digest and path to ``answersRoot``, the
snapshot's signing payload, signature and digest; and named mutations of them with the
refusal they must meet. The service key is fixed and P-256 signing deterministic
(RFC 6979), so regenerating gives the same bytes unless the format changed
(tests/unit/core/test_snapshot_vectors.py checks). The version 1 snapshot is the proof
that snapshots issued before ``buyer`` keep verifying.

The script checks every case against ledger before writing, and stops if the outcome
is not the one declared here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ledger.core.hashing import to_hex
from ledger.core.licence_snapshot import (
    SNAPSHOT_TAG,
    SNAPSHOT_VERSION_1,
    LicenceSnapshot,
    answer_digest,
    answer_proof,
    canonical_answer,
    check_answer,
    sign_snapshot,
)
from ledger.core.receipt import ReceiptSigner
from ledger.errors import LedgerError
from tests.vectors.generate_statements import (
    DEPLOYMENT,
    MANIFEST,
    SERVICE_KEY,
    STRANGER_P256,
    T0,
)

OUT = Path(__file__).with_name("snapshots.json")
SERVICE = ReceiptSigner(SERVICE_KEY)
BUYER = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
OTHER_BUYER = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"

DESCRIPTION = [
    "Licence snapshot vectors (ledger-licence-snapshot/1 and /2, docs/lifecycle.md).",
    "serviceKey: the key a verifier pins (keys/service-p256.pem, a test key).",
    "valid: snapshot (JSON text) with its answers (JSON text, request order). Per answer:",
    "canonical = JCS(answer); digest = 0x sha256('ledger-dataset-answer-v1\\n' +",
    "decimal(index) + '\\n' + canonical); proof: its sibling path to answersRoot.",
    "answersRoot = the batch tree root over the answer digests (docs/proof-format.md",
    "section 3: leaf(d) = keccak256(keccak256(d)), sorted-pair keccak256 nodes, an odd",
    "last node moves up). payload = JCS(snapshot without signature), signed under tag",
    "'ledger-licence-snapshot-v1' (P-256, deterministic); digest = 0x sha256(",
    "'ledger-licence-snapshot-v1\\n' + JCS(snapshot)).",
    "invalid: a named mutation of the valid snapshot 'base' that must be refused at stage",
    "(read: the members; signature: against the pinned serviceKey; answers: against count",
    "and answersRoot; answer: one answer at index with its proof) with an error of this",
    "type naming field, whose message contains error.",
]


def _registration(asset_index: int, state: str, **status: Any) -> dict[str, Any]:
    return {"manifestDigest": MANIFEST, "assetIndex": asset_index,
            "assetId": f"asset:photo-{asset_index}", "creatorId": "creator:ana-photo",
            "anchored": True, "licenses": ["training"],
            "priceModel": {"type": "per-unit", "rate": 2.5, "currency": "USD"},
            "licenceStatus": {"state": state, "since": None, "until": None, "buyer": None,
                              "statement": None, "noticeUntil": None, "disputed": False,
                              **status}}


ANSWERS: list[dict[str, Any]] = [
    {"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
     "registered": True, "registrations": [_registration(0, "licensable")]},
    {"sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
     "registered": False, "registrations": []},
    {"sha256": "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
     "registered": True, "registrations": [_registration(
         1, "notice", since=T0 - 5000, until=T0 + 2_592_000_000, noticeUntil=T0 + 2_592_000_000,
         statement="0x" + "5a" * 32)]},
    {"sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
     "registered": False, "registrations": []},
    {"sha256": "baa5a0964d3320fbc0c6a922140453c8513ea24ab8fd0577034804a967248096",
     "registered": True, "registrations": [
         _registration(2, "exclusive", since=T0 - 86_400_000, until=T0 + 86_400_000,
                       buyer="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                       statement="0x" + "e1" * 32),
         {**_registration(3, "licensable"), "amendedTerms": {
             "priceModel": {"type": "per-unit", "rate": 3, "currency": "EUR"}}}]},
]


def _v1(answers: list[dict[str, Any]]) -> LicenceSnapshot:
    """A version 1 snapshot, as the service signed them before ``buyer``."""
    v2 = sign_snapshot([canonical_answer(a) for a in answers], deployment=DEPLOYMENT,
                       checked_at=T0 - 86_400_000 + 77, at=T0 - 86_400_000, signer=SERVICE)
    unsigned = replace(v2, version=SNAPSHOT_VERSION_1, buyer=None, signature="")
    return replace(unsigned, signature=SERVICE.sign_message(SNAPSHOT_TAG, unsigned.payload()))


def _v2(answers: list[dict[str, Any]], buyer: str | None) -> LicenceSnapshot:
    return sign_snapshot([canonical_answer(a) for a in answers], deployment=DEPLOYMENT,
                         checked_at=T0 + 123, at=T0, signer=SERVICE, buyer=buyer)


def _bases() -> dict[str, tuple[LicenceSnapshot, list[dict[str, Any]]]]:
    return {"v1": (_v1(ANSWERS[:3]), ANSWERS[:3]),
            "v2-buyer": (_v2(ANSWERS, BUYER), ANSWERS),
            "v2-anonymous": (_v2(ANSWERS[1:2], None), ANSWERS[1:2])}


def _check(obj: dict[str, Any], answers: list[dict[str, Any]]) -> LicenceSnapshot:
    snapshot = LicenceSnapshot.from_obj(obj)
    snapshot.verify(SERVICE.public_key)
    snapshot.check_answers(answers)
    return snapshot


def valid() -> list[dict[str, Any]]:
    """The three snapshots, each checked by ledger."""
    out = []
    for name, (snapshot, answers) in _bases().items():
        _check(snapshot.to_obj(), answers)
        out.append({
            "name": name, "snapshot": json.dumps(snapshot.to_obj()),
            "answers": [{"answer": json.dumps(a), "canonical": canonical_answer(a).decode(),
                         "digest": to_hex(answer_digest(i, a)),
                         "proof": [to_hex(p) for p in answer_proof(answers, i)]}
                        for i, a in enumerate(answers)],
            "answersRoot": to_hex(snapshot.answers_root),
            "payload": snapshot.payload().decode(),
            "signature": snapshot.signature, "digest": to_hex(snapshot.digest())})
    return out


Mutation = Callable[[dict[str, Any], list[dict[str, Any]]], None]


def _answer_changed(snap: dict[str, Any], answers: list[dict[str, Any]]) -> None:
    answers[1]["registered"] = True


def _answer_moved(snap: dict[str, Any], answers: list[dict[str, Any]]) -> None:
    answers[0], answers[2] = answers[2], answers[0]


def _answer_removed(snap: dict[str, Any], answers: list[dict[str, Any]]) -> None:
    answers.pop()


def _answer_added(snap: dict[str, Any], answers: list[dict[str, Any]]) -> None:
    answers.append(copy.deepcopy(answers[0]))


def _status_changed(snap: dict[str, Any], answers: list[dict[str, Any]]) -> None:
    answers[2]["registrations"][0]["licenceStatus"]["state"] = "licensable"


def _set(name: str, value: Any) -> Mutation:
    return lambda snap, answers: snap.__setitem__(name, value)


def _drop(name: str) -> Mutation:
    def apply(snap: dict[str, Any], answers: list[dict[str, Any]]) -> None:
        del snap[name]
    return apply


#: (name, base, mutation, stage, error type, field)
MUTATIONS: list[tuple[str, str, Mutation, str, str, str]] = [
    ("v1-answer-changed", "v1", _answer_changed, "answers", "ProofError", "answers"),
    ("v1-answer-moved", "v1", _answer_moved, "answers", "ProofError", "answers"),
    ("v1-answer-removed", "v1", _answer_removed, "answers", "ProofError", "answers"),
    ("v1-with-buyer", "v1", _set("buyer", BUYER), "read", "ValidationError", "buyer"),
    ("v1-relabelled-v2", "v1", _set("version", "ledger-licence-snapshot/2"), "read",
     "ValidationError", "buyer"),
    ("v2-answer-changed", "v2-buyer", _answer_changed, "answers", "ProofError", "answers"),
    ("v2-status-changed", "v2-buyer", _status_changed, "answers", "ProofError", "answers"),
    ("v2-answer-moved", "v2-buyer", _answer_moved, "answers", "ProofError", "answers"),
    ("v2-answer-removed", "v2-buyer", _answer_removed, "answers", "ProofError", "answers"),
    ("v2-answer-added", "v2-buyer", _answer_added, "answers", "ProofError", "answers"),
    ("v2-buyer-changed", "v2-buyer", _set("buyer", OTHER_BUYER), "signature",
     "SignatureError", "signature"),
    ("v2-buyer-removed-to-null", "v2-buyer", _set("buyer", None), "signature",
     "SignatureError", "signature"),
    ("v2-buyer-checksummed", "v2-buyer",
     _set("buyer", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"), "read", "ValidationError",
     "buyer"),
    ("v2-without-buyer", "v2-buyer", _drop("buyer"), "read", "ValidationError", "buyer"),
    ("v2-anonymous-buyer-added", "v2-anonymous", _set("buyer", BUYER), "signature",
     "SignatureError", "signature"),
    ("v2-count-changed", "v2-buyer", _set("count", 4), "signature", "SignatureError",
     "signature"),
    ("v2-root-changed", "v2-buyer", _set("answersRoot", "0x" + "00" * 32), "signature",
     "SignatureError", "signature"),
    ("v2-at-changed", "v2-buyer", _set("at", T0 + 1), "signature", "SignatureError",
     "signature"),
    ("v2-another-service-key", "v2-buyer", _set("serviceKey", STRANGER_P256.public_id),
     "signature", "SignatureError", "serviceKey"),
    ("v2-unknown-member", "v2-buyer", _set("note", "x"), "read", "ValidationError", "note"),
    ("v2-bad-version", "v2-buyer", _set("version", "ledger-licence-snapshot/3"), "read",
     "ValidationError", "version"),
]

#: One answer against the snapshot with a path (`check_answer`): name, base, index shown,
#: index of the answer and proof given.
ANSWER_CASES = [("v2-answer-proved-at-another-index", "v2-buyer", 0, 2),
                ("v1-answer-proved-at-another-index", "v1", 1, 0)]


def _refusal(obj: dict[str, Any], answers: list[dict[str, Any]]) -> tuple[str, LedgerError]:
    stage = "read"
    try:
        snapshot = LicenceSnapshot.from_obj(obj)
        stage = "signature"
        snapshot.verify(SERVICE.public_key)
        stage = "answers"
        snapshot.check_answers(answers)
    except LedgerError as exc:
        return stage, exc
    raise SystemExit(f"accepted: {json.dumps(obj)}")


def invalid() -> list[dict[str, Any]]:
    """Each mutation, refused where and as declared."""
    bases = _bases()
    out = []
    for name, base, mutate, stage, error_type, field in MUTATIONS:
        snapshot, answers = copy.deepcopy((bases[base][0].to_obj(), bases[base][1]))
        mutate(snapshot, answers)
        got, exc = _refusal(snapshot, answers)
        if (got, type(exc).__name__, exc.field) != (stage, error_type, field):
            raise SystemExit(f"{name}: refused at {got} with {exc!r}")
        out.append({"name": name, "base": base, "snapshot": json.dumps(snapshot),
                    "answers": [json.dumps(a) for a in answers],
                    "expected": {"stage": stage, "type": error_type, "field": field,
                                 "error": exc.message}})
    return out


def answer_cases() -> list[dict[str, Any]]:
    """One answer shown at the wrong place with its own path: refused."""
    bases = _bases()
    out = []
    for name, base, index, source in ANSWER_CASES:
        snapshot, answers = bases[base]
        proof = answer_proof(answers, source)
        try:
            check_answer(snapshot, index, answers[source], proof)
        except LedgerError as exc:
            out.append({"name": name, "base": base, "index": index,
                        "answer": json.dumps(answers[source]),
                        "proof": [to_hex(p) for p in proof],
                        "expected": {"stage": "answer", "type": type(exc).__name__,
                                     "field": exc.field, "error": exc.message}})
            continue
        raise SystemExit(f"{name}: accepted")
    return out


def render() -> str:
    """The vector file's text."""
    doc = {"description": DESCRIPTION, "serviceKey": SERVICE.public_key,
           "valid": valid(), "invalid": [*invalid(), *answer_cases()]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Check every case against ledger, then write the vectors."""
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
