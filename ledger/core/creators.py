"""Signed creator actions, the key hierarchy, and how a creator id is verified.

Each action is a JSON object signed (domain tag ``ledger-creator-v2``) over the
canonical bytes of everything but its ``signatures``; ``deployment`` names the service
it is meant for (`deployment_id`), so an action cannot be replayed on another one.
docs/service.md ("Creators") specifies the bytes; docs/security.md section 5 the rules.

- ``register``: ``keys`` (signing keys, 1..8) and ``recoveryKey`` (kept offline);
  every listed key signs, proving possession.
- ``add-key``: ``key``; signed by the new key and by a current signing key or the
  recovery key.
- ``revoke-key``: ``key``, a signing key; signed by a current signing key, or by the
  recovery key to revoke the last signing key.
- ``recover``: ``keys`` (new signing keys) and ``recoveryKey`` (new, or the current one
  again); signed by the current recovery key and every new key. It revokes every
  signing key the creator had and, when the recovery key changes, retires the old one.

So one stolen signing key can add keys and revoke others, but never the last signing
key nor the recovery key, and the recovery key undoes everything it did. Replays are
harmless: an action must be fresh (``issuedAt`` within `FRESHNESS_MS` of the service
clock) and for this deployment, registering twice conflicts, and a key a creator ever
had can never be added back.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.core.canonical import canonicalize
from ledger.core.fields import DEPLOYMENT, DEPLOYMENT_TEXT, Fields
from ledger.core.hashing import sha256
from ledger.core.manifest import check_creator_id, check_signing_key
from ledger.core.signing import SigningKey, sign_message, verify_message
from ledger.errors import SignatureError, ValidationError

CREATOR_TAG = "ledger-creator-v2"
#: Domain tag of a creator record's digest, so it never equals a manifest or usage digest.
RECORD_TAG = b"ledger-creator-record-v1\n"
FRESHNESS_MS = 10 * 60 * 1000
MAX_KEYS = 8
ACTIONS = ("register", "add-key", "revoke-key", "recover")

#: How an id is bound to its holder, decided by the id's shape (`verification_method`).
KEY, DOMAIN, OPERATOR = "key", "domain", "operator"
#: Key-derived ids: ``creator:k-`` and this many hex digits of SHA-256(first key id).
KEY_ID_PREFIX = "creator:k-"
KEY_ID_HEX = 32
#: Where a domain id's holder lists the id and its keys, under ``https://<domain>``.
WELL_KNOWN_PATH = "/.well-known/ledger-creator.json"

# A DNS name of two labels or more whose last label (the TLD) starts with a letter.
_DOMAIN = re.compile(
    r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
)
_COMMON = {"action", "creatorId", "deployment", "issuedAt", "signatures"}
_MEMBERS = {
    "register": _COMMON | {"keys", "recoveryKey"},
    "add-key": _COMMON | {"key"},
    "revoke-key": _COMMON | {"key"},
    "recover": _COMMON | {"keys", "recoveryKey"},
}


def deployment_id(chain_id: int, registry: str) -> str:
    """The deployment an action is bound to: ``eip155:<chainId>:<registry, lower-case>``
    (a CAIP-10 account id), built from what ``GET /v1/service`` reports."""
    return f"eip155:{chain_id}:{registry.lower()}"


def key_derived_id(first_key: str) -> str:
    """The id a creator registering `first_key` first may take without anyone's say."""
    return KEY_ID_PREFIX + sha256(first_key.encode()).hex()[:KEY_ID_HEX]


def verification_method(creator_id: str) -> str:
    """`KEY` for ``creator:k-…``, `DOMAIN` for an id with a dot, else `OPERATOR`."""
    name = creator_id.removeprefix("creator:")
    if creator_id.startswith(KEY_ID_PREFIX):
        return KEY
    return DOMAIN if "." in name else OPERATOR


def domain_of(creator_id: str) -> str:
    """The DNS name a domain id claims; ValidationError if the id is not one."""
    name = creator_id.removeprefix("creator:")
    if not _DOMAIN.fullmatch(name):
        raise ValidationError(
            "an id with a dot claims a DNS name (labels of a-z 0-9 -, a TLD starting "
            f"with a letter), and {name!r} is not one",
            field="creatorId",
        )
    return name


