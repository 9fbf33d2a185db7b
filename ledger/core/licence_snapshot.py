"""Licence snapshots (``ledger-licence-snapshot/1``): the service's signed, anchored
answer to a buyer's dataset check.

A dataset check answers, per content hash, every registration with its licence and
its status at one time, or that nobody registered it. The snapshot commits to the
whole answer: ``answersRoot`` is the Merkle root (the batch tree of `ledger.core.merkle`)
over the answers' digests in request order, so one file's answer is provable alone;
the service key signs the snapshot; the snapshot's digest is a leaf of an anchored
batch, so its time is provable too. docs/lifecycle.md gives the bytes.

Version 2 adds ``buyer``: the wallet (lower-case 0x address) that signed the check's
request, or null for an anonymous check; version 1 snapshots (no ``buyer``) still read.

Consensus-critical like the other formats: a change needs a new version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ledger.core.canonical import canonicalize
from ledger.core.fields import DEPLOYMENT, DEPLOYMENT_TEXT, HASH, Fields
from ledger.core.hashing import sha256, to_hex
from ledger.core.merkle import MerkleTree, verify
from ledger.core.signing import verify_message
from ledger.errors import ProofError, SignatureError, ValidationError

SNAPSHOT_VERSION = "ledger-licence-snapshot/2"
#: The first version, without ``buyer``: still read and verified.
SNAPSHOT_VERSION_1 = "ledger-licence-snapshot/1"
#: Domain tag of the snapshot's signature and digest.
SNAPSHOT_TAG = "ledger-licence-snapshot-v1"
#: Domain tag of one answer's digest: an answer is never a snapshot, manifest or record.
ANSWER_TAG = "ledger-dataset-answer-v1"
#: The most hashes one check answers; a client sends a larger dataset in parts.
MAX_HASHES = 100_000

_MEMBERS_1 = ("version", "deployment", "checkedAt", "at", "count", "answersRoot",
              "serviceKey", "signature")
_MEMBERS = (*_MEMBERS_1, "buyer")
_NON_EMPTY = re.compile(r".+", re.DOTALL)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BUYER = re.compile(r"0x[0-9a-f]{40}")


def answer_digest(index: int, answer: dict[str, Any]) -> bytes:
    """SHA-256 of ``ledger-dataset-answer-v1\\n``, the answer's place in the request in
    decimal, ``\\n``, and its canonical JSON. The place is hashed in because the tree
    hashes sorted pairs: without it two neighbours could swap under the same root."""
    return _digest(index, canonical_answer(answer))


def _digest(index: int, encoded: bytes) -> bytes:
    return sha256(b"%s\n%d\n%s" % (ANSWER_TAG.encode(), index, encoded))


def canonical_answer(answer: dict[str, Any]) -> bytes:
    """The answer's canonical JSON (RFC 8785)."""
    # An unregistered file's answer, the commonest in a large dataset, written directly:
    # the same bytes `canonicalize` gives (tests check), at a fraction of its cost.
    sha = answer.get("sha256")
    if (len(answer) == 3 and answer.get("registered") is False
            and answer.get("registrations") == [] and isinstance(sha, str)
            and _SHA256.fullmatch(sha)):
        return b'{"registered":false,"registrations":[],"sha256":"%s"}' % sha.encode()
    return canonicalize(answer)


def answers_tree(answers: Sequence[dict[str, Any]]) -> MerkleTree:
    """The tree over the answers' digests, in order; ValidationError for no answer."""
    return encoded_answers_tree([canonical_answer(a) for a in answers])


def encoded_answers_tree(encoded: Sequence[bytes]) -> MerkleTree:
    """`answers_tree` of answers already in canonical JSON (the service writes its own
    answers' bytes faster than `canonicalize`; the verifier's `check_answers` catches
    any that are not canonical)."""
    if not encoded:
        raise ValidationError("a dataset check answers at least one hash", field="answers")
    return MerkleTree([_digest(i, e) for i, e in enumerate(encoded)])


def answer_proof(answers: Sequence[dict[str, Any]], index: int) -> list[bytes]:
    """The path from answer ``index`` to ``answersRoot``: one file's answer, alone."""
    return answers_tree(answers).proof(index)


def check_answer(snapshot: LicenceSnapshot, index: int, answer: dict[str, Any],
                 proof: Sequence[bytes]) -> None:
    """ProofError unless ``proof`` leads from ``answer``, at ``index``, to the snapshot's
    root."""
    if not verify(snapshot.answers_root, answer_digest(index, answer), proof):
        raise ProofError("the answer is not one the snapshot committed to", field="answer")


