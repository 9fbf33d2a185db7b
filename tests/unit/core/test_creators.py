"""Signed creator actions: who must sign what, freshness, and no revival of revoked keys."""

from __future__ import annotations

import pytest

from ledger.core.creators import FRESHNESS_MS, CreatorAction, sign_action
from ledger.core.signing import EthSigningKey, P256SigningKey
from ledger.errors import SignatureError, ValidationError

A = P256SigningKey.from_secret(0xA11CE)
B = EthSigningKey.from_hex("0x" + "0b" * 32)
C = P256SigningKey.from_secret(0xC0FFEE)
NOW = 1_700_000_000_000


def parse(obj: object) -> CreatorAction:
    return CreatorAction.from_obj(obj)


def test_register_needs_every_listed_key() -> None:
    ok = parse(sign_action("register", "creator:a", [A.public_id, B.public_id], NOW, [A, B]))
    ok.verify([])
    half = parse(sign_action("register", "creator:a", [A.public_id, B.public_id], NOW, [A]))
    with pytest.raises(SignatureError):
        half.verify([])


def test_add_key_needs_a_current_key_and_the_new_one() -> None:
    both = parse(sign_action("add-key", "creator:a", [B.public_id], NOW, [A, B]))
    both.verify([A.public_id])
    for signers in ([A], [B], [C, B]):
        action = parse(sign_action("add-key", "creator:a", [B.public_id], NOW, signers))
        with pytest.raises(SignatureError):
            action.verify([A.public_id])


def test_revoked_key_cannot_come_back() -> None:
    action = parse(sign_action("add-key", "creator:a", [B.public_id], NOW, [A, B]))
    with pytest.raises(ValidationError) as caught:
        action.verify([A.public_id], revoked=[B.public_id])
    assert caught.value.field == "key"


def test_revoke_by_any_current_key() -> None:
    parse(sign_action("revoke-key", "creator:a", [A.public_id], NOW, [A])).verify([A.public_id])
    stranger = parse(sign_action("revoke-key", "creator:a", [A.public_id], NOW, [C]))
    with pytest.raises(SignatureError):
        stranger.verify([A.public_id])


def test_tampered_action_fails() -> None:
    obj = sign_action("register", "creator:a", [A.public_id], NOW, [A])
    obj["creatorId"] = "creator:b"
    with pytest.raises(SignatureError) as caught:
        parse(obj).verify([])
    assert caught.value.field == "signatures[0]"


def test_freshness_window() -> None:
    action = parse(sign_action("register", "creator:a", [A.public_id], NOW, [A]))
    action.check_fresh(NOW + FRESHNESS_MS)
    with pytest.raises(ValidationError) as caught:
        action.check_fresh(NOW + FRESHNESS_MS + 1)
    assert caught.value.field == "issuedAt"


def test_round_trip() -> None:
    obj = sign_action("add-key", "creator:a", [B.public_id], NOW, [A, B])
    assert parse(obj).to_obj() == obj


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ([], None),
        ({"action": "delete"}, "action"),
        (
            {
                "action": "register",
                "creatorId": "creator:a",
                "keys": [],
                "issuedAt": NOW,
                "signatures": [],
            },
            "keys",
        ),
        (
            {
                "action": "register",
                "creatorId": "Bad Id",
                "keys": ["x"],
                "issuedAt": NOW,
                "signatures": [],
            },
            "creatorId",
        ),
        (
            {
                "action": "revoke-key",
                "creatorId": "creator:a",
                "key": "nope",
                "issuedAt": NOW,
                "signatures": [{"key": "nope", "signature": "x"}],
            },
            "key",
        ),
        (
            {"action": "revoke-key", "creatorId": "creator:a", "issuedAt": NOW, "signatures": []},
            "key",
        ),
    ],
    ids=["not-object", "unknown-action", "no-keys", "bad-id", "bad-key", "missing-key"],
)
def test_malformed_actions_name_the_field(obj: object, field: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(obj)
    assert caught.value.field == field