def check_domain_document(document: Any, creator_id: str, keys: Collection[str]) -> None:
    """Check a domain's ``/.well-known/ledger-creator.json``: it must name `creator_id`
    and list every key in `keys` (``{"creatorId": ..., "keys": [...]}``)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValidationError(
            f'the domain\'s {WELL_KNOWN_PATH} must be {{"creatorId": ..., "keys": [...]}}',
            field="creatorId",
        )
    if document.get("creatorId") != creator_id:
        raise ValidationError(
            f"the domain's {WELL_KNOWN_PATH} does not name {creator_id}", field="creatorId"
        )
    missing = sorted(set(keys) - {k for k in document["keys"] if isinstance(k, str)})
    if missing:
        raise ValidationError(
            f"the domain's {WELL_KNOWN_PATH} does not list {missing[0]}", field="creatorId"
        )


@dataclass(frozen=True)
class KeyState:
    """What the rules need to know of a registered creator's keys.

    ``recovery`` is None for a creator registered before recovery keys existed.
    ``used`` holds every key the creator ever had, in any role, revoked or not.
    """

    signing: frozenset[str]
    recovery: str | None
    used: frozenset[str]


@dataclass(frozen=True)
class CreatorAction:
    """A parsed, not yet verified, creator action.

    ``keys`` is the listed signing keys (register, recover) or the one ``key``
    (add-key, revoke-key); ``recovery_key`` is set for register and recover only.
    """

    action: str
    creator_id: str
    deployment: str
    keys: tuple[str, ...]
    recovery_key: str | None
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
        if "deployment" not in obj:
            raise ValidationError(
                f"is missing: sign {CREATOR_TAG} actions for this service's deployment "
                "(ledger-creator-v1 actions are no longer accepted)",
                field="deployment",
            )
        members = _MEMBERS[action]
        for name in sorted(members - set(obj)):
            raise ValidationError("is missing", field=name)
        for name in sorted(set(obj) - members):
            raise ValidationError(f"is not a member of a {action} action", field=name)
        fields = Fields(obj)
        deployment = fields.match("deployment", DEPLOYMENT, DEPLOYMENT_TEXT)
        listed = "keys" in members
        return cls(
            action=action,
            creator_id=check_creator_id(obj["creatorId"]),
            deployment=deployment,
            keys=_keys(obj["keys"]) if listed else (check_signing_key(obj["key"], "", "key"),),
            recovery_key=check_signing_key(obj["recoveryKey"], "", "recoveryKey")
            if listed
            else None,
            issued_at=fields.timestamp_ms("issuedAt", "milliseconds since the Unix epoch"),
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
            "deployment": self.deployment,
            "issuedAt": self.issued_at,
        }
        if self.recovery_key is None:
            obj["key"] = self.keys[0]
        else:
            obj["keys"] = list(self.keys)
            obj["recoveryKey"] = self.recovery_key
        return obj

    def check_context(self, now_ms: int, deployment: str) -> None:
        """Refuse an action for another deployment, or issued more than `FRESHNESS_MS`
        away from `now_ms` (stale or replayed)."""
        if self.deployment != deployment:
            raise ValidationError(
                f"is {self.deployment}, but this service is {deployment} "
                "(an action signed for another deployment)",
                field="deployment",
            )
        if abs(now_ms - self.issued_at) > FRESHNESS_MS:
            raise ValidationError(
                "is more than 10 minutes from the service clock (stale or replayed)",
                field="issuedAt",
            )

    def check_id(self) -> None:
        """At registration: a key-derived id must be the first key's, a domain id a DNS name."""
        method = verification_method(self.creator_id)
        if method == KEY and self.creator_id != key_derived_id(self.keys[0]):
            raise ValidationError(
                f"a {KEY_ID_PREFIX}… id is derived from the first key; "
                f"the first key's is {key_derived_id(self.keys[0])}",
                field="creatorId",
            )
        if method == DOMAIN:
            domain_of(self.creator_id)

    def verify(self, state: KeyState | None) -> None:
        """Check the signatures and key rules this action needs; `state` is the
        creator's keys, None when the creator is not registered."""
        signed = self._verified_signers()
        if self.action == "register":
            self._check_new_keys(frozenset())
            self._require(signed, self.listed_keys())
            return
        if state is None:
            raise ValidationError("is not a registered creator", field="creatorId")
        if self.action == "add-key":
            self._check_new_keys(state.used)
            self._require(signed, self.listed_keys())
            if not signed & (state.signing | {state.recovery}):
                raise SignatureError(
                    "not signed by a current signing key or the recovery key", field="signatures"
                )
        elif self.action == "revoke-key":
            _check_revoke(self.keys[0], signed, state)
        else:
            if state.recovery is None or state.recovery not in signed:
                raise SignatureError(
                    "recover must be signed by the creator's recovery key", field="signatures"
                )
            self._check_new_keys(state.used, keep=state.recovery)
            self._require(signed, self.listed_keys())

    def listed_keys(self) -> set[str]:
        """Every key the action brings in: its signing keys and recovery key."""
        return {*self.keys} if self.recovery_key is None else {*self.keys, self.recovery_key}

    def _check_new_keys(self, used: frozenset[str], *, keep: str | None = None) -> None:
        """Every key the action brings in must be new to the creator; a recover may
        keep the current recovery key (`keep`)."""
        if self.recovery_key is not None and self.recovery_key in self.keys:
            raise ValidationError(
                "must differ from every signing key (one stolen key must not be both)",
                field="recoveryKey",
            )
        for index, key in enumerate(self.keys):
            if key in used:
                field = "key" if self.recovery_key is None else f"keys[{index}]"
                raise ValidationError(
                    "was a key of this creator already (a key never returns)", field=field
                )
        if self.recovery_key != keep and self.recovery_key in used:
            raise ValidationError(
                "was a key of this creator already (a key never returns)", field="recoveryKey"
            )

    @staticmethod
    def _require(signed: set[str], needed: set[str]) -> None:
        missing = needed - signed
        if missing:
            raise SignatureError(f"not signed by {sorted(missing)[0]}", field="signatures")

    def _verified_signers(self) -> set[str]:
        payload = self.payload()
        for index, (key, signature) in enumerate(self.signatures):
            try:
                verify_message(CREATOR_TAG, payload, signature, key)
            except SignatureError as exc:
                raise SignatureError(exc.message, field=f"signatures[{index}]") from exc
        return {key for key, _ in self.signatures}


