"""Intake receipts: signed, deterministic, round-tripping, and tamper-evident."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ledger.core.receipt import Receipt, ReceiptSigner
from ledger.core.signing import EthSigningKey, P256SigningKey
from ledger.errors import SignatureError, ValidationError

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
