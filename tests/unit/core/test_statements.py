"""Statements as the service reads back what it stored (`Statement.from_stored`): the
same statement as `from_obj` reads, its members still checked, its signature not."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ledger.core.canonical import canonicalize
from ledger.core.signing import P256SigningKey
from ledger.core.statements import Statement, sign_statement
from ledger.errors import SignatureError, ValidationError

KEY = P256SigningKey.from_secret(0x73746F726564)
T0 = 1_800_000_000_000
MEMBERS: list[dict[str, Any]] = [
    {"type": "revoke", "effectiveAt": T0 + 1},
    {"type": "amend", "effectiveAt": T0,
     "terms": {"priceModel": {"type": "per-unit", "rate": 1.5, "currency": "USD"}}},
    {"type": "grant-exclusive", "buyer": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
     "licences": ["training"], "start": T0, "end": T0 + 1, "irrevocable": True},
    {"type": "withdraw-consent", "reason": "asked"},
    {"type": "takedown", "grounds": "mine", "claimant": "Bo"},
]


def _signed(members: dict[str, Any]) -> dict[str, Any]:
    return sign_statement({**members, "deployment": "eip155:1:0x" + "00" * 20,
                           "issuedAt": T0, "target": {"manifestDigest": "0x" + "ab" * 32,
                                                      "assetIds": ["asset:a"]}}, KEY)


@pytest.mark.parametrize("members", MEMBERS, ids=[m["type"] for m in MEMBERS])
def test_a_stored_statement_reads_back_as_the_one_accepted(members: dict[str, Any]) -> None:
    accepted = Statement.from_obj(_signed(members))
    stored = Statement.from_stored(canonicalize(accepted.obj))
    assert stored == accepted and stored.digest() == accepted.digest()
    assert stored.canonical == accepted.canonical == canonicalize(accepted.obj)
    stored.verify()


def test_a_stored_body_is_still_checked_member_by_member() -> None:
    obj = _signed(MEMBERS[0])
    with pytest.raises(ValidationError) as refused:
        Statement.from_stored(orjson.dumps({**obj, "effectiveAt": "soon"}))
    assert refused.value.field == "effectiveAt"
    with pytest.raises(ValidationError):
        Statement.from_stored(b"[]")


def test_a_stored_body_is_trusted_for_its_signature_only_until_verified() -> None:
    forged = {**_signed(MEMBERS[0]), "issuedAt": T0 + 1}
    statement = Statement.from_stored(canonicalize(forged))
    with pytest.raises(SignatureError):
        statement.verify()