def record_digest(action: CreatorAction) -> bytes:
    """The digest an accepted action is anchored under: SHA-256(`RECORD_TAG` ‖ JCS(action))."""
    return sha256(RECORD_TAG + canonicalize(action.to_obj()))


def apply_action(state: KeyState | None, action: CreatorAction) -> KeyState:
    """The creator's keys after `action`, which `action.verify(state)` has accepted."""
    if action.action == "register" or state is None:
        assert action.recovery_key is not None  # from_obj requires it in a register
        return KeyState(frozenset(action.keys), action.recovery_key,
                        frozenset(action.listed_keys()))
    used = state.used | action.listed_keys()
    if action.action == "add-key":
        return KeyState(state.signing | {action.keys[0]}, state.recovery, used)
    if action.action == "revoke-key":
        return KeyState(state.signing - {action.keys[0]}, state.recovery, used)
    return KeyState(frozenset(action.keys), action.recovery_key, used)


def replay(actions: Sequence[CreatorAction]) -> KeyState:
    """The keys a creator holds after `actions`, in acceptance order, each checked
    against the keys before it (signatures and key rules); the first must be the
    register. Raises ValidationError or SignatureError naming ``[i].<member>``."""
    state: KeyState | None = None
    for index, action in enumerate(actions):
        if (index == 0) != (action.action == "register"):
            raise ValidationError(
                "must be the register action" if index == 0 else "registers the creator again",
                field=f"[{index}].action",
            )
        if action.creator_id != actions[0].creator_id:
            raise ValidationError(f"is not {actions[0].creator_id}", field=f"[{index}].creatorId")
        try:
            if index == 0:
                action.check_id()
            action.verify(state)
        except (ValidationError, SignatureError) as exc:
            raise type(exc)(exc.message, field=f"[{index}].{exc.field or 'action'}") from exc
        state = apply_action(state, action)
    if state is None:
        raise ValidationError("no creator record: nothing shows who holds the key")
    return state


def _check_revoke(key: str, signed: set[str], state: KeyState) -> None:
    if key == state.recovery:
        raise ValidationError(
            "is the recovery key: only a recover action signed by it replaces it", field="key"
        )
    by_recovery = state.recovery is not None and state.recovery in signed
    if not by_recovery and not signed & state.signing:
        raise SignatureError(
            "not signed by a current signing key or the recovery key", field="signatures"
        )
    if not by_recovery and state.signing == {key}:
        raise ValidationError(
            "is the last signing key: only the recovery key may revoke it", field="key"
        )


def sign_action(
    action: str,
    creator_id: str,
    keys: Sequence[str],
    issued_at: int,
    signers: Sequence[SigningKey],
    *,
    deployment: str,
    recovery_key: str | None = None,
) -> dict[str, Any]:
    """Build and sign an action object (what `ledger creator` and the demo send).

    `keys` is the signing keys of a register or recover, or the one key of an
    add-key or revoke-key; `recovery_key` is required for register and recover.
    """
    if (action in ("register", "recover")) != (recovery_key is not None):
        raise ValueError("recovery_key is for register and recover, and required there")
    unsigned = CreatorAction(
        action, creator_id, deployment, tuple(keys), recovery_key, issued_at, ()
    )
    payload = unsigned.payload()
    signatures = tuple((k.public_id, sign_message(CREATOR_TAG, payload, k)) for k in signers)
    return CreatorAction(
        action, creator_id, deployment, tuple(keys), recovery_key, issued_at, signatures
    ).to_obj()


def _keys(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_KEYS:
        raise ValidationError(f"must be a list of 1 to {MAX_KEYS} keys", field="keys")
    keys = tuple(check_signing_key(k, "keys", i) for i, k in enumerate(value))
    if len(set(keys)) != len(keys):
        raise ValidationError("must not repeat a key", field="keys")
    return keys


def _signatures(value: Any) -> tuple[tuple[str, str], ...]:
    limit = MAX_KEYS + 2  # the new keys, a new recovery key and the current one
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise ValidationError(f"must be a list of 1 to {limit} signatures", field="signatures")
    out = []
    for index, item in enumerate(value):
        where = f"signatures[{index}]"
        if not isinstance(item, dict) or set(item) != {"key", "signature"}:
            raise ValidationError('must be {"key": ..., "signature": ...}', field=where)
        if not isinstance(item["signature"], str):
            raise ValidationError("must be a string", field=f"{where}.signature")
        out.append((check_signing_key(item["key"], where, "key"), item["signature"]))
    return tuple(out)
