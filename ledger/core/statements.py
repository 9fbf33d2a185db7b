"""Lifecycle statements (``ledger-statement/1``): how a licence changes after anchoring.

A statement is a signed, canonical JSON object about assets of one manifest: the
creator revokes with notice, amends terms from a time, grants a buyer exclusivity, or
(the creator, or the operator for the person in the photo) withdraws consent; a third
party claims a takedown, the creator answers, the operator decides. Statements are
anchored in batches like manifests, so their existence is dated by the chain; what
they mean over time is `ledger.core.licence_status`. docs/lifecycle.md gives the bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import orjson

from ledger.core.assets import Asset
from ledger.core.canonical import canonicalize
from ledger.core.fields import ASSET_ID, DEPLOYMENT, DEPLOYMENT_TEXT, Fields, show
from ledger.core.hashing import sha256, to_hex
from ledger.core.manifest import check_signing_key
from ledger.core.signing import SigningKey, sign_message, verify_message
from ledger.errors import SignatureError, ValidationError

STATEMENT_VERSION = "ledger-statement/1"
#: Domain tag of the signature and the digest: no statement is ever a manifest, record
#: or usage event, nor signs as one.
STATEMENT_TAG = "ledger-statement-v1"

REVOKE, AMEND, GRANT = "revoke", "amend", "grant-exclusive"
WITHDRAW = "withdraw-consent"
TAKEDOWN, ANSWER, DECISION = "takedown", "takedown-answer", "takedown-decision"
TYPES = (REVOKE, AMEND, GRANT, WITHDRAW, TAKEDOWN, ANSWER, DECISION)
UPHELD, REJECTED = "upheld", "rejected"

#: Who may sign each type (`authorise`): the manifest's creator, the operator, anyone.
CREATOR, OPERATOR, ANYONE = "creator", "operator", "anyone"
SIGNERS: dict[str, frozenset[str]] = {
    REVOKE: frozenset({CREATOR}),
    AMEND: frozenset({CREATOR}),
    GRANT: frozenset({CREATOR}),
    WITHDRAW: frozenset({CREATOR, OPERATOR}),
    TAKEDOWN: frozenset({ANYONE}),
    ANSWER: frozenset({CREATOR}),
    DECISION: frozenset({OPERATOR}),
}

_COMMON = ("version", "type", "deployment", "issuedAt", "signer", "target", "signature")
_REQUIRED: dict[str, tuple[str, ...]] = {
    REVOKE: ("effectiveAt",),
    AMEND: ("effectiveAt", "terms"),
    GRANT: ("buyer", "licences", "start", "end", "irrevocable"),
    WITHDRAW: (),
    TAKEDOWN: ("grounds", "claimant"),
    ANSWER: ("case", "answer"),
    DECISION: ("case", "outcome"),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {WITHDRAW: ("reason",), DECISION: ("reason",)}
_TERMS = ("priceModel", "licenses", "payees")
_LICENCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:+_-]{0,127}")
_MAX_ASSETS = 1024
_MAX_TEXT = 2000


@dataclass(frozen=True)
class Target:
    """The assets a statement is about: some of one manifest's, or all (``asset_ids`` None)."""

    manifest_digest: bytes
    asset_ids: frozenset[str] | None

    def covers(self, manifest_digest: bytes, asset_id: str) -> bool:
        """Whether asset `asset_id` of manifest `manifest_digest` is a target."""
        return manifest_digest == self.manifest_digest and (
            self.asset_ids is None or asset_id in self.asset_ids)

    def to_obj(self) -> dict[str, Any]:
        """The ``target`` member."""
        obj: dict[str, Any] = {"manifestDigest": to_hex(self.manifest_digest)}
        if self.asset_ids is not None:
            obj["assetIds"] = sorted(self.asset_ids)
        return obj


@dataclass(frozen=True)
class Statement:
    """A parsed statement. ``obj`` is the whole object as signed; the typed members
    below are read from it (None where the type has no such member)."""

    obj: dict[str, Any]
    #: ``obj``'s canonical JSON, what the digest covers (kept: a digest is asked often).
    canonical: bytes = field(repr=False, compare=False)
    type: str
    deployment: str
    issued_at: int
    signer: str
    target: Target
    effective_at: int | None = None
    buyer: str | None = None
    licences: frozenset[str] | None = None
    start: int | None = None
    end: int | None = None
    irrevocable: bool = False
    case: bytes | None = None
    outcome: str | None = None

    @classmethod
    def from_obj(cls, obj: Any) -> Statement:
        """Read and check a statement's members (not its signature: `verify`);
        ValidationError names the first bad member."""
        return cls._read(obj, None)

    @classmethod
    def from_stored(cls, body: bytes) -> Statement:
        """A statement the service accepted and stored, from the canonical JSON it
        stored. Its members are checked as `from_obj` checks them, but `body` is taken
        as canonical (intake wrote it with `canonicalize`) and its signature is not
        verified (intake did): only for a service's own rows. Whoever replays statements
        from evidence uses `from_obj` and `verify`."""
        return cls._read(orjson.loads(body), body)

    @classmethod
    def _read(cls, obj: Any, canonical: bytes | None) -> Statement:
        if not isinstance(obj, dict):
            raise ValidationError("a statement must be a JSON object")
        fields = Fields(obj, got=True)
        if "type" not in obj:
            fields.fail("type", "is required")
        kind = fields.choice("type", TYPES)
        required = (*_COMMON, *_REQUIRED[kind])
        fields.check_members((*required, *_OPTIONAL.get(kind, ())), required)
        if obj["version"] != STATEMENT_VERSION:
            fields.fail("version", f'must be "{STATEMENT_VERSION}", got {show(obj["version"])}')
        fields.text("signature", 1024)
        if canonical is None:
            canonical = canonicalize(obj)
            obj = json.loads(canonical)
        return cls(
            obj=obj,
            canonical=canonical,
            type=kind,
            deployment=fields.match("deployment", DEPLOYMENT, DEPLOYMENT_TEXT),
            issued_at=fields.timestamp_ms("issuedAt"),
            signer=check_signing_key(obj["signer"], "", "signer"),
            target=_target(fields),
            **_typed(kind, fields),
        )

    def payload(self) -> bytes:
        """The canonical bytes the signature covers: everything but ``signature``."""
        return canonicalize({k: v for k, v in self.obj.items() if k != "signature"})

    def digest(self) -> bytes:
        """SHA-256(``"ledger-statement-v1\\n"`` ‖ JCS(statement)): what is anchored."""
        return sha256(STATEMENT_TAG.encode() + b"\n" + self.canonical)

    def verify(self) -> None:
        """Check the signature against ``signer``; SignatureError if it does not verify."""
        verify_message(STATEMENT_TAG, self.payload(), self.obj["signature"], self.signer)

    @property
    def terms(self) -> dict[str, Any] | None:
        """An amendment's new terms (a subset of priceModel, licenses, payees)."""
        terms = self.obj.get("terms")
        return dict(terms) if isinstance(terms, dict) else None


