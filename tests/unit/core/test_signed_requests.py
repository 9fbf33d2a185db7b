"""Signed requests (ledger/core/signed_requests.py): the signature covers method, path,
timestamp, nonce, creator and body, so changing any one fails; bad headers are named."""

from __future__ import annotations

import pytest

from ledger.core.signed_requests import (
    REQUEST_TAG,
    SIGNATURE_HEADER,
    request_payload,
    signed_request_headers,
)
from ledger.core.signing import P256SigningKey, verify_message
from ledger.errors import SignatureError, ValidationError

KEY = P256SigningKey.from_secret(0x5EED)
NONCE = "abcdefgh12345678"
GOOD = ("POST", "/v1/webhooks", "1800000000", NONCE, "creator:ana", b'{"url":"x"}')


def test_the_signature_covers_every_part_of_the_request() -> None:
    headers = signed_request_headers(KEY, "post", GOOD[1], GOOD[5], timestamp=1800000000,
                                     creator_id="creator:ana", nonce=NONCE)
    signature = headers[SIGNATURE_HEADER]
    verify_message(REQUEST_TAG, request_payload(*GOOD), signature, KEY.public_id)
    for index, other in [(0, "DELETE"), (1, "/v1/webhooks?x=1"), (2, "1800000001"),
                         (3, NONCE + "x"), (4, None), (5, b'{"url":"y"}')]:
        changed = list(GOOD)
        changed[index] = other
        with pytest.raises(SignatureError):
            verify_message(REQUEST_TAG, request_payload(*changed), signature,  # type: ignore[arg-type]
                           KEY.public_id)


@pytest.mark.parametrize("index, value, field", [
    (2, "soon", "X-Ledger-Timestamp"), (3, "short", "X-Ledger-Nonce"),
    (3, "a b" * 8, "X-Ledger-Nonce"), (4, "", "X-Ledger-Creator"),
    (4, "creator:a\nb", "X-Ledger-Creator"),
])
def test_a_malformed_header_is_named(index: int, value: str, field: str) -> None:
    changed = list(GOOD)
    changed[index] = value
    with pytest.raises(ValidationError) as caught:
        request_payload(*changed)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_each_request_gets_a_fresh_nonce() -> None:
    first = signed_request_headers(KEY, "GET", "/v1/events", b"", timestamp=1)
    second = signed_request_headers(KEY, "GET", "/v1/events", b"", timestamp=1)
    assert first["X-Ledger-Nonce"] != second["X-Ledger-Nonce"]
    assert "X-Ledger-Creator" not in first
