"""One creator-id rule: the manifest parser, the service's creator actions, the OpenAPI
document and docs/manifest.schema.json accept and refuse exactly the same ids
(issue 12: 101 to 128 character names were refused by the service, and trailing
``-._`` accepted by it though the manifest refused them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ledger.api.openapi import openapi_document
from ledger.core.creators import CreatorAction, deployment_id
from ledger.core.manifest import CREATOR_ID_PATTERN, Creator
from ledger.errors import ValidationError

SCHEMA = Path(__file__).parents[3] / "docs" / "manifest.schema.json"
KEY = "p256:" + "A" * 44

IDS = [
    ("creator:a", True),
    ("creator:alice", True),
    ("creator:alice.example", True),
    ("creator:a_b-c.d", True),
    ("creator:" + "a" * 100, True),
    ("creator:" + "a" * 101, True),
    ("creator:" + "a" * 128, True),
    ("creator:" + "a" * 129, False),
    ("creator:alice-", False),
    ("creator:alice.", False),
    ("creator:alice_", False),
    ("creator:-alice", False),
    ("creator:.alice", False),
    ("creator:Alice", False),
    ("creator:", False),
    ("alice", False),
    ("creator:al ice", False),
    ("creator:alice\n", False),
]


def manifest_accepts(creator_id: str) -> bool:
    try:
        Creator.from_obj({"id": creator_id, "signingKey": KEY, "wallet": "0x" + "11" * 20})
    except ValidationError:
        return False
    return True


def service_accepts(creator_id: str) -> bool:
    action: dict[str, Any] = {
        "action": "revoke-key", "creatorId": creator_id, "key": KEY, "issuedAt": 1,
        "deployment": deployment_id(1, "0x" + "00" * 20),
        "signatures": [{"key": KEY, "signature": "x"}],
    }
    try:
        CreatorAction.from_obj(action)
    except ValidationError as exc:
        assert exc.field == "creatorId", exc
        return False
    return True


def openapi_patterns() -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("pattern", "").startswith("^creator:"):
                found.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(openapi_document())
    return found


def schema_pattern() -> str:
    schema = json.loads(SCHEMA.read_text())
    return str(schema["$defs"]["creator"]["properties"]["id"]["pattern"])


def test_every_declaration_uses_the_one_pattern() -> None:
    assert openapi_patterns() == {f"^{CREATOR_ID_PATTERN}$"}
    assert schema_pattern() == f"^{CREATOR_ID_PATTERN}$"


@pytest.mark.parametrize(("creator_id", "valid"), IDS, ids=[repr(i[:24]) for i, _ in IDS])
def test_parser_service_and_declarations_agree(creator_id: str, valid: bool) -> None:
    # JSON Schema patterns are searched, not matched; \Z keeps "\n" from passing "$".
    declared = re.search(schema_pattern().replace("$", r"\Z"), creator_id) is not None
    assert (manifest_accepts(creator_id), service_accepts(creator_id), declared) == (
        valid, valid, valid,
    )
