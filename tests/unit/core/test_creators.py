"""Signed creator actions: who must sign what, the key hierarchy, the deployment they
are bound to, freshness, no revival of old keys, and how ids are verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.core.creators import (
    CREATOR_TAG,
    DOMAIN,
    FRESHNESS_MS,
    KEY,
    OPERATOR,
    CreatorAction,
    KeyState,
    check_domain_document,
    deployment_id,
    domain_of,
    key_derived_id,
    sign_action,
    verification_method,
)
from ledger.core.signing import EthSigningKey, P256SigningKey, SigningKey
from ledger.errors import SignatureError, ValidationError

A = P256SigningKey.from_secret(0xA11CE)
B = EthSigningKey.from_hex("0x" + "0b" * 32)
C = P256SigningKey.from_secret(0xC0FFEE)
R = P256SigningKey.from_secret(0x2EC0)  # the recovery key
R2 = P256SigningKey.from_secret(0x2EC1)
NOW = 1_700_000_000_000
HERE = deployment_id(31337, "0x" + "Ab" * 20)
ELSEWHERE = deployment_id(1, "0x" + "Ab" * 20)


def parse(obj: object) -> CreatorAction:
    return CreatorAction.from_obj(obj)


def signed(
    action: str, keys: list[SigningKey], signers: list[SigningKey], *,
    recovery: SigningKey | None = None, creator: str = "creator:a", deployment: str = HERE,
) -> CreatorAction:
    return parse(sign_action(
        action, creator, [k.public_id for k in keys], NOW, signers, deployment=deployment,
        recovery_key=None if recovery is None else recovery.public_id,
    ))


def state(*signing: SigningKey, recovery: SigningKey | None = R,
          used: tuple[SigningKey, ...] = ()) -> KeyState:
    ids = {k.public_id for k in signing}
    rec = None if recovery is None else recovery.public_id
    return KeyState(
        signing=frozenset(ids), recovery=rec,
        used=frozenset(ids | {k.public_id for k in used} | ({rec} if rec else set())),
    )


def test_register_needs_every_listed_key_and_the_recovery_key() -> None:
    signed("register", [A, B], [A, B, R], recovery=R).verify(None)
    for signers in ([A, B], [A, R], [B, R]):
        with pytest.raises(SignatureError):
            signed("register", [A, B], signers, recovery=R).verify(None)


def test_register_refuses_a_recovery_key_that_is_also_a_signing_key() -> None:
    with pytest.raises(ValidationError) as caught:
        signed("register", [A], [A], recovery=A).verify(None)
    assert caught.value.field == "recoveryKey"


def test_add_key_needs_the_new_key_and_a_signing_or_recovery_key() -> None:
    signed("add-key", [B], [A, B]).verify(state(A))
    signed("add-key", [B], [R, B]).verify(state(A))
    for signers in ([A], [B], [C, B]):
        with pytest.raises(SignatureError):
            signed("add-key", [B], signers).verify(state(A))


def test_a_key_the_creator_had_cannot_come_back() -> None:
    with pytest.raises(ValidationError) as caught:
        signed("add-key", [B], [A, B]).verify(state(A, used=(B,)))
    assert caught.value.field == "key"
    with pytest.raises(ValidationError):  # nor can the recovery key become a signing key
        signed("add-key", [R], [A, R]).verify(state(A))


def test_stolen_signing_key_cannot_revoke_the_recovery_key() -> None:
    with pytest.raises(ValidationError) as caught:
        signed("revoke-key", [R], [A]).verify(state(A, C))
    assert caught.value.field == "key" and "recovery key" in caught.value.message


def test_stolen_signing_key_cannot_revoke_the_last_signing_key() -> None:
    signed("revoke-key", [C], [A]).verify(state(A, C))  # another one: allowed
    with pytest.raises(ValidationError) as caught:
        signed("revoke-key", [A], [A]).verify(state(A))
    assert "last signing key" in caught.value.message
    signed("revoke-key", [A], [R]).verify(state(A))  # the recovery key may


def test_revoke_needs_a_key_of_the_creator() -> None:
    with pytest.raises(SignatureError):
        signed("revoke-key", [A], [C]).verify(state(A, B))


def test_recover_needs_the_recovery_key_and_every_new_key() -> None:
    signed("recover", [C], [R, C], recovery=R).verify(state(A))
    signed("recover", [C], [R, C, R2], recovery=R2).verify(state(A))
    with pytest.raises(SignatureError):  # a stolen signing key cannot recover
        signed("recover", [C], [A, C], recovery=R).verify(state(A))
    with pytest.raises(SignatureError):  # the new recovery key must sign
        signed("recover", [C], [R, C], recovery=R2).verify(state(A))
    with pytest.raises(SignatureError):  # a creator without a recovery key cannot recover
        signed("recover", [C], [R, C], recovery=R).verify(state(A, recovery=None))


def test_recover_cannot_reinstall_an_old_key() -> None:
    with pytest.raises(ValidationError) as caught:
        signed("recover", [A], [R, A], recovery=R).verify(state(A))
    assert caught.value.field == "keys[0]"
    with pytest.raises(ValidationError) as caught:
        signed("recover", [R], [R, R2], recovery=R2).verify(state(A))
    assert caught.value.field == "keys[0]"


def test_tampered_action_fails() -> None:
    obj = sign_action("register", "creator:a", [A.public_id], NOW, [A, R], deployment=HERE,
                      recovery_key=R.public_id)
    obj["creatorId"] = "creator:b"
    with pytest.raises(SignatureError) as caught:
        parse(obj).verify(None)
    assert caught.value.field == "signatures[0]"


def test_action_for_another_deployment_is_refused() -> None:
    action = signed("register", [A], [A, R], recovery=R, deployment=ELSEWHERE)
    action.verify(None)  # well signed, but for another service
    with pytest.raises(ValidationError) as caught:
        action.check_context(NOW, HERE)
    assert caught.value.field == "deployment"
    # Rewriting the deployment breaks every signature.
    obj = action.to_obj()
    obj["deployment"] = HERE
    with pytest.raises(SignatureError):
        parse(obj).verify(None)


def test_freshness_window() -> None:
    action = signed("register", [A], [A, R], recovery=R)
    action.check_context(NOW + FRESHNESS_MS, HERE)
    with pytest.raises(ValidationError) as caught:
        action.check_context(NOW + FRESHNESS_MS + 1, HERE)
    assert caught.value.field == "issuedAt"


@pytest.mark.parametrize("action", ["register", "add-key", "revoke-key", "recover"])
def test_round_trip(action: str) -> None:
    recovery = R.public_id if action in ("register", "recover") else None
    obj = sign_action(action, "creator:a", [B.public_id], NOW, [A, B], deployment=HERE,
                      recovery_key=recovery)
    parsed = parse(obj)
    assert parsed.to_obj() == obj
    assert parse(parsed.to_obj()) == parsed


def test_payload_bytes_are_the_documented_ones() -> None:
    action = signed("register", [A], [A, R], recovery=R)
    assert action.payload() == (
        '{"action":"register","creatorId":"creator:a","deployment":"' + HERE + '",'
        f'"issuedAt":{NOW},"keys":["{A.public_id}"],"recoveryKey":"{R.public_id}"}}'
    ).encode()
    assert CREATOR_TAG == "ledger-creator-v2"


def test_verification_method_by_shape() -> None:
    assert verification_method(key_derived_id(A.public_id)) == KEY
    assert verification_method("creator:alice.example") == DOMAIN
    assert verification_method("creator:alice") == OPERATOR
    assert domain_of("creator:alice.example") == "alice.example"
    for bad in ("creator:a_b.example", "creator:v1.2", "creator:a..b", "creator:-a.example"):
        with pytest.raises(ValidationError):
            domain_of(bad)


def test_key_derived_id_must_be_the_first_keys() -> None:
    own = key_derived_id(A.public_id)
    assert len(own) == len("creator:k-") + 32
    signed("register", [A], [A, R], recovery=R, creator=own).check_id()
    with pytest.raises(ValidationError) as caught:  # a squatter's key derives another id
        signed("register", [C], [C, R], recovery=R, creator=own).check_id()
    assert caught.value.field == "creatorId" and own not in caught.value.message


def test_domain_document() -> None:
    keys = {A.public_id, R.public_id}
    check_domain_document({"creatorId": "creator:a.example", "keys": sorted(keys)},
                          "creator:a.example", keys)
    bad: list[Any] = [
        [], {"creatorId": "creator:a.example"},
        {"creatorId": "creator:b.example", "keys": sorted(keys)},
        {"creatorId": "creator:a.example", "keys": [A.public_id]},
        {"creatorId": "creator:a.example", "keys": [{}, [], A.public_id]},
    ]
    for document in bad:
        with pytest.raises(ValidationError):
            check_domain_document(document, "creator:a.example", keys)


def _register(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "action": "register", "creatorId": "creator:a", "deployment": HERE,
        "keys": [A.public_id], "recoveryKey": R.public_id, "issuedAt": NOW,
        "signatures": [{"key": A.public_id, "signature": "x"}],
    }
    obj.update(changes)
    return {k: v for k, v in obj.items() if v is not None}


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ([], None),
        ({"action": "delete"}, "action"),
        (_register(keys=[]), "keys"),
        (_register(creatorId="Bad Id"), "creatorId"),
        (_register(creatorId="creator:alice-"), "creatorId"),
        (_register(recoveryKey="nope"), "recoveryKey"),
        (_register(recoveryKey=None), "recoveryKey"),
        (_register(deployment=None), "deployment"),
        (_register(deployment="eip155:1:0xAB"), "deployment"),
        (_register(key=A.public_id), "key"),
        (
            {"action": "revoke-key", "creatorId": "creator:a", "deployment": HERE, "key": "nope",
             "issuedAt": NOW, "signatures": [{"key": "nope", "signature": "x"}]},
            "key",
        ),
        (
            {"action": "revoke-key", "creatorId": "creator:a", "deployment": HERE,
             "issuedAt": NOW, "signatures": []},
            "key",
        ),
    ],
    ids=["not-object", "unknown-action", "no-keys", "bad-id", "trailing-dash", "bad-recovery",
         "no-recovery", "no-deployment", "bad-deployment", "extra-member", "bad-key",
         "missing-key"],
)
def test_malformed_actions_name_the_field(obj: object, field: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(obj)
    assert caught.value.field == field


def test_a_v1_action_is_told_to_sign_v2() -> None:
    with pytest.raises(ValidationError) as caught:
        parse(_register(deployment=None))
    assert "ledger-creator-v1" in caught.value.message


def test_the_documented_example_verifies_and_is_reproduced() -> None:
    text = (Path(__file__).parents[3] / "docs" / "service.md").read_text()
    section = text[text.index("Example: `register` of `creator:alice`"):]
    example = json.loads(section.split("```json\n")[1].split("```")[0])
    payload = next(ln for ln in section.splitlines() if ln.startswith('{"action"')).encode()
    action = parse(example)
    action.verify(None)
    assert action.payload() == payload
    signing, recovery = P256SigningKey.from_secret(0xA11CE), P256SigningKey.from_secret(0x2EC0)
    assert sign_action(
        "register", "creator:alice", [signing.public_id], 1764806400000, [signing, recovery],
        deployment=deployment_id(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        recovery_key=recovery.public_id,
    ) == example
    assert key_derived_id(signing.public_id) in text
