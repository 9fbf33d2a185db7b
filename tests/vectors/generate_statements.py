"""Writes tests/vectors/statements.json and its keys; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_statements

Lifecycle statements (``ledger-statement/1``, docs/lifecycle.md, "The format, byte for
byte"): one signed statement of every type, by a P-256 and by an Ethereum key wherever
the type allows the creator, each with its canonical JSON, signing payload and digest;
and named mutations of a valid statement with the refusal they must meet. Keys are
fixed and signing is deterministic (RFC 6979), so regenerating gives the same bytes
unless the format changed (tests/unit/core/test_statement_vectors.py checks): a changed
digest means statements already anchored no longer match.

The script checks every case against ledger before writing, and stops if the outcome
is not the one declared here.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.core.canonical import canonicalize
from ledger.core.hashing import to_hex
from ledger.core.signing import EthSigningKey, P256SigningKey, SigningKey
from ledger.core.statements import STATEMENT_TAG, Statement, authorise, sign_statement
from ledger.errors import LedgerError
from ledger.keyfile import key_file_bytes, parse_key_file

HERE = Path(__file__).parent
OUT = HERE / "statements.json"
KEYS = HERE / "keys"

# Test keys only: they are public in this repository. The creator's are the manifest
# vectors' keys; the service key is the operator's (it signs decisions and snapshots).
CREATOR_P256 = parse_key_file((KEYS / "manifest-p256.pem").read_bytes())
CREATOR_ETH = parse_key_file((KEYS / "manifest-eth.json").read_bytes())
SERVICE_KEY = P256SigningKey.from_secret(0x6C6564676572_2D736572766963652D76)
CLAIMANT_ETH = EthSigningKey.from_hex(
    "0x" + hashlib.sha256(b"ledger test claimant key").hexdigest())
STRANGER_P256 = P256SigningKey.from_secret(0x6C6564676572_2D737472616E676572)
#: The files `main` writes, so that whoever checks the vectors can re-sign them.
KEY_FILES: dict[str, SigningKey] = {"service-p256.pem": SERVICE_KEY,
                                    "claimant-eth.json": CLAIMANT_ETH}

DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
MANIFEST = "0x" + hashlib.sha256(b"the manifest of the statement vectors").hexdigest()
T0 = 1_800_000_000_000
DAY_MS = 24 * 60 * 60 * 1000
BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BAD_CHECKSUM = "0x70997970c51812dc3A010C7d01b50e0d17dc79C8"

DESCRIPTION = [
    "Lifecycle statement vectors (ledger-statement/1, docs/lifecycle.md).",
    "creatorKeys: the manifest creator's current keys; operatorKey: the service key.",
    "valid: statement is the signed object as JSON text; canonical = JCS(statement);",
    "payload = JCS(statement without signature), what the signature covers under tag",
    "'ledger-statement-v1'; digest = 0x sha256('ledger-statement-v1\\n' + canonical).",
    "Each must read, verify and be authorised (signerRole: who may sign the type).",
    "invalid: a named mutation of the valid statement 'base' that must be refused at",
    "stage (read: the members; verify: the signature; authorise: who signed) with an",
    "error of this type naming field, whose message contains error.",
    "Keys: keys/manifest-p256.pem and keys/manifest-eth.json (creator), keys/service-p256.pem",
    "(operator), keys/claimant-eth.json (a third party); test keys only. Signing is",
    "deterministic, so re-signing a valid statement reproduces its signature.",
]


def _target(*asset_ids: str) -> dict[str, Any]:
    target: dict[str, Any] = {"manifestDigest": MANIFEST}
    if asset_ids:
        target["assetIds"] = sorted(asset_ids)
    return target


def _members() -> list[tuple[str, dict[str, Any]]]:
    """(signer role, unsigned members) per type, in the order of docs/lifecycle.md."""
    return [
        ("creator", {"type": "revoke", "target": _target("asset:photo-7"),
                     "effectiveAt": T0 + 30 * DAY_MS}),
        ("creator", {"type": "amend", "target": _target(), "effectiveAt": T0 + DAY_MS,
                     "terms": {"priceModel": {"type": "per-unit", "rate": 2.5,
                                              "currency": "USD"},
                               "licenses": ["training", "fine-tuning"]}}),
        ("creator", {"type": "grant-exclusive", "target": _target("asset:a", "asset:b"),
                     "buyer": BUYER, "licences": ["training"], "start": T0 + DAY_MS,
                     "end": T0 + 180 * DAY_MS, "irrevocable": True}),
        ("creator", {"type": "withdraw-consent", "target": _target("asset:photo-7"),
                     "reason": "Die abgebildete Person hat ihre Einwilligung widerrufen."}),
        ("operator", {"type": "withdraw-consent", "target": _target("asset:photo-7")}),
        ("anyone", {"type": "takedown", "target": _target("asset:photo-7"),
                    "grounds": "Copyright: this photo is mine (« Lumière », 2019) 📷",
                    "claimant": "Zoë Example <zoe@example.org>"}),
        ("creator", {"type": "takedown-answer", "target": _target("asset:photo-7"),
                     "case": "0x" + "c0" * 32, "answer": "I took this photo; RAW attached."}),
        ("operator", {"type": "takedown-decision", "target": _target("asset:photo-7"),
                      "case": "0x" + "c0" * 32, "outcome": "rejected",
                      "reason": "The creator showed the original files."}),
        ("operator", {"type": "takedown-decision", "target": _target("asset:photo-7"),
                      "case": "0x" + "c0" * 32, "outcome": "upheld"}),
    ]


def _keys_for(role: str) -> list[SigningKey]:
    if role == "creator":
        return [CREATOR_P256, CREATOR_ETH]
    if role == "operator":
        return [SERVICE_KEY]
    return [CREATOR_P256, CLAIMANT_ETH]


def _sign(members: dict[str, Any], key: SigningKey, issued_at: int = T0) -> dict[str, Any]:
    return sign_statement({**members, "deployment": DEPLOYMENT, "issuedAt": issued_at}, key)


def _check(obj: Any) -> Statement:
    statement = Statement.from_obj(obj)
    statement.verify()
    authorise(statement, creator_keys={CREATOR_P256.public_id, CREATOR_ETH.public_id},
              operator_key=SERVICE_KEY.public_id)
    return statement


def valid() -> list[dict[str, Any]]:
    """Every type signed by every key allowed for it, each checked by ledger."""
    out = []
    for role, members in _members():
        for key in _keys_for(role):
            signed = _sign(members, key)
            statement = _check(signed)
            scheme = key.public_id.split(":")[0]
            extra = f"-{members['outcome']}" if "outcome" in members else ""
            out.append({"name": f"{members['type']}{extra}-{role}-{scheme}", "signerRole": role,
                        "statement": json.dumps(signed, ensure_ascii=False),
                        "canonical": statement.canonical.decode(),
                        "payload": statement.payload().decode(),
                        "digest": to_hex(statement.digest())})
    return out


Mutation = Callable[[dict[str, Any]], dict[str, Any]]


def _set(name: str, value: Any) -> Mutation:
    return lambda obj: {**obj, name: value}


def _resigned(changes: dict[str, Any], key: SigningKey) -> Mutation:
    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        merged = {**obj, **changes}
        # A change to None drops the member (a type that has no such member).
        unsigned = {k: v for k, v in merged.items()
                    if k not in ("signer", "signature") and v is not None}
        return _sign(unsigned, key, obj["issuedAt"])
    return apply


def _drop(name: str) -> Mutation:
    return lambda obj: {k: v for k, v in obj.items() if k != name}


def _signature_of(key: SigningKey) -> Mutation:
    """The statement as it stands, its signature replaced by `key`'s over the same payload."""
    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj, "signature": _resigned({}, key)(obj)["signature"]}
    return apply


