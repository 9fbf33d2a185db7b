"""The OLP registration vector (tests/vectors/olp_register.json): ledger's Python makes
the same bytes, hashes and signature, refuses each mutation, applies the same ``server``
normalisation, and docs/web-licensing.md prints the same values; then Node checks it
all again with code that shares nothing with ledger's (tests/vectors/check_olp_register.mjs,
on @noble/curves, @noble/hashes and canonicalize)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ledger.core.canonical import canonicalize
from ledger.core.hashing import keccak256, to_hex
from ledger.core.rsl import REGISTER_TAG, audience
from ledger.core.signing import EthSigningKey, sign_message, verify_message
from ledger.core.signing.eth import message_typed_data
from ledger.errors import SignatureError, ValidationError
from tests.vectors.generate_olp_register import build

ROOT = Path(__file__).parents[3]
VECTORS = ROOT / "tests" / "vectors"
VECTOR: dict[str, Any] = json.loads((VECTORS / "olp_register.json").read_text())


def _unsigned(body: dict[str, Any]) -> bytes:
    return canonicalize({k: v for k, v in body.items() if k != "signature"})


def test_the_file_is_what_the_generator_writes() -> None:
    assert build() == VECTOR


def test_ledger_signs_the_same_bytes_and_signature() -> None:
    key = EthSigningKey.from_hex(VECTOR["privateKey"])
    assert key.public_id == "eth:" + VECTOR["body"]["wallet"]
    assert VECTOR["tag"] == REGISTER_TAG
    payload = _unsigned(VECTOR["body"])
    assert payload.decode() == VECTOR["payload"]
    assert to_hex(keccak256(payload)) == VECTOR["contentHash"]
    assert message_typed_data(REGISTER_TAG, payload)["message"]["contentHash"] == keccak256(
        payload)
    assert sign_message(REGISTER_TAG, payload, key) == VECTOR["signature"]
    verify_message(REGISTER_TAG, payload, VECTOR["signature"], key.public_id)


@pytest.mark.parametrize("mutation", VECTOR["mutations"], ids=lambda m: m["name"])
def test_each_mutation_fails_the_signature(mutation: dict[str, Any]) -> None:
    body = mutation["body"]
    with pytest.raises(SignatureError):
        verify_message(mutation["tag"], _unsigned(body), body["signature"],
                       "eth:" + body["wallet"])


def test_the_relayed_body_is_refused_by_its_audience_only() -> None:
    body = VECTOR["relayed"]["body"]
    verify_message(REGISTER_TAG, _unsigned(body), body["signature"], "eth:" + body["wallet"])
    assert audience(body["server"]) != audience(VECTOR["body"]["server"])


@pytest.mark.parametrize(("server", "normalised"), VECTOR["audience"])
def test_the_server_normalisation(server: str, normalised: str | None) -> None:
    if normalised is None:
        with pytest.raises(ValidationError) as caught:
            audience(server)
        assert caught.value.field == "server"
    else:
        assert audience(server) == normalised


def test_the_documentation_prints_the_vector() -> None:
    doc = (ROOT / "docs" / "web-licensing.md").read_text()
    for name in ("privateKey", "payload", "contentHash", "structHash", "digest", "signature"):
        assert VECTOR[name] in doc, name


@pytest.mark.node
def test_node_checks_the_vector_independently() -> None:
    done = subprocess.run([shutil.which("node") or "node",
                           str(VECTORS / "check_olp_register.mjs")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    checks = json.loads(done.stdout)["checks"]
    assert len(checks) == 6 + len(VECTOR["mutations"]) + len(VECTOR["audience"])
    assert [c for c in checks if c[1] != "ok"] == []
