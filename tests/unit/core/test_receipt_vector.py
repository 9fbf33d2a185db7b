"""The intake receipt example of docs/proof-format.md §4a, checked by independent code.

The signature is checked with the `cryptography` library alone (not ledger's own
verifier), from the bytes the document prints, so the spec and the code cannot
drift apart together.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.receipt import Receipt
from ledger.errors import CanonicalJSONError

DOC = Path(__file__).resolve().parents[3] / "docs" / "proof-format.md"


def _section(text: str) -> str:
    start = text.index("## 4a. Intake receipts")
    return text[start : text.index("## 5.", start)]


def _blocks(section: str) -> list[str]:
    return re.findall(r"```(?:json)?\n(.*?)```", section, flags=re.S)


def test_documented_receipt_verifies_independently() -> None:
    payload_text, receipt_text = _blocks(_section(DOC.read_text(encoding="utf-8")))
    receipt = json.loads(receipt_text)
    payload = payload_text.strip().encode()
    unsigned = {k: v for k, v in receipt.items() if k != "signature"}
    assert canonicalize(unsigned) == payload

    point = base64.b64decode(receipt["serviceKey"].removeprefix("p256:"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    der = base64.b64decode(receipt["signature"].removeprefix("p256ecdsa:"))
    public.verify(der, b"ledger-receipt-v1\n" + payload, ec.ECDSA(hashes.SHA256()))

    Receipt.from_obj(receipt).verify(receipt["serviceKey"])


@pytest.mark.parametrize(
    ("literal", "canonical"),
    [
        ("2.50", "2.5"),
        ("1e21", "1e+21"),
        ("1000000000000000000000", "1e+21"),
        ("9007199254740992", "9007199254740992"),
        ("-0", "0"),
    ],
)
def test_documented_numbers_accepted(literal: str, canonical: str) -> None:
    assert canonicalize(parse_strict(literal)).decode() == canonical


@pytest.mark.parametrize("literal", ["0.30000000000000000001", "9007199254740993", "1e400"])
def test_documented_numbers_rejected(literal: str) -> None:
    with pytest.raises(CanonicalJSONError):
        parse_strict(literal)
