"""Signed creator key management: register, add a key, revoke a key.

Each action is a JSON object signed (domain tag ``ledger-creator-v1``) over the
canonical bytes of everything but its ``signatures``:

- ``register``: ``keys`` (1..8); every listed key signs, proving possession.
- ``add-key``: ``key``; signed by a current key of the creator *and* by the new key.
- ``revoke-key``: ``key``; signed by any current key (the revoked one included).

Replays are harmless by construction: an action must be fresh (``issuedAt``
within `FRESHNESS_MS` of the service clock), registering twice conflicts, and a
revoked key can never be added back.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.core.canonical import canonicalize
from ledger.core.manifest import check_signing_key
from ledger.core.signing import SigningKey, sign_message, verify_message
from ledger.errors import SignatureError, ValidationError

CREATOR_TAG = "ledger-creator-v1"
FRESHNESS_MS = 10 * 60 * 1000
MAX_KEYS = 8
ACTIONS = ("register", "add-key", "revoke-key")

_CREATOR_ID = re.compile(r"creator:[a-z0-9][a-z0-9._-]{0,99}")
_MEMBERS = {
    "register": {"action", "creatorId", "keys", "issuedAt", "signatures"},
    "add-key": {"action", "creatorId", "key", "issuedAt", "signatures"},
    "revoke-key": {"action", "creatorId", "key", "issuedAt", "signatures"},
}


@dataclass(frozen=True)
class CreatorAction:
    """A parsed, not yet verified, creator action."""

    action: str
    creator_id: str
    keys: tuple[str, ...]
    issued_at: int
    signatures: tuple[tuple[str, str], ...]

    @classmethod
    def from_obj(cls, obj: Any) -> CreatorAction:
        """Validate a parsed action; ValidationError names the bad member."""
        if not isinstance(obj, dict):
            raise ValidationError("a creator action must be a JSON object")
        action = obj.get("action")
        if action not in ACTIONS:
            raise ValidationError(f"must be one of {', '.join(ACTIONS)}", field="action")
        members = _MEMBERS[action]
        for name in sorted(members - set(obj)):
            raise ValidationError("is missing", field=name)
        for name in sorted(set(obj) - members):
            raise ValidationError(f"is not a member of a {action} action", field=name)
        creator_id = obj["creatorId"]
        if not isinstance(creator_id, str) or not _CREATOR_ID.fullmatch(creator_id):
            raise ValidationError('must be "creator:" and a lower-case slug', field="creatorId")
        return cls(
            action=action,
            creator_id=creator_id,
            keys=_keys(obj["keys"]) if action == "register" else (_key(obj["key"], "key"),),
            issued_at=_issued_at(obj["issuedAt"]),
            signatures=_signatures(obj["signatures"]),
        )

    def to_obj(self) -> dict[str, Any]:
        """The action as a JSON object (`from_obj` inverts it)."""
        obj = self._unsigned()
        obj["signatures"] = [{"key": k, "signature": s} for k, s in self.signatures]
        return obj

    def payload(self) -> bytes:
        """The canonical bytes every signature covers."""
        return canonicalize(self._unsigned())

    def _unsigned(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "action": self.action,
            "creatorId": self.creator_id,
            "issuedAt": self.issued_at,
        }
        if self.action == "register":
            obj["keys"] = list(self.keys)
        else:
            obj["key"] = self.keys[0]
        return obj

    def check_fresh(self, now_ms: int) -> None:
        """Refuse an action issued more than `FRESHNESS_MS` away from `now_ms`."""
        if abs(now_ms - self.issued_at) > FRESHNESS_MS:
            raise ValidationError(
                "is more than 10 minutes from the service clock (stale or replayed)",
                field="issuedAt",
            )

    def verify(self, current_keys: Collection[str], *, revoked: Collection[str] = ()) -> None:
        """Check the signatures this action needs, given the creator's current keys."""
        signed = self._verified_signers()
        if self.action == "register":
            needed, authority = set(self.keys), None
        elif self.action == "add-key":
            if self.keys[0] in revoked:
                raise ValidationError("a revoked key cannot be added again", field="key")
            needed, authority = {self.keys[0]}, current_keys
        else:
            needed, authority = set(), current_keys
        missing = needed - signed
        if missing:
            raise SignatureError(f"not signed by {sorted(missing)[0]}", field="signatures")
        if authority is not None and not signed & set(authority):
            raise SignatureError("not signed by a current key of the creator", field="signatures")

    def _verified_signers(self) -> set[str]:
        payload = self.payload()
        for index, (key, signature) in enumerate(self.signatures):
            try:
                verify_message(CREATOR_TAG, payload, signature, key)
            except SignatureError as exc:
                raise SignatureError(exc.message, field=f"signatures[{index}]") from exc
        return {key for key, _ in self.signatures}


def sign_action(
    action: str, creator_id: str, keys: Sequence[str], issued_at: int, signers: Sequence[SigningKey]
) -> dict[str, Any]:
    """Build and sign an action object (what `ledger creator` and the demo send)."""
    unsigned = CreatorAction(action, creator_id, tuple(keys), issued_at, ())
    payload = unsigned.payload()
    signatures = tuple((k.public_id, sign_message(CREATOR_TAG, payload, k)) for k in signers)
    return CreatorAction(action, creator_id, tuple(keys), issued_at, signatures).to_obj()


def _keys(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_KEYS:
        raise ValidationError(f"must be a list of 1 to {MAX_KEYS} keys", field="keys")
    keys = tuple(_key(k, f"keys[{i}]") for i, k in enumerate(value))
    if len(set(keys)) != len(keys):
        raise ValidationError("must not repeat a key", field="keys")
    return keys


def _key(value: Any, field: str) -> str:
    try:
        return check_signing_key(value)
    except ValidationError as exc:
        raise ValidationError(exc.message, field=field) from exc


def _issued_at(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise ValidationError("must be milliseconds since the Unix epoch", field="issuedAt")
    return value


def _signatures(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_KEYS + 1:
        raise ValidationError(
            f"must be a list of 1 to {MAX_KEYS + 1} signatures", field="signatures"
        )
    out = []
    for index, item in enumerate(value):
        where = f"signatures[{index}]"
        if not isinstance(item, dict) or set(item) != {"key", "signature"}:
            raise ValidationError('must be {"key": ..., "signature": ...}', field=where)
        if not isinstance(item["signature"], str):
            raise ValidationError("must be a string", field=f"{where}.signature")
        out.append((_key(item["key"], f"{where}.key"), item["signature"]))
    return tuple(out)
