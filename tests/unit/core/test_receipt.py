"""Intake receipts: signed, deterministic, round-tripping, and tamper-evident."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.canonical import canonicalize
from ledger.core.receipt import Receipt, ReceiptSigner
from ledger.core.signing import EthSigningKey, P256SigningKey
from ledger.errors import CanonicalJSONError, SignatureError, ValidationError

P256 = P256SigningKey.from_secret(0x1234567)
ETH = EthSigningKey.from_hex("0x" + "42" * 32)
DIGEST = bytes(range(32))


@pytest.mark.parametrize("key", [P256, ETH], ids=["p256", "eth"])
def test_signed_receipt_verifies_and_round_trips(key: P256SigningKey | EthSigningKey) -> None:
    receipt = ReceiptSigner(key).sign(DIGEST, 1_700_000_000_000, 1_700_000_305_000)
    receipt.verify(key.public_id)
    text = json.dumps(receipt.to_obj())
    again = Receipt.from_json(text)
    assert again == receipt
    assert json.loads(text) == again.to_obj()


def test_signing_is_deterministic() -> None:
    signer = ReceiptSigner(P256)
    assert signer.sign(DIGEST, 1, 2) == signer.sign(DIGEST, 1, 2)


@pytest.mark.parametrize(
    "change",
    [
        {"manifest_digest": bytes(32)},
        {"accepted_at": 1_700_000_000_001},
        {"anchor_by": 1_700_000_305_001},
    ],
    ids=["digest", "accepted-at", "anchor-by"],
)
def test_any_changed_field_fails(change: dict[str, object]) -> None:
    receipt = ReceiptSigner(P256).sign(DIGEST, 1_700_000_000_000, 1_700_000_305_000)
    with pytest.raises(SignatureError):
        replace(receipt, **change).verify()  # type: ignore[arg-type]


def test_another_service_key_is_refused() -> None:
    receipt = ReceiptSigner(P256).sign(DIGEST, 1, 2)
    with pytest.raises(SignatureError) as caught:
        receipt.verify(ETH.public_id)
    assert caught.value.field == "serviceKey"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda o: o.pop("signature"), "signature"),
        (lambda o: o.update(extra=1), "extra"),
        (lambda o: o.update(version="ledger-receipt/0"), "version"),
        (lambda o: o.update(manifestDigest="0x12"), "manifestDigest"),
        (lambda o: o.update(acceptedAt=-1), "acceptedAt"),
        (lambda o: o.update(anchorBy=True), "anchorBy"),
    ],
    ids=[
        "missing-signature",
        "unknown-member",
        "wrong-version",
        "short-digest",
        "negative-time",
        "boolean-time",
    ],
)
def test_malformed_receipts_name_the_field(mutate: object, field: str) -> None:
    obj = ReceiptSigner(P256).sign(DIGEST, 1, 2).to_obj()
    mutate(obj)  # type: ignore[operator]
    with pytest.raises(ValidationError) as caught:
        Receipt.from_obj(obj)
    assert caught.value.field == field


def _canonical_payload(receipt: Receipt) -> bytes:
    obj = receipt.to_obj()
    del obj["signature"]
    return canonicalize(obj)


@settings(max_examples=300, deadline=None)
@given(
    digest=st.binary(min_size=32, max_size=32),
    accepted_at=st.integers(0, 2**53 - 1),
    anchor_by=st.integers(0, 2**53 - 1),
    service_key=st.text(min_size=1, max_size=80),
)
def test_payload_is_the_canonical_form(
    digest: bytes, accepted_at: int, anchor_by: int, service_key: str
) -> None:
    receipt = Receipt(digest, accepted_at, anchor_by, service_key, "p256ecdsa:AA==")
    assert receipt.payload() == _canonical_payload(receipt)


@pytest.mark.parametrize("accepted_at", [True, 2**53, -1], ids=["bool", "too-large", "negative"])
def test_payload_of_odd_times_is_still_canonicalize(accepted_at: int) -> None:
    receipt = Receipt(DIGEST, accepted_at, 2, P256.public_id, "p256ecdsa:AA==")
    try:
        expected = _canonical_payload(receipt)
    except CanonicalJSONError:
        with pytest.raises(CanonicalJSONError):
            receipt.payload()
        return
    assert receipt.payload() == expected
