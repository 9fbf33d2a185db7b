"""Writes tests/vectors/manifests.json and its keys; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_manifests

Every case is a manifest as JSON text (``manifestBase64`` for raw bytes) with
either the expected digest and SHA-256 of the signing payload U, or the error
type and field it must be rejected with. Negative cases are named mutations of
a valid manifest. Keys are fixed (P-256 scalar, Ethereum hex) and signing is
deterministic, so regenerating gives the same file unless the format changed:
a changed digest means proofs already anchored no longer match.

The script checks each case against ledger before writing, and stops if the
outcome is not the one declared here.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ledger.core.manifest import Manifest
from ledger.core.signing import (
    P256_ORDER,
    SECP256K1_ORDER,
    EthSigningKey,
    P256SigningKey,
    SigningKey,
    manifest_typed_data,
    sign_manifest,
    verify_manifest,
)
from ledger.errors import LedgerError
from ledger.keyfile import key_file_bytes

HERE = Path(__file__).parent
OUT = HERE / "manifests.json"
P256_KEY_FILE = HERE / "keys" / "manifest-p256.pem"
ETH_KEY_FILE = HERE / "keys" / "manifest-eth.json"

# Test keys only: they are public in this repository.
P256_SECRET = 0x6C6564676572_2D746573742D_6B65792D31
ETH_SECRET = "0x" + hashlib.sha256(b"ledger test eth key 1").hexdigest()
OTHER_P256_SECRET = 0x6C6564676572_2D746573742D_6B65792D32
OTHER_ETH_SECRET = "0x" + hashlib.sha256(b"ledger test eth key 2").hexdigest()

DESCRIPTION = [
    "Manifest vectors (format 1.0, see docs/manifest.md).",
    "manifest: the document as JSON text (manifestBase64: raw bytes, for encoding cases).",
    "expected: digest = 0x sha256(JCS(manifest)); signingPayloadSha256 = 0x sha256(U),",
    "U = JCS(manifest without signature). The manifest must parse, validate and verify.",
    "error: the manifest must be rejected (parse, validate, or verify) with this error",
    "type and field (null: no JSON path, e.g. a syntax error).",
    "Keys: keys/manifest-p256.pem and keys/manifest-eth.json (test keys only); signing",
    "is deterministic, so re-signing a valid case reproduces its signature.",
]


def minimal(key: SigningKey) -> dict[str, Any]:
    """The smallest valid unsigned manifest."""
    return {
        "manifestVersion": "1.0",
        "creator": {"id": "creator:alice", "signingKey": key.public_id, "wallet": "stripe:acct_1"},
        "assets": [
            {
                "id": "asset:photo-001",
                "type": "image/jpeg",
                "hash": "sha256:" + hashlib.sha256(b"photo-001").hexdigest(),
                "licenses": ["non-exclusive-training"],
            }
        ],
    }


def rich(key: SigningKey) -> dict[str, Any]:
    """An unsigned manifest using every member, non-ASCII text and awkward numbers."""
    return {
        "manifestVersion": "1.0",
        "createdAt": "2026-01-12T09:30:00Z",
        "creator": {
            "id": "creator:zoe-studio",
            "signingKey": key.public_id,
            "wallet": "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
            "payout": "stripe:acct_123abc",
            "name": "Zoë Studio 📷",
        },
        "assets": [
            {
                "id": "asset:photo-20260112-001",
                "type": "image/jpeg",
                "url": "https://cdn.example.com/r2/asset-123.jpg",
                "hash": "sha256:" + hashlib.sha256(b"asset-123").hexdigest(),
                "captureDate": "2025-11-02T14:22:00Z",
                "licenses": [
                    "non-exclusive-training",
                    {
                        "id": "CNTRL-TRAIN-2026-v1",
                        "url": "https://licenses.example.com/cntrl-train-2026-v1",
                        "attribution": "Photo: Zoë Studio",
                    },
                ],
                "priceModel": {
                    "type": "royalty",
                    "rate": 0.05,
                    "currency": "USD",
                    "minPayout": 10,
                    "unit": "1k-samples",
                    "amount": "1000000000000000",
                    "token": "ETH",
                },
                "payees": [
                    {
                        "account": "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
                        "shareBps": 7000,
                        "role": "creator",
                    },
                    {
                        "account": "0xab5801a7d398351b8be11c439e05c5b3259aec9b",
                        "shareBps": 2000,
                        "role": "co-creator",
                    },
                    {
                        "account": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                        "shareBps": 1000,
                        "role": "marketplace",
                    },
                ],
                "consent": {
                    "modelRelease": "https://cdn.example.com/r2/releases/release-123.pdf",
                    "propertyRelease": "on file: PR-2025-77",
                    "piiRedacted": True,
                },
                "privacy": {"faces": True, "minors": False, "biometric": False, "pii": False},
                "attribution": "© 2025 Zoë Studio",
                "tags": ["outdoor", "portrait", "golden-hour", "日本", "🌅"],
                "extensions": {
                    "camera": {"model": "X-100", "iso": 200, "exposure": 0.004},
                    "\ue000": "private-use key",
                    "😀": "non-BMP key",
                },
            },
            {
                "id": "asset:clip-7",
                "type": "video/mp4",
                "url": "r2://media-bucket/clips/clip-7.mp4",
                "hash": "sha256:" + hashlib.sha256(b"clip-7").hexdigest(),
                "licenses": [{"id": "cc-by-4.0"}],
                "priceModel": {
                    "type": "per-unit",
                    "rate": 1e-7,
                    "currency": "ETH",
                    "unit": "sample",
                    "amount": "100000000000",
                    "token": "0x6B175474E89094C44Da98b954EedeAC495271d0F",
                },
                "privacy": {},
                "tags": [],
            },
            {
                "id": "asset:notes.txt",
                "type": "text/plain",
                "hash": "sha256:" + hashlib.sha256(b"notes").hexdigest(),
                "licenses": ["LicenseRef-ledger-training"],
                "priceModel": {"type": "subscription", "rate": 1e21, "currency": "USDC"},
                "consent": {},
            },
        ],
        "extensions": {"numbers": [1.5, 100, -0.0, 1e-6, 123456789012], "note": "tab\there"},
    }


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def signed(obj: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    return sign_manifest(obj, key)


def with_signature(obj: dict[str, Any], signature: str) -> dict[str, Any]:
    return {**obj, "signature": signature}


def edit(obj: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    change(result)
    return result


def set_in(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        target: Any = obj
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def delete_in(path: tuple[str | int, ...]) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        target: Any = obj
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


def p256_high_s(signature: str) -> str:
    r, s = decode_dss_signature(base64.b64decode(signature.removeprefix("p256ecdsa:")))
    return "p256ecdsa:" + base64.b64encode(encode_dss_signature(r, P256_ORDER - s)).decode()


def p256_padded_r(signature: str) -> str:
    """The same (r, s) with a needless 0x00 before r: valid BER, not strict DER."""
    r, s = decode_dss_signature(base64.b64decode(signature.removeprefix("p256ecdsa:")))

    def integer(value: int, pad: bool) -> bytes:
        body = value.to_bytes((value.bit_length() + 8) // 8, "big")
        body = b"\x00" + body if pad and body[0] != 0 else body
        return b"\x02" + bytes([len(body)]) + body

    content = integer(r, True) + integer(s, False)
    return "p256ecdsa:" + base64.b64encode(b"\x30" + bytes([len(content)]) + content).decode()


def p256_loose_base64(signature: str) -> str:
    """Same bytes, but with non-zero padding bits in the last base64 character."""
    text = signature.removeprefix("p256ecdsa:")
    if not text.endswith("="):
        raise SystemExit("loose base64 needs a padded signature; change the key or manifest")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stem = text.rstrip("=")
    last = alphabet[alphabet.index(stem[-1]) | 1]
    return "p256ecdsa:" + stem[:-1] + last + text[len(stem) :]


def eth_high_s(signature: str) -> str:
    raw = bytes.fromhex(signature.removeprefix("eip712:0x"))
    s = SECP256K1_ORDER - int.from_bytes(raw[32:64], "big")
    return "eip712:0x" + (raw[:32] + s.to_bytes(32, "big") + bytes([55 - raw[64]])).hex()


def eth_bad_v(signature: str) -> str:
    return signature[:-2] + "1d"


def flip_bit(signature: str, bit: int) -> str:
    prefix, _, body = signature.partition(":")
    if prefix == "eip712":
        raw = bytearray(bytes.fromhex(body[2:]))
        raw[bit // 8] ^= 1 << (bit % 8)
        return "eip712:0x" + raw.hex()
    raw = bytearray(base64.b64decode(body))
    raw[bit // 8] ^= 1 << (bit % 8)
    return "p256ecdsa:" + base64.b64encode(bytes(raw)).decode()


def cases() -> list[dict[str, Any]]:
    p256 = P256SigningKey.from_secret(P256_SECRET)
    eth = EthSigningKey.from_hex(ETH_SECRET)
    other_p256 = P256SigningKey.from_secret(OTHER_P256_SECRET)
    other_eth = EthSigningKey.from_hex(OTHER_ETH_SECRET)

    rich_p256 = signed(rich(p256), p256)
    rich_eth = signed(rich(eth), eth)
    small_p256 = signed(minimal(p256), p256)
    small_eth = signed(minimal(eth), eth)
    text = pretty(rich_p256)

    valid: list[tuple[str, str, str | bytes]] = [
        ("minimal-p256", "smallest valid manifest, P-256", pretty(small_p256)),
        ("minimal-eth", "smallest valid manifest, Ethereum EIP-712", pretty(small_eth)),
        ("rich-p256", "every member, non-ASCII text, awkward numbers; P-256", text),
        ("rich-eth", "every member, non-ASCII text, awkward numbers; EIP-712", pretty(rich_eth)),
        (
            "rich-p256-compact-escaped",
            "rich-p256 written compactly, members reversed, non-ASCII as \\u escapes: same digest",
            json.dumps(_reverse(rich_p256), separators=(",", ":"), ensure_ascii=True),
        ),
    ]
    asset = ("assets", 0)
    bad: list[tuple[str, str | bytes, str, str | None]] = [
        # Not canonicalisable JSON.
        (
            "duplicate-key",
            text.replace('"type": "image/jpeg",', '"type": "image/jpeg", "type": "image/png",'),
            "CanonicalJSONError",
            "assets[0].type",
        ),
        (
            "lone-surrogate",
            text.replace('"outdoor"', '"\\ud800outdoor"'),
            "CanonicalJSONError",
            "assets[0].tags[0]",
        ),
        (
            "number-precision-loss",
            text.replace('"rate": 0.05', '"rate": 0.05000000000000000001'),
            "CanonicalJSONError",
            "assets[0].priceModel.rate",
        ),
        (
            "integer-precision-loss",
            text.replace('"shareBps": 7000', '"shareBps": 9007199254740993'),
            "CanonicalJSONError",
            "assets[0].payees[0].shareBps",
        ),
        (
            "number-overflow",
            text.replace('"minPayout": 10', '"minPayout": 1e400'),
            "CanonicalJSONError",
            "assets[0].priceModel.minPayout",
        ),
        (
            "nan",
            text.replace('"rate": 0.05', '"rate": NaN'),
            "CanonicalJSONError",
            "assets[0].priceModel.rate",
        ),
        (
            "too-deep",
            text.replace('"iso": 200', '"iso": ' + "[" * 60 + "]" * 60),
            "CanonicalJSONError",
            "assets[0].extensions.camera.iso" + "[0]" * 59,
        ),
        ("bom", b"\xef\xbb\xbf" + text.encode(), "CanonicalJSONError", None),
        (
            "invalid-utf8",
            text.encode().replace(b"golden-hour", b"golden\xff-hour"),
            "CanonicalJSONError",
            None,
        ),
        ("trailing-garbage", text + "{}", "CanonicalJSONError", None),
        ("truncated", text[: len(text) // 2], "CanonicalJSONError", None),
        # Valid JSON, invalid manifest.
        ("unknown-field", pretty({**rich_p256, "colour": "red"}), "ValidationError", "colour"),
        (
            "unknown-asset-field",
            pretty(edit(rich_p256, set_in((*asset, "colour"), "red"))),
            "ValidationError",
            "assets[0].colour",
        ),
        (
            "unknown-extension-is-fine-but-tampers",
            pretty(edit(rich_p256, set_in((*asset, "extensions", "colour"), "red"))),
            "SignatureError",
            "signature",
        ),
        ("missing-signature", pretty(rich(p256)), "ValidationError", "signature"),
        (
            "missing-signing-key",
            pretty(edit(rich_p256, delete_in(("creator", "signingKey")))),
            "ValidationError",
            "creator.signingKey",
        ),
        (
            "wrong-version",
            pretty(edit(rich_p256, set_in(("manifestVersion",), "1.1"))),
            "ValidationError",
            "manifestVersion",
        ),
        (
            "version-as-number",
            text.replace('"manifestVersion": "1.0"', '"manifestVersion": 1.0'),
            "ValidationError",
            "manifestVersion",
        ),
        (
            "uppercase-hash",
            pretty(
                edit(
                    rich_p256,
                    set_in(
                        (*asset, "hash"),
                        rich_p256["assets"][0]["hash"].upper().replace("SHA256", "sha256"),
                    ),
                )
            ),
            "ValidationError",
            "assets[0].hash",
        ),
        (
            "short-hash",
            pretty(edit(rich_p256, set_in((*asset, "hash"), "sha256:3a"))),
            "ValidationError",
            "assets[0].hash",
        ),
        (
            "duplicate-asset-id",
            pretty(edit(rich_p256, set_in(("assets", 2, "id"), "asset:photo-20260112-001"))),
            "ValidationError",
            "assets[2].id",
        ),
        (
            "no-assets",
            pretty(edit(rich_p256, set_in(("assets",), []))),
            "ValidationError",
            "assets",
        ),
        (
            "no-licenses",
            pretty(edit(rich_p256, set_in((*asset, "licenses"), []))),
            "ValidationError",
            "assets[0].licenses",
        ),
        (
            "bad-license-object",
            pretty(
                edit(
                    rich_p256, set_in((*asset, "licenses", 1, "url"), "http://insecure.example.com")
                )
            ),
            "ValidationError",
            "assets[0].licenses[1].url",
        ),
        (
            "payee-shares-not-10000",
            pretty(edit(rich_p256, set_in((*asset, "payees", 2, "shareBps"), 999))),
            "ValidationError",
            "assets[0].payees",
        ),
        (
            "duplicate-payee-account",
            pretty(
                edit(
                    rich_p256,
                    set_in(
                        (*asset, "payees", 1, "account"),
                        "0x8ba1f109551bd432803012645ac136ddd64dba72",
                    ),
                )
            ),
            "ValidationError",
            "assets[0].payees[1].account",
        ),
        (
            "payee-bad-checksum",
            pretty(
                edit(
                    rich_p256,
                    set_in(
                        (*asset, "payees", 0, "account"),
                        "0x8Ba1f109551bD432803012645Ac136ddd64DBA72",
                    ),
                )
            ),
            "ValidationError",
            "assets[0].payees[0].account",
        ),
        (
            "payee-share-float",
            pretty(edit(rich_p256, set_in((*asset, "payees", 0, "shareBps"), 7000.5))),
            "ValidationError",
            "assets[0].payees[0].shareBps",
        ),
        (
            "duplicate-tag",
            pretty(edit(rich_p256, set_in((*asset, "tags", 1), "outdoor"))),
            "ValidationError",
            "assets[0].tags[1]",
        ),
        (
            "impossible-capture-date",
            pretty(edit(rich_p256, set_in((*asset, "captureDate"), "2025-02-29T14:22:00Z"))),
            "ValidationError",
            "assets[0].captureDate",
        ),
        (
            "capture-date-with-offset",
            pretty(edit(rich_p256, set_in((*asset, "captureDate"), "2025-11-02T14:22:00+01:00"))),
            "ValidationError",
            "assets[0].captureDate",
        ),
        (
            "negative-rate",
            pretty(edit(rich_p256, set_in((*asset, "priceModel", "rate"), -0.05))),
            "ValidationError",
            "assets[0].priceModel.rate",
        ),
        (
            "bool-rate",
            pretty(edit(rich_p256, set_in((*asset, "priceModel", "rate"), True))),
            "ValidationError",
            "assets[0].priceModel.rate",
        ),
        (
            "bad-price-type",
            pretty(edit(rich_p256, set_in((*asset, "priceModel", "type"), "free"))),
            "ValidationError",
            "assets[0].priceModel.type",
        ),
        (
            "amount-not-integer",
            pretty(edit(rich_p256, set_in((*asset, "priceModel", "amount"), "1.5"))),
            "ValidationError",
            "assets[0].priceModel.amount",
        ),
        (
            "null-optional-member",
            pretty(edit(rich_p256, set_in((*asset, "url"), None))),
            "ValidationError",
            "assets[0].url",
        ),
        (
            "http-url",
            pretty(edit(rich_p256, set_in((*asset, "url"), "http://cdn.example.com/a.jpg"))),
            "ValidationError",
            "assets[0].url",
        ),
        (
            "no-wallet-or-payout",
            pretty(
                edit(rich_p256, lambda o: (o["creator"].pop("wallet"), o["creator"].pop("payout")))
            ),
            "ValidationError",
            "creator",
        ),
        (
            "eth-key-not-checksummed",
            pretty(
                edit(
                    rich_eth, set_in(("creator", "signingKey"), "eth:" + eth.public_id[4:].lower())
                )
            ),
            "ValidationError",
            "creator.signingKey",
        ),
        (
            "signature-uppercase-hex",
            pretty(
                with_signature(
                    rich_eth, rich_eth["signature"].upper().replace("EIP712:0X", "eip712:0x")
                )
            ),
            "ValidationError",
            "signature",
        ),
        # Valid documents whose signature must not verify.
        (
            "tampered-asset-hash",
            pretty(
                edit(
                    rich_p256,
                    set_in((*asset, "hash"), "sha256:" + hashlib.sha256(b"other").hexdigest()),
                )
            ),
            "SignatureError",
            "signature",
        ),
        (
            "tampered-license",
            pretty(edit(rich_p256, set_in((*asset, "licenses", 0), "exclusive-training"))),
            "SignatureError",
            "signature",
        ),
        (
            "tampered-tag",
            pretty(edit(rich_eth, set_in((*asset, "tags", 0), "indoor"))),
            "SignatureError",
            "signature",
        ),
        (
            "tampered-rate",
            pretty(edit(rich_eth, set_in((*asset, "priceModel", "rate"), 0.5))),
            "SignatureError",
            "signature",
        ),
        (
            "tampered-payee",
            pretty(
                edit(
                    rich_p256,
                    set_in(
                        (*asset, "payees", 0, "account"),
                        "0x0000000000000000000000000000000000000001",
                    ),
                )
            ),
            "SignatureError",
            "signature",
        ),
        (
            "removed-optional-member",
            pretty(edit(rich_p256, delete_in((*asset, "consent")))),
            "SignatureError",
            "signature",
        ),
        (
            "key-swapped-p256",
            pretty(edit(rich_p256, set_in(("creator", "signingKey"), other_p256.public_id))),
            "SignatureError",
            "signature",
        ),
        (
            "key-swapped-eth",
            pretty(edit(rich_eth, set_in(("creator", "signingKey"), other_eth.public_id))),
            "SignatureError",
            "signature",
        ),
        (
            "signed-by-other-eth-key",
            pretty(
                with_signature(
                    rich_eth,
                    other_eth.sign_typed_data(
                        manifest_typed_data(Manifest.from_obj(rich(eth), allow_unsigned=True))
                    ),
                )
            ),
            "SignatureError",
            "signature",
        ),
        (
            "wrong-scheme-for-key",
            pretty(with_signature(rich_p256, rich_eth["signature"])),
            "SignatureError",
            "signature",
        ),
        (
            "wrong-scheme-for-eth-key",
            pretty(with_signature(rich_eth, rich_p256["signature"])),
            "SignatureError",
            "signature",
        ),
        (
            "signature-from-other-manifest",
            pretty(with_signature(rich_p256, small_p256["signature"])),
            "SignatureError",
            "signature",
        ),
        (
            "high-s-signature",
            pretty(with_signature(rich_p256, p256_high_s(rich_p256["signature"]))),
            "SignatureError",
            "signature",
        ),
        (
            "high-s-signature-eth",
            pretty(with_signature(rich_eth, eth_high_s(rich_eth["signature"]))),
            "SignatureError",
            "signature",
        ),
        (
            "non-strict-der",
            pretty(with_signature(rich_p256, p256_padded_r(rich_p256["signature"]))),
            "SignatureError",
            "signature",
        ),
        (
            "non-canonical-base64",
            pretty(with_signature(small_p256, p256_loose_base64(small_p256["signature"]))),
            "SignatureError",
            "signature",
        ),
        (
            "eth-bad-v",
            pretty(with_signature(rich_eth, eth_bad_v(rich_eth["signature"]))),
            "SignatureError",
            "signature",
        ),
        (
            "signature-bit-flip-p256",
            pretty(with_signature(rich_p256, flip_bit(rich_p256["signature"], 8 * 40 + 3))),
            "SignatureError",
            "signature",
        ),
        (
            "signature-bit-flip-eth",
            pretty(with_signature(rich_eth, flip_bit(rich_eth["signature"], 8 * 40 + 3))),
            "SignatureError",
            "signature",
        ),
        (
            "bad-key-encoding",
            pretty(
                edit(
                    rich_p256,
                    set_in(
                        ("creator", "signingKey"),
                        "p256:" + base64.b64encode(b"\x02" + b"\x00" * 31 + b"\x01").decode(),
                    ),
                )
            ),
            "SignatureError",
            "creator.signingKey",
        ),
    ]
    return [_valid(*case) for case in valid] + [_invalid(*case) for case in bad]


def _reverse(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reverse(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse(item) for item in value]
    return value


def _document(data: str | bytes) -> dict[str, str]:
    if isinstance(data, bytes):
        return {"manifestBase64": base64.b64encode(data).decode()}
    return {"manifest": data}


def _valid(name: str, description: str, data: str | bytes) -> dict[str, Any]:
    manifest = Manifest.from_json(data)
    verify_manifest(manifest)
    expected = {
        "digest": manifest.digest_hex(),
        "signingPayloadSha256": "0x" + hashlib.sha256(manifest.signing_payload()).hexdigest(),
    }
    return {"name": name, "description": description, **_document(data), "expected": expected}


def _invalid(name: str, data: str | bytes, error_type: str, field: str | None) -> dict[str, Any]:
    try:
        verify_manifest(Manifest.from_json(data))
    except LedgerError as exc:
        if type(exc).__name__ != error_type or exc.field != field:
            raise SystemExit(
                f"{name}: got {type(exc).__name__} at {exc.field!r} ({exc.message}), "
                f"want {error_type} at {field!r}"
            ) from None
        return {
            "name": name,
            "description": exc.message,
            **_document(data),
            "error": {"type": error_type, "field": field},
        }
    raise SystemExit(f"{name}: accepted")


def main() -> None:
    """Check every case against ledger, then write the vectors and the test keys."""
    vectors = {"description": DESCRIPTION, "cases": cases()}
    P256_KEY_FILE.parent.mkdir(exist_ok=True)
    P256_KEY_FILE.write_bytes(key_file_bytes(P256SigningKey.from_secret(P256_SECRET)))
    ETH_KEY_FILE.write_bytes(key_file_bytes(EthSigningKey.from_hex(ETH_SECRET)))
    OUT.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(vectors['cases'])} cases)")


if __name__ == "__main__":
    main()
