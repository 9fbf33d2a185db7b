"""Writes tests/vectors/usage.json; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_usage

Usage events (docs/proof-format.md, "Usage receipts"): each valid one with its
canonical bytes and digest; each invalid one a named mutation of the first
valid event, with the field the error must name and a fragment of its message.
Request MACs: a fixed key, source, timestamp and body with the header value.
Asset keys: ``assetKeyOf(owner, keccak256(assetId))`` as the splitter computes it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.core.hashing import to_hex
from ledger.core.royalty.auth import request_mac
from ledger.core.royalty.events import UsageEvent
from ledger.core.royalty.settlement import usage_root_of
from ledger.core.royalty.terms import asset_id_of, asset_key_of
from ledger.errors import LedgerError

OUT = Path(__file__).with_name("usage.json")

DESCRIPTION = [
    "Usage event vectors (see docs/proof-format.md, 'Usage receipts').",
    "valid: json parses; canonical is the RFC 8785 form that is stored and hashed;",
    "digest = sha256('ledger-usage-v1\\n' + canonical).",
    "invalid: json must be rejected with an error naming field whose message contains error;",
    "each is a named mutation of valid[0].",
    "macs: X-Ledger-Signature for secret (hex), source, timestamp and body.",
    "assetKeys: keccak256(abi.encode(owner, keccak256(utf8(assetId)))).",
    "usageRoots: the settlement key of part n of an anchored usage root.",
]

BASE: dict[str, Any] = {
    "eventId": "edge-1:000001",
    "buyer": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "asset": {
        "manifestDigest": "0x3eacbd7262572925ac62ae1e478db278239c9d47c1ee9ddfa74d61f906685658",
        "assetId": "asset:sunset-001",
    },
    "units": 1000,
    "time": "2025-06-01T12:00:00Z",
    "source": "edge-1",
}

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = obj
        for name in parents:
            target = target[name]
        target[last] = value
    return apply


def _drop(name: str) -> Mutation:
    return lambda obj: obj.pop(name)


MUTATIONS: list[tuple[str, Mutation]] = [
    ("units-negative", _set("units", -5)),
    ("units-zero", _set("units", 0)),
    ("units-huge", _set("units", 10**15)),
    ("units-float", _set("units", 2.5)),
    ("units-string", _set("units", "10")),
    ("units-bool", _set("units", True)),
    ("unit-unknown", _set("unit", "minute")),
    ("buyer-bad-checksum", _set("buyer", "0x70997970c51812dc3A010C7d01b50e0d17dc79C8")),
    ("buyer-short", _set("buyer", "0x1234")),
    ("asset-digest-upper", _set("asset.manifestDigest", "0x" + "AB" * 32)),
    ("asset-id-no-prefix", _set("asset.assetId", "sunset-001")),
    ("asset-extra-member", _set("asset.extra", 1)),
    ("time-not-utc", _set("time", "2025-06-01T12:00:00+02:00")),
    ("time-feb-30", _set("time", "2025-02-30T12:00:00Z")),
    ("event-id-empty", _set("eventId", "")),
    ("event-id-space", _set("eventId", "a b")),
    ("source-upper", _set("source", "Edge-1")),
    ("missing-units", _drop("units")),
    ("missing-buyer", _drop("buyer")),
    ("unknown-member", _set("price", 1)),
]


def _valid() -> list[dict[str, Any]]:
    lower = {**BASE, "eventId": "edge-1:000002", "buyer": BASE["buyer"].lower()}
    with_unit = {**BASE, "eventId": "job-7/epoch-3".replace("/", ":"), "units": 1,
                 "unit": "epoch", "time": "2025-06-01T12:00:00.250Z", "source": "trainer.7"}
    out = []
    for name, obj in (("base", BASE), ("buyer-lower-case", lower), ("unit-and-millis", with_unit)):
        event = UsageEvent.from_obj(obj)
        out.append({"name": name, "json": json.dumps(obj, indent=1),
                    "canonical": event.canonical().decode(), "digest": to_hex(event.digest()),
                    "timeMs": event.time_ms})
    return out


def _invalid() -> list[dict[str, Any]]:
    out = []
    for name, mutate in MUTATIONS:
        obj = copy.deepcopy(BASE)
        mutate(obj)
        try:
            UsageEvent.from_obj(obj)
        except LedgerError as exc:
            out.append({"name": name, "json": json.dumps(obj), "field": exc.field,
                        "error": exc.message})
            continue
        raise SystemExit(f"mutation {name} was accepted")
    return out


def _macs() -> list[dict[str, Any]]:
    secret = bytes(range(32))
    body = json.dumps({"events": [BASE]}).encode()
    return [{"secret": secret.hex(), "source": "edge-1", "timestamp": "1748779200",
             "body": body.decode(), "signature": request_mac(secret, "edge-1", "1748779200", body)}]


def _asset_keys() -> list[dict[str, Any]]:
    out = []
    for owner, asset in (("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "asset:sunset-001"),
                         ("0x0000000000000000000000000000000000000001", "asset:a")):
        aid = asset_id_of(asset)
        out.append({"owner": owner, "assetId": asset, "assetIdBytes32": to_hex(aid),
                    "assetKey": to_hex(asset_key_of(owner, aid))})
    return out


def main() -> None:
    root = bytes.fromhex("c211d9244b7732181052b79fe1382a77e237392153165f46a4e880d3c5c97e23")
    doc = {
        "description": DESCRIPTION,
        "valid": _valid(),
        "invalid": _invalid(),
        "macs": _macs(),
        "assetKeys": _asset_keys(),
        "usageRoots": [
            {"root": to_hex(root), "part": p, "usageRoot": to_hex(usage_root_of(root, p))}
            for p in (0, 1, 2)
        ],
    }
    OUT.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
