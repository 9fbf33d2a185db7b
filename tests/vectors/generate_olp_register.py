"""Writes tests/vectors/olp_register.json; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_olp_register

An OLP client registration (docs/web-licensing.md, "Registration"), version 2: the body
a buyer posts, the canonical bytes its wallet signs, every intermediate hash of the
EIP-712 ``LedgerMessage`` and the signature, by anvil's account #1 (a published test
key). Then named mutations whose signature must not recover the wallet, and the
``server`` normalisation rule as input → normalised (null: refused).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ledger.core.canonical import canonicalize
from ledger.core.hashing import keccak256, to_hex
from ledger.core.rsl import REGISTER_TAG, audience
from ledger.core.signing import EthSigningKey, sign_message
from ledger.errors import ValidationError

OUT = Path(__file__).with_name("olp_register.json")
EVIL = "https://evil.example/olp"
#: Anvil's account #1 (from its published test mnemonic): never a real wallet.
PRIVATE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"

DESCRIPTION = [
    "OLP client registration v2 (docs/web-licensing.md, 'Registration').",
    "payload: the RFC 8785 canonical JSON of body without signature (UTF-8 bytes).",
    "contentHash = keccak256(payload); typeHash = keccak256('LedgerMessage(string tag,"
    "bytes32 contentHash)');",
    "domainSeparator = keccak256(keccak256('EIP712Domain(string name,string version)') ||"
    " keccak256('ledger') || keccak256('1'));",
    "structHash = keccak256(typeHash || keccak256(tag) || contentHash);",
    "digest = keccak256(0x1901 || domainSeparator || structHash);",
    "signature = 'eip712:0x' || r || s || v (v 27 or 28, low s), recovering wallet.",
    "mutations: each body's signature must not recover wallet (under the mutation's tag).",
    "relayed: signed by wallet for another server: the signature recovers wallet, and "
    "only the audience check refuses it.",
    "audience: server as sent -> as compared (null: refused).",
]

BODY: dict[str, Any] = {
    "wallet": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "name": "example-crawler",
    "issuedAt": 1767225600000,
    "server": "https://ledger.example/olp",
}

SERVERS = [
    "https://ledger.example/olp", "https://ledger.example/olp/", "HTTPS://Ledger.Example/olp",
    "http://127.0.0.1:8080/olp//", "https://ledger.example/OLP", "https://ledger.example",
    "https://ledger.example/", "https://ledger.example:443/olp",
    "https://ledger.example/olp?x=1", "https://ledger.example/olp#x",
    "https://user@ledger.example/olp", "ftp://ledger.example/olp", "https:///olp",
    "https://ledger.example/o lp", "https://lédger.example/olp", "ledger.example/olp",
]


def _hex(data: bytes) -> str:
    return to_hex(data)


def _signed(body: dict[str, Any], key: EthSigningKey) -> dict[str, Any]:
    return {**body, "signature": sign_message(REGISTER_TAG, canonicalize(body), key)}


def _mutations(signed: dict[str, Any], key: EthSigningKey) -> list[dict[str, Any]]:
    """Named mutations of the signed body ``signed``, each refused by its signature."""
    relayed = _signed({**BODY, "server": EVIL}, key)
    unsigned_v1 = {k: v for k, v in signed.items() if k != "server"}
    return [
        {"name": "server-swapped", "tag": REGISTER_TAG, "body": {**relayed, "server":
                                                                 BODY["server"]},
         "note": f"signed for {EVIL}, then server replaced by ours"},
        {"name": "server-removed", "tag": REGISTER_TAG, "body": unsigned_v1},
        {"name": "name-changed", "tag": REGISTER_TAG, "body": {**signed, "name": "other"}},
        {"name": "retired-tag", "tag": "olp-register", "body": signed,
         "note": "the v2 signature read as a version 1 (olp-register) message"},
    ]


def _audience(server: str) -> str | None:
    try:
        return audience(server)
    except ValidationError:
        return None


def build() -> dict[str, Any]:
    """The vector file's content."""
    key = EthSigningKey.from_hex(PRIVATE_KEY)
    assert key.public_id == "eth:" + BODY["wallet"]
    payload = canonicalize(BODY)
    type_hash = keccak256(b"LedgerMessage(string tag,bytes32 contentHash)")
    domain = keccak256(keccak256(b"EIP712Domain(string name,string version)")
                       + keccak256(b"ledger") + keccak256(b"1"))
    struct = keccak256(type_hash + keccak256(REGISTER_TAG.encode()) + keccak256(payload))
    body = _signed(BODY, key)
    signature = body["signature"]
    return {
        "description": DESCRIPTION,
        "privateKey": PRIVATE_KEY,
        "tag": REGISTER_TAG,
        "body": body,
        "payload": payload.decode(),
        "contentHash": _hex(keccak256(payload)),
        "typeHash": _hex(type_hash),
        "domainSeparator": _hex(domain),
        "structHash": _hex(struct),
        "digest": _hex(keccak256(b"\x19\x01" + domain + struct)),
        "signature": signature,
        "mutations": _mutations(body, key),
        "relayed": {"body": _signed({**BODY, "server": EVIL}, key), "note": "the attack: "
                    "a good signature by wallet, for another server; refused by audience"},
        "audience": [[server, _audience(server)] for server in SERVERS],
    }


def main() -> None:
    """Write the file."""
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