def _signed_over(mutate: Mutation) -> Mutation:
    """`mutate`, then a good signature by the creator over the result, so that the
    refusal is the reader's own, not the signature's."""
    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        unsigned = mutate({k: v for k, v in obj.items() if k != "signature"})
        signature = CREATOR_P256.sign_message(STATEMENT_TAG, canonicalize(unsigned))
        return {**unsigned, "signature": signature}
    return apply


#: (name, mutation of the base revoke, stage, error type, field)
MUTATIONS: list[tuple[str, Mutation, str, str, str | None]] = [
    ("tampered-effectiveAt", _set("effectiveAt", T0 + 31 * DAY_MS), "verify",
     "SignatureError", None),
    ("tampered-target-asset", _set("target", _target("asset:photo-8")), "verify",
     "SignatureError", None),
    ("tampered-issuedAt", _set("issuedAt", T0 - 1), "verify", "SignatureError", None),
    ("signature-by-another-key", _signature_of(STRANGER_P256), "verify", "SignatureError",
     None),
    ("signer-swapped-to-the-eth-key", _set("signer", CREATOR_ETH.public_id), "verify",
     "SignatureError", None),
    ("signed-by-a-third-party", _resigned({}, CLAIMANT_ETH), "authorise",
     "SignatureError", "signer"),
    ("decision-signed-by-the-creator", _resigned(
        {"type": "takedown-decision", "case": "0x" + "c0" * 32, "outcome": "upheld",
         "effectiveAt": None}, CREATOR_P256), "authorise", "SignatureError", "signer"),
    ("unknown-member", _signed_over(_set("note", "an extra member")), "read",
     "ValidationError", "note"),
    ("bad-type", _signed_over(_set("type", "suspend")), "read", "ValidationError", "type"),
    ("missing-type", _signed_over(_drop("type")), "read", "ValidationError", "type"),
    ("missing-effectiveAt", _signed_over(_drop("effectiveAt")), "read", "ValidationError",
     "effectiveAt"),
    ("bad-version", _signed_over(_set("version", "ledger-statement/2")), "read",
     "ValidationError", "version"),
    ("asset-ids-unsorted", _signed_over(_set("target", {
        "manifestDigest": MANIFEST, "assetIds": ["asset:b", "asset:a"]})), "read",
     "ValidationError", "target.assetIds"),
    ("effectiveAt-float", _signed_over(_set("effectiveAt", T0 + 0.5)), "read",
     "ValidationError", "effectiveAt"),
    ("grant-end-before-start", _signed_over(lambda obj: {
        **_drop("effectiveAt")(obj), "type": "grant-exclusive", "buyer": BUYER,
        "licences": ["training"], "start": T0 + 2, "end": T0 + 1, "irrevocable": False}),
     "read", "ValidationError", "end"),
    ("grant-buyer-not-checksummed", _signed_over(lambda obj: {
        **_drop("effectiveAt")(obj), "type": "grant-exclusive", "buyer": BAD_CHECKSUM,
        "licences": ["training"], "start": T0, "end": T0 + 1, "irrevocable": False}),
     "read", "ValidationError", "buyer"),
    ("decision-outcome-unknown", _signed_over(lambda obj: {
        **_drop("effectiveAt")(obj), "type": "takedown-decision", "case": "0x" + "c0" * 32,
        "outcome": "dismissed"}), "read", "ValidationError", "outcome"),
]


