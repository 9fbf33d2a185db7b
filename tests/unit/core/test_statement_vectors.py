"""Every case of tests/vectors/statements.json against ledger/core/statements.py: each
valid statement reads, keeps its canonical bytes, payload and digest, verifies, is
authorised and re-signs to the same bytes; each mutation is refused where the vector
says; and regenerating the file gives the same bytes. The verifier page's modules check
the same file in Node (tests/browser/test_lifecycle_vectors.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.core.signing import SigningKey
from ledger.core.statements import Statement, authorise, sign_statement
from ledger.errors import LedgerError
from tests.vectors import generate_statements

VECTORS = json.loads(generate_statements.OUT.read_text(encoding="utf-8"))
KEYS: dict[str, SigningKey] = {key.public_id: key for key in (
    generate_statements.CREATOR_P256, generate_statements.CREATOR_ETH,
    generate_statements.SERVICE_KEY, generate_statements.CLAIMANT_ETH)}


def _authorise(statement: Statement) -> None:
    authorise(statement, creator_keys=set(VECTORS["creatorKeys"]),
              operator_key=VECTORS["operatorKey"])


@pytest.mark.parametrize("case", VECTORS["valid"], ids=lambda c: c["name"])
def test_a_valid_statement_keeps_its_bytes_and_verifies(case: dict[str, Any]) -> None:
    obj = json.loads(case["statement"])
    statement = Statement.from_obj(obj)
    assert statement.canonical.decode() == case["canonical"]
    assert statement.payload().decode() == case["payload"]
    assert "0x" + statement.digest().hex() == case["digest"]
    statement.verify()
    _authorise(statement)
    unsigned = {k: v for k, v in obj.items() if k not in ("signer", "signature", "version")}
    assert sign_statement(unsigned, KEYS[statement.signer]) == obj


def test_every_type_is_covered_and_the_creator_signs_with_both_schemes() -> None:
    cases = VECTORS["valid"]
    types = {json.loads(c["statement"])["type"] for c in cases}
    assert types == {"revoke", "amend", "grant-exclusive", "withdraw-consent", "takedown",
                     "takedown-answer", "takedown-decision"}
    for kind in types - {"takedown-decision"}:
        schemes = {json.loads(c["statement"])["signer"].split(":")[0]
                   for c in cases if json.loads(c["statement"])["type"] == kind}
        assert schemes == {"p256", "eth"}, kind


@pytest.mark.parametrize("case", VECTORS["invalid"], ids=lambda c: c["name"])
def test_a_mutated_statement_is_refused_as_the_vector_says(case: dict[str, Any]) -> None:
    expected = case["expected"]
    obj = json.loads(case["statement"])
    stage = "read"
    with pytest.raises(LedgerError) as refused:
        statement = Statement.from_obj(obj)
        stage = "verify"
        statement.verify()
        stage = "authorise"
        _authorise(statement)
    assert stage == expected["stage"]
    assert type(refused.value).__name__ == expected["type"]
    assert refused.value.field == expected["field"]
    assert expected["error"] in refused.value.message


def test_regenerating_gives_the_same_bytes() -> None:
    assert generate_statements.render() == generate_statements.OUT.read_text(encoding="utf-8")
    for path, data in generate_statements.key_files().items():
        assert Path(path).read_bytes() == data, path
