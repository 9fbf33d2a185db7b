"""Manifest and message signatures: P-256 and Ethereum EIP-712 (ledger.core.signing)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_keys.datatypes import Signature as EthSignature

from ledger.core.canonical import parse_strict
from ledger.core.manifest import Manifest
from ledger.core.signing import (
    MANIFEST_TAG,
    P256_ORDER,
    SCHEME_NAMES,
    SCHEMES,
    SECP256K1_ORDER,
    EthSigningKey,
    P256SigningKey,
    SigningKey,
    address_of,
    manifest_typed_data,
    message_typed_data,
    scheme_of_key,
    sign_manifest,
    sign_message,
    verify_manifest,
    verify_message,
)
from ledger.core.vocabulary import PAYEE_ROLES, PRICE_TYPES, PRICE_UNITS
from ledger.errors import SignatureError, ValidationError
from ledger.keyfile import parse_key_file

VECTORS_DIR = Path(__file__).parents[2] / "vectors"
CASES = json.loads((VECTORS_DIR / "manifests.json").read_text(encoding="utf-8"))["cases"]
P256 = parse_key_file((VECTORS_DIR / "keys" / "manifest-p256.pem").read_bytes())
ETH = parse_key_file((VECTORS_DIR / "keys" / "manifest-eth.json").read_bytes())
OTHER_P256 = P256SigningKey.from_secret(0xC0FFEE)
OTHER_ETH = EthSigningKey.from_hex("0x" + "42" * 32)
KEYS = {"p256": P256, "eth": ETH}


def _case(name: str) -> dict[str, Any]:
    case = next(case for case in CASES if case["name"] == name)
    obj: dict[str, Any] = parse_strict(case["manifest"])
    return obj


def _unsigned(obj: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in obj.items() if name != "signature"}


def _rejects(obj: dict[str, Any]) -> None:
    with pytest.raises(SignatureError):
        verify_manifest(Manifest.from_obj(obj))


@pytest.fixture(params=["p256", "eth"])
def signed(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _case(f"rich-{request.param}")


def test_keys_match_vectors() -> None:
    assert _case("rich-p256")["creator"]["signingKey"] == P256.public_id
    assert _case("rich-eth")["creator"]["signingKey"] == ETH.public_id


@pytest.mark.parametrize("name", ["minimal-p256", "minimal-eth", "rich-p256", "rich-eth"])
def test_signing_is_deterministic_and_reproduces_vectors(name: str) -> None:
    obj = _case(name)
    key = KEYS[name.split("-")[1]]
    assert sign_manifest(_unsigned(obj), key) == obj
    assert sign_manifest(obj, key) == obj  # an existing signature is replaced


def test_valid_signatures_verify(signed: dict[str, Any]) -> None:
    verify_manifest(Manifest.from_obj(signed))


# -- tampering ---------------------------------------------------------------------

_ALTERNATIVES = (*PRICE_TYPES, *PRICE_UNITS, *PAYEE_ROLES, "ETH", "USD")


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path


def _containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict | list):
        yield path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from _containers(item, (*path, key))


def _candidates(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 1, value * 2 + 1, value - 1]
    last = value[-1]
    flipped = value[:-1] + chr(ord(last) ^ 1) if last.isalnum() else value + "x"
    return [flipped, value.lower(), value + "x", value[:-1], *_ALTERNATIVES]


def _replace(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    target: Any = result
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return result


def _valid_variant(obj: dict[str, Any], path: tuple[Any, ...], old: Any) -> dict[str, Any] | None:
    for candidate in _candidates(old):
        if candidate == old and type(candidate) is type(old):
            continue
        variant = _replace(obj, path, candidate)
        try:
            Manifest.from_obj(variant)
        except ValidationError:
            continue
        return variant
    return None


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def test_every_single_leaf_tamper_is_rejected(signed: dict[str, Any]) -> None:
    """Change each leaf to another valid value: the signature must no longer verify."""
    checked = 0
    for path in _leaves(_unsigned(signed)):
        variant = _valid_variant(signed, path, _get(signed, path))
        if variant is None:  # no other valid value (e.g. manifestVersion): schema rejects
            continue
        _rejects(variant)
        checked += 1
    assert checked >= 60


def test_every_removal_and_reordering_is_rejected(signed: dict[str, Any]) -> None:
    removed = reordered = 0
    for path in _containers(_unsigned(signed)):
        container = _get(signed, path)
        if isinstance(container, list) and len(container) > 1:
            variant = _replace(signed, path, container[::-1]) if path else None
            if variant is not None and _accepted_by_schema(variant):
                _rejects(variant)
                reordered += 1
        members = container.items() if isinstance(container, dict) else enumerate(container)
        for key, _ in list(members):
            if path == () and key == "signature":
                continue
            variant = copy.deepcopy(signed)
            del _get(variant, path)[key]
            if _accepted_by_schema(variant):
                _rejects(variant)
                removed += 1
    assert removed >= 20 and reordered >= 5


def _accepted_by_schema(obj: dict[str, Any]) -> bool:
    try:
        Manifest.from_obj(obj)
    except ValidationError:
        return False
    return True


def test_key_swapped_within_and_across_schemes(signed: dict[str, Any]) -> None:
    for key in (OTHER_P256, OTHER_ETH):
        _rejects(_replace(signed, ("creator", "signingKey"), key.public_id))


def test_signature_swapped_between_schemes() -> None:
    p256, eth = _case("rich-p256"), _case("rich-eth")
    with pytest.raises(SignatureError, match="needs a p256ecdsa"):
        verify_manifest(Manifest.from_obj({**p256, "signature": eth["signature"]}))
    with pytest.raises(SignatureError, match="needs an eip712"):
        verify_manifest(Manifest.from_obj({**eth, "signature": p256["signature"]}))


def test_high_s_p256_is_valid_ecdsa_but_rejected() -> None:
    obj = _case("rich-p256")
    manifest = Manifest.from_obj(obj)
    der = base64.b64decode(obj["signature"].removeprefix("p256ecdsa:"))
    r, s = decode_dss_signature(der)
    high = encode_dss_signature(r, P256_ORDER - s)
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), base64.b64decode(P256.public_id.removeprefix("p256:"))
    )
    message = MANIFEST_TAG.encode() + b"\n" + manifest.signing_payload()
    public_key.verify(high, message, ec.ECDSA(hashes.SHA256()))  # mathematically fine
    with pytest.raises(SignatureError, match="high-s"):
        verify_manifest(manifest.with_signature("p256ecdsa:" + base64.b64encode(high).decode()))


def test_high_s_eth_recovers_the_same_address_but_is_rejected() -> None:
    obj = _case("rich-eth")
    manifest = Manifest.from_obj(obj)
    raw = bytes.fromhex(obj["signature"].removeprefix("eip712:0x"))
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    high_s, high_v = SECP256K1_ORDER - s, 55 - v
    digest = _hash_eip191_message(encode_typed_data(full_message=manifest_typed_data(manifest)))
    recovered = EthSignature(vrs=(high_v - 27, r, high_s)).recover_public_key_from_msg_hash(digest)
    assert "eth:" + recovered.to_checksum_address() == ETH.public_id
    high = "eip712:0x" + (raw[:32] + high_s.to_bytes(32, "big") + bytes([high_v])).hex()
    with pytest.raises(SignatureError, match="high-s"):
        verify_manifest(manifest.with_signature(high))


def test_every_bit_flip_of_a_p256_signature_is_rejected() -> None:
    manifest = Manifest.from_obj(_case("rich-p256"))
    assert manifest.signature is not None
    raw = base64.b64decode(manifest.signature.removeprefix("p256ecdsa:"))
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(SignatureError):
            verify_manifest(
                manifest.with_signature("p256ecdsa:" + base64.b64encode(bytes(flipped)).decode())
            )


def test_bit_flips_of_an_eth_signature_are_rejected() -> None:
    manifest = Manifest.from_obj(_case("rich-eth"))
    assert manifest.signature is not None
    raw = bytes.fromhex(manifest.signature.removeprefix("eip712:0x"))
    for bit in [*range(0, 512, 11), 512, 513, 519]:
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(SignatureError):
            verify_manifest(manifest.with_signature("eip712:0x" + bytes(flipped).hex()))


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("p256ecdsa:MAYCAQECAQE=", "does not verify"),  # r = s = 1
        ("p256ecdsa:MAYCAQACAQE=", "out of range"),  # r = 0
        ("p256ecdsa:MAcCAQECAQEA", "bytes after"),
        ("p256ecdsa:MQYCAQECAQE=", "SEQUENCE"),
        ("p256ecdsa:MAYCAf8CAQE=", "negative"),
        ("p256ecdsa:MAYDAQECAQE=", "INTEGER expected"),
        ("p256ecdsa:MAYCBQECAQE=", "INTEGER length"),
    ],
)
def test_malformed_der_reasons(signature: str, reason: str) -> None:
    manifest = Manifest.from_obj(_case("rich-p256"))
    with pytest.raises(SignatureError, match=reason):
        verify_manifest(manifest.with_signature(signature))


def test_eth_zero_r_rejected() -> None:
    manifest = Manifest.from_obj(_case("rich-eth"))
    with pytest.raises(SignatureError, match="out of range"):
        verify_manifest(manifest.with_signature("eip712:0x" + "00" * 32 + "01" * 32 + "1b"))


# -- signing ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", [P256, ETH], ids=["p256", "eth"])
def test_signatures_are_low_s(key: SigningKey) -> None:
    base = _unsigned(_case("minimal-p256"))
    del base["creator"]["signingKey"]
    high_before_normalising = 0
    for index in range(16):
        obj = copy.deepcopy(base)
        obj["assets"][0]["tags"] = [f"t{index}"]
        signed = sign_manifest(obj, key)
        verify_manifest(Manifest.from_obj(signed))
        _, s = _r_s(signed["signature"])
        assert s <= (P256_ORDER if key is P256 else SECP256K1_ORDER) // 2
        if isinstance(key, P256SigningKey):
            high_before_normalising += _raw_p256_is_high(key, Manifest.from_obj(signed))
    if key is P256:
        assert high_before_normalising > 0  # the normalising branch ran


def _r_s(signature: str) -> tuple[int, int]:
    if signature.startswith("eip712:"):
        raw = bytes.fromhex(signature.removeprefix("eip712:0x"))
        return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
    return decode_dss_signature(base64.b64decode(signature.removeprefix("p256ecdsa:")))


def _raw_p256_is_high(key: P256SigningKey, manifest: Manifest) -> bool:
    private = serialization.load_pem_private_key(key.to_pem(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    der = private.sign(
        MANIFEST_TAG.encode() + b"\n" + manifest.signing_payload(),
        ec.ECDSA(hashes.SHA256(), deterministic_signing=True),
    )
    return decode_dss_signature(der)[1] > P256_ORDER // 2


def test_sign_manifest_fills_in_and_checks_the_signing_key() -> None:
    obj = _unsigned(_case("rich-p256"))
    del obj["creator"]["signingKey"]
    assert sign_manifest(obj, P256)["creator"]["signingKey"] == P256.public_id
    with pytest.raises(SignatureError) as caught:
        sign_manifest(_unsigned(_case("rich-p256")), OTHER_P256)
    assert caught.value.field == "creator.signingKey"
    with pytest.raises(ValidationError):
        sign_manifest({**obj, "assets": []}, P256)


def test_eip712_hash_matches_eth_account() -> None:
    manifest = Manifest.from_obj(_case("rich-eth"))
    signable = encode_typed_data(full_message=manifest_typed_data(manifest))
    assert (
        Account.recover_message(signable, signature=bytes.fromhex(manifest.signature[9:]))
        == (ETH.public_id[4:])
    )
    message = encode_typed_data(full_message=message_typed_data("ledger-creator-v1", b"payload"))
    signature = sign_message("ledger-creator-v1", b"payload", ETH)
    assert (
        Account.recover_message(message, signature=bytes.fromhex(signature[9:]))
        == (ETH.public_id[4:])
    )


def test_p256_signature_is_plain_ecdsa_over_tag_and_payload() -> None:
    manifest = Manifest.from_obj(_case("rich-p256"))
    assert manifest.signature is not None
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), base64.b64decode(P256.public_id.removeprefix("p256:"))
    )
    public_key.verify(
        base64.b64decode(manifest.signature.removeprefix("p256ecdsa:")),
        b"ledger-manifest-v1\n" + manifest.signing_payload(),
        ec.ECDSA(hashes.SHA256()),
    )


# -- other messages -----------------------------------------------------------------


@pytest.mark.parametrize("key", [P256, ETH], ids=["p256", "eth"])
def test_message_round_trip_and_tampering(key: SigningKey) -> None:
    signature = sign_message("ledger-creator-v1", b"payload", key)
    verify_message("ledger-creator-v1", b"payload", signature, key.public_id)
    assert sign_message("ledger-creator-v1", b"payload", key) == signature
    other = OTHER_P256 if isinstance(key, P256SigningKey) else OTHER_ETH
    for tag, payload, signer in [
        ("ledger-creator-v2", b"payload", key.public_id),
        ("ledger-creator-v1", b"payloaD", key.public_id),
        ("ledger-creator-v1", b"payload", other.public_id),
    ]:
        with pytest.raises(SignatureError):
            verify_message(tag, payload, signature, signer)


def test_message_signature_is_not_a_manifest_signature() -> None:
    manifest = Manifest.from_obj(_case("rich-p256"))
    payload = manifest.signing_payload()
    signature = sign_message("ledger-creator-v1", payload, P256)
    with pytest.raises(SignatureError):
        verify_manifest(manifest.with_signature(signature))
    assert manifest.signature is not None
    with pytest.raises(SignatureError):
        verify_message("ledger-creator-v1", payload, manifest.signature, P256.public_id)


@pytest.mark.parametrize("tag", [MANIFEST_TAG, "", "Upper", "has space", "x\nledger"])
def test_bad_or_reserved_tags(tag: str) -> None:
    with pytest.raises(SignatureError):
        sign_message(tag, b"x", P256)
    with pytest.raises(SignatureError):
        verify_message(tag, b"x", "eip712:0x" + "00" * 65, ETH.public_id)


@pytest.mark.parametrize(
    ("signature", "signing_key"),
    [
        ("p256ecdsa:", P256.public_id),
        ("eip712:0x00", ETH.public_id),
        ("eip712:0x" + "00" * 65, "eth:0x" + "ab" * 20),
        ("p256ecdsa:MAYCAQECAQE=", "p256:" + base64.b64encode(b"\x04" + b"\x01" * 32).decode()),
    ],
)
def test_verify_message_malformed_inputs_raise_signature_error(
    signature: str, signing_key: str
) -> None:
    with pytest.raises(SignatureError):
        verify_message("ledger-creator-v1", b"x", signature, signing_key)


# -- keys --------------------------------------------------------------------------------


def test_key_constructors_refuse_bad_material() -> None:
    with pytest.raises(SignatureError, match="P-256"):
        P256SigningKey(ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(SignatureError):
        P256SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SignatureError):
        P256SigningKey.from_secret(0)
    with pytest.raises(SignatureError):
        EthSigningKey.from_hex("0x1234")
    with pytest.raises(SignatureError):
        EthSigningKey(b"\x00" * 32)
    with pytest.raises(SignatureError):
        EthSigningKey(SECP256K1_ORDER.to_bytes(32, "big"))


def test_key_serialisation_round_trips() -> None:
    assert isinstance(P256, P256SigningKey) and isinstance(ETH, EthSigningKey)
    assert P256SigningKey.from_pem(P256.to_pem()).public_id == P256.public_id
    assert EthSigningKey.from_hex(ETH.to_hex()).public_id == ETH.public_id
    assert EthSigningKey.from_hex(ETH.to_hex()[2:].upper()).public_id == ETH.public_id


def test_registry_finds_each_scheme_by_its_key_ids() -> None:
    assert SCHEME_NAMES == ("p256", "eth")
    assert scheme_of_key(P256.public_id) is SCHEMES["p256"]
    assert scheme_of_key(ETH.public_id) is SCHEMES["eth"]
    with pytest.raises(SignatureError) as unknown:
        scheme_of_key("rsa:AAAA", "creator.signingKey")
    assert unknown.value.field == "creator.signingKey"


def test_only_ethereum_keys_are_accounts() -> None:
    assert address_of(ETH.public_id) == ETH.public_id.removeprefix("eth:")
    assert address_of(ETH.public_id.lower()) == ETH.public_id.removeprefix("eth:")
    assert address_of(P256.public_id) is None
    assert address_of("") is None