def _base() -> dict[str, Any]:
    return _sign(_members()[0][1], CREATOR_P256)


def _refusal(obj: dict[str, Any]) -> tuple[str, LedgerError]:
    stage = "read"
    try:
        statement = Statement.from_obj(obj)
        stage = "verify"
        statement.verify()
        stage = "authorise"
        _check(obj)
    except LedgerError as exc:
        return stage, exc
    raise SystemExit(f"accepted: {json.dumps(obj)}")


def invalid() -> list[dict[str, Any]]:
    """Each mutation of the base statement, refused where and as declared."""
    out = []
    for name, mutate, stage, error_type, field in MUTATIONS:
        obj = mutate(copy.deepcopy(_base()))
        got_stage, exc = _refusal(obj)
        if (got_stage, type(exc).__name__) != (stage, error_type) or (
                field is not None and exc.field != field):
            raise SystemExit(f"{name}: refused at {got_stage} with {exc!r}")
        out.append({"name": name, "base": "revoke-creator-p256",
                    "statement": json.dumps(obj, ensure_ascii=False),
                    "expected": {"stage": stage, "type": error_type, "field": exc.field,
                                 "error": exc.message}})
    return out


def render() -> str:
    """The vector file's text."""
    doc = {"description": DESCRIPTION,
           "creatorKeys": [CREATOR_P256.public_id, CREATOR_ETH.public_id],
           "operatorKey": SERVICE_KEY.public_id,
           "valid": valid(), "invalid": invalid()}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def key_files() -> dict[Path, bytes]:
    """The key files the vectors name, by path."""
    return {KEYS / name: key_file_bytes(key) for name, key in KEY_FILES.items()}


def main() -> None:
    """Check every case against ledger, then write the vectors and the keys."""
    for path, data in key_files().items():
        path.write_bytes(data)
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