def authorise(statement: Statement, *, creator_keys: Collection[str], operator_key: str) -> None:
    """Check who signed: a current signing key of the manifest's creator (`creator_keys`,
    as the creator's records stand at ``issuedAt``), the operator's key, or anyone, as
    `SIGNERS` allows for the type. SignatureError otherwise."""
    allowed = SIGNERS[statement.type]
    if ANYONE in allowed:
        return
    if CREATOR in allowed and statement.signer in creator_keys:
        return
    if OPERATOR in allowed and statement.signer == operator_key:
        return
    who = " or ".join(sorted(allowed))
    raise SignatureError(f"a {statement.type} must be signed by the {who}'s key; "
                         f"{statement.signer} is not", field="signer")


def sign_statement(obj: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """`obj` (without ``signer`` and ``signature``) signed by `key`: what the CLI sends."""
    unsigned = {**obj, "version": STATEMENT_VERSION, "signer": key.public_id}
    unsigned.pop("signature", None)
    signature = sign_message(STATEMENT_TAG, canonicalize(unsigned), key)
    signed = {**unsigned, "signature": signature}
    Statement.from_obj(signed)
    return signed


def _target(fields: Fields) -> Target:
    target = fields.object("target", ("manifestDigest", "assetIds"), ("manifestDigest",))
    ids: frozenset[str] | None = None
    if "assetIds" in target:
        listed = target.array("assetIds", 1, _MAX_ASSETS)
        values = [listed.match(i, ASSET_ID, "an asset id: asset:<slug>")
                  for i in range(len(listed))]
        if values != sorted(set(values)):
            target.fail("assetIds", "must be sorted, each id once")
        ids = frozenset(values)
    return Target(target.hex_bytes("manifestDigest"), ids)


def _typed(kind: str, fields: Fields) -> dict[str, Any]:
    if kind in (REVOKE, AMEND):
        if kind == AMEND:
            _check_terms(fields)
        return {"effective_at": fields.timestamp_ms("effectiveAt")}
    if kind == GRANT:
        start, end = fields.timestamp_ms("start"), fields.timestamp_ms("end")
        if end <= start:
            fields.fail("end", "must be after start")
        scope = fields.array("licences", 1, 64)
        licences = [scope.match(i, _LICENCE_ID, "a licence id") for i in range(len(scope))]
        return {"buyer": fields.checksummed_address("buyer"), "licences": frozenset(licences),
                "start": start, "end": end, "irrevocable": fields.flag("irrevocable")}
    if kind == TAKEDOWN:
        fields.text("grounds", _MAX_TEXT)
        fields.text("claimant", _MAX_TEXT)
    elif kind == ANSWER:
        fields.text("answer", _MAX_TEXT)
        return {"case": fields.hex_bytes("case")}
    elif kind == DECISION:
        if "reason" in fields:
            fields.text("reason", _MAX_TEXT)
        return {"case": fields.hex_bytes("case"), "outcome": fields.choice("outcome",
                                                                            (UPHELD, REJECTED))}
    elif "reason" in fields:
        fields.text("reason", _MAX_TEXT)
    return {}


def _check_terms(fields: Fields) -> None:
    terms = fields.object("terms", _TERMS)
    if not len(terms):
        terms.fail(None, f"must change at least one of {', '.join(_TERMS)}")
    # New terms obey exactly the asset rules for these members: read them as an asset
    # that has them, so the rules live in one place (ledger.core.assets).
    probe = {"id": "asset:terms", "type": "application/octet-stream",
             "hash": "sha256:" + "0" * 64, "licenses": ["x"], **terms.value}
    Asset.from_obj(probe, "terms")


def check_deployment(statement: Statement, deployment: str) -> None:
    """ValidationError unless the statement was signed for `deployment`."""
    if statement.deployment != deployment:
        raise ValidationError(f"is {statement.deployment}, but this service is {deployment}",
                              field="deployment")