@dataclass(frozen=True)
class LicenceSnapshot:
    """A signed snapshot; times are milliseconds since the Unix epoch. ``at`` is when
    the statuses hold, ``checked_at`` when the service answered."""

    deployment: str
    checked_at: int
    at: int
    count: int
    answers_root: bytes
    service_key: str
    signature: str
    #: The buyer whose signed request the check answered (None: anonymous).
    buyer: str | None = None
    version: str = SNAPSHOT_VERSION

    def body(self) -> dict[str, Any]:
        """Every member but the signature: what the signature covers."""
        body = {"version": self.version, "deployment": self.deployment,
                "checkedAt": self.checked_at, "at": self.at, "count": self.count,
                "answersRoot": to_hex(self.answers_root), "serviceKey": self.service_key}
        if self.version != SNAPSHOT_VERSION_1:
            body["buyer"] = self.buyer
        return body

    def payload(self) -> bytes:
        """The canonical bytes the signature covers."""
        return canonicalize(self.body())

    def to_obj(self) -> dict[str, Any]:
        """The snapshot as JSON (`from_obj` inverts it)."""
        return {**self.body(), "signature": self.signature}

    def digest(self) -> bytes:
        """SHA-256 of ``ledger-licence-snapshot-v1\\n`` and the signed snapshot's
        canonical JSON: the leaf its batch anchors, and the check's id."""
        return sha256(SNAPSHOT_TAG.encode() + b"\n" + canonicalize(self.to_obj()))

    @classmethod
    def from_obj(cls, obj: Any) -> LicenceSnapshot:
        """Read a snapshot strictly; ValidationError names the bad member."""
        if not isinstance(obj, dict):
            raise ValidationError("a licence snapshot must be a JSON object")
        f = Fields(obj)
        version = f.choice("version", (SNAPSHOT_VERSION, SNAPSHOT_VERSION_1))
        members = _MEMBERS_1 if version == SNAPSHOT_VERSION_1 else _MEMBERS
        for name in obj:
            if name not in members:
                raise ValidationError("is not a licence snapshot member", field=name)
        for name in members:
            if name not in obj:
                raise ValidationError("is missing", field=name)
        buyer = obj.get("buyer")
        if buyer is not None and not (isinstance(buyer, str) and _BUYER.fullmatch(buyer)):
            raise ValidationError("must be null or a lower-case 0x address", field="buyer")
        return cls(
            deployment=f.match("deployment", DEPLOYMENT, DEPLOYMENT_TEXT),
            checked_at=f.timestamp_ms("checkedAt"), at=f.timestamp_ms("at"),
            count=f.integer("count", 1, MAX_HASHES),
            answers_root=f.hex_bytes("answersRoot", HASH),
            service_key=f.match("serviceKey", _NON_EMPTY, "a non-empty string"),
            signature=f.match("signature", _NON_EMPTY, "a non-empty string"),
            buyer=buyer, version=version,
        )

    def verify(self, service_key: str) -> None:
        """SignatureError unless the pinned ``service_key`` signed this snapshot."""
        if service_key != self.service_key:
            raise SignatureError(f"is signed by {self.service_key}, not the pinned service key",
                                 field="serviceKey")
        verify_message(SNAPSHOT_TAG, self.payload(), self.signature, self.service_key)

    def check_answers(self, answers: Sequence[dict[str, Any]]) -> None:
        """ProofError unless ``answers`` are exactly those the snapshot committed to."""
        if len(answers) != self.count:
            raise ProofError(f"{len(answers)} answers, but the snapshot counts {self.count}",
                             field="answers")
        if answers_tree(answers).root != self.answers_root:
            raise ProofError("the answers do not hash to answersRoot (one was changed, "
                             "added, removed or moved)", field="answers")


class ServiceSigner(Protocol):
    """The service key (`ledger.core.receipt.ReceiptSigner`)."""

    @property
    def public_key(self) -> str:
        """The key's public id."""

    def sign_message(self, tag: str, payload: bytes) -> str:
        """The signature of ``payload`` under domain ``tag``."""


def sign_snapshot(encoded: Sequence[bytes], *, deployment: str, checked_at: int,
                  at: int, signer: ServiceSigner, buyer: str | None = None) -> LicenceSnapshot:
    """The snapshot of the answers whose canonical JSON is ``encoded`` for `buyer` (None:
    an anonymous check), signed by the service key."""
    unsigned = LicenceSnapshot(deployment, checked_at, at, len(encoded),
                               encoded_answers_tree(encoded).root, signer.public_key, "",
                               buyer=None if buyer is None else buyer.lower())
    return replace(unsigned, signature=signer.sign_message(SNAPSHOT_TAG, unsigned.payload()))
