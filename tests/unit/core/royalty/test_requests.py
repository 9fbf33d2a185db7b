"""The request bodies of co-signing and split signatures: parsed in the core, each refusal
naming its member with the message the HTTP API has always given."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.core.royalty.requests import (
    CosignRequest,
    SplitSignatureRequest,
    asset_query,
)
from ledger.errors import ValidationError

ROOT = "0x" + "ab" * 32
SIGNATURE = "0x" + "cd" * 65


def split(**changes: Any) -> dict[str, Any]:
    return {"manifestDigest": ROOT, "assetId": "asset:a", "version": 2,
            "deadline": 2_000_000_000, "signature": SIGNATURE, **changes}


def test_a_split_signature_parses_to_bytes_and_integers() -> None:
    request = SplitSignatureRequest.from_obj(split())
    assert request == SplitSignatureRequest(bytes.fromhex("ab" * 32), "asset:a", 2,
                                            2_000_000_000, bytes.fromhex("cd" * 65))


@pytest.mark.parametrize(("body", "field", "message"), [
    ({**split(), "extra": 1}, None, "must be an object with exactly"),
    ([], None, "must be an object with exactly"),
    (split(manifestDigest="0xAB"), "manifestDigest", "must be 0x and 64 lower-case hex digits"),
    (split(assetId=7), "assetId", "must be a string"),
    (split(version=0), "version", "must be a positive integer"),
    (split(version=True), "version", "must be a positive integer"),
    (split(deadline=2**53), "deadline", "must be a positive integer"),
    (split(signature="0x12"), "signature", "must be 0x and 130 lower-case hex digits"),
])
def test_a_bad_split_signature_names_its_member(body: Any, field: str | None,
                                                 message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        SplitSignatureRequest.from_obj(body)
    assert refused.value.field == field and refused.value.message.startswith(message)


@pytest.mark.parametrize(("token", "ok"), [("ETH", True), ("0x" + "11" * 20, True),
                                           ("eth", False), ("0x11", False), (5, False)])
def test_a_cosign_token_is_eth_or_an_address(token: Any, ok: bool) -> None:
    body = {"usageRoot": ROOT, "token": token, "signature": SIGNATURE}
    if ok:
        assert CosignRequest.from_obj(body).token == token
    else:
        with pytest.raises(ValidationError, match='must be "ETH" or an 0x address'):
            CosignRequest.from_obj(body)


def test_a_split_request_query_names_the_bad_parameter() -> None:
    assert asset_query(ROOT, "asset:a") == (bytes.fromhex("ab" * 32), "asset:a")
    with pytest.raises(ValidationError) as refused:
        asset_query("", "asset:a")
    assert refused.value.field == "manifestDigest"
