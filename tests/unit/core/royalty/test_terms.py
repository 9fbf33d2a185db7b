"""Units, prices, asset keys and split terms (ledger.core.royalty.terms)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.core.hashing import to_hex
from ledger.core.manifest import Manifest
from ledger.core.royalty.terms import (
    ETH_TOKEN,
    asset_id_of,
    asset_key_of,
    asset_terms,
    chain_units,
    split_owner,
)
from ledger.errors import ValidationError
from tests.unit.core.royalty.vectors import VECTORS


@pytest.mark.parametrize("case", VECTORS["assetKeys"], ids=lambda c: c["assetId"])
def test_asset_key_vector(case: dict[str, Any]) -> None:
    aid = asset_id_of(case["assetId"])
    assert to_hex(aid) == case["assetIdBytes32"]
    assert to_hex(asset_key_of(case["owner"], aid)) == case["assetKey"]


@pytest.mark.parametrize(
    ("units", "unit", "price_unit", "expected"),
    [
        (7, None, "epoch", 7),
        (7, "sample", "sample", 7),
        (3000, "sample", "1k-samples", 3),
        (2, "1k-samples", "sample", 2000),
    ],
)
def test_chain_units(units: int, unit: str | None, price_unit: str, expected: int) -> None:
    assert chain_units(units, unit, price_unit) == expected


@pytest.mark.parametrize(
    ("units", "unit", "price_unit", "field"),
    [(2500, "sample", "1k-samples", "events[1].units"), (1, "epoch", "sample", "events[1].unit")],
)
def test_chain_units_never_round(units: int, unit: str, price_unit: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        chain_units(units, unit, price_unit, "events[1]")
    assert info.value.field == field


def _manifest(creator: dict[str, Any], asset: dict[str, Any]) -> Manifest:
    obj = {
        "manifestVersion": "1.0",
        "creator": creator,
        "assets": [{"id": "asset:a", "type": "image/jpeg", "hash": "sha256:" + "00" * 32,
                    "licenses": ["x"], **asset}],
        "signature": "eip712:0x" + "00" * 65,
    }
    return Manifest.from_obj(obj)


ETH_KEY = "eth:0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
P256_KEY = "p256:" + "A" * 44
PRICE = {"type": "per-unit", "rate": 1, "currency": "ETH", "unit": "sample", "amount": "1000"}


def test_split_owner_prefers_the_ethereum_key() -> None:
    wallet = "0x" + "22" * 20
    eth = _manifest({"id": "creator:a", "signingKey": ETH_KEY, "wallet": wallet}, {})
    p256 = _manifest({"id": "creator:a", "signingKey": P256_KEY, "wallet": wallet}, {})
    stripe = _manifest({"id": "creator:a", "signingKey": P256_KEY, "wallet": "stripe:acct_1"}, {})
    assert split_owner(eth) == ETH_KEY[4:]
    assert split_owner(p256) == "0x2222222222222222222222222222222222222222"
    assert split_owner(stripe) is None


def test_asset_terms_default_and_explicit_payees() -> None:
    creator = {"id": "creator:a", "signingKey": ETH_KEY, "wallet": "0x" + "22" * 20}
    digest = bytes(range(32))
    solo = asset_terms(_manifest(creator, {"priceModel": PRICE}), digest, "asset:a")
    assert solo.split.payees == (ETH_KEY[4:],) and solo.split.shares == (10_000,)
    assert solo.price.token == ETH_TOKEN and solo.price.per_unit == 1000
    assert solo.asset_key == asset_key_of(ETH_KEY[4:], asset_id_of("asset:a"))
    payees = [{"account": "0x" + "33" * 20, "shareBps": 9000, "role": "creator"},
              {"account": "0x" + "44" * 20, "shareBps": 1000, "role": "marketplace"}]
    token = "0x" + "55" * 20
    split = asset_terms(
        _manifest(creator, {"priceModel": {**PRICE, "token": token}, "payees": payees}),
        digest, "asset:a",
    )
    assert split.split.shares == (9000, 1000)
    assert split.price.token.lower() == token


@pytest.mark.parametrize(
    ("asset", "field", "message"),
    [
        ({}, "asset", "not priced per use"),
        ({"priceModel": {**PRICE, "type": "royalty"}}, "asset", "not priced per use"),
        ({"priceModel": {k: v for k, v in PRICE.items() if k != "amount"}}, "asset",
         "no on-chain price"),
        ({"priceModel": {**PRICE, "amount": str(2**96)}}, "asset", r"2\^96-1"),
        ({"priceModel": {**PRICE, "amount": "0"}}, "asset", r"2\^96-1"),
    ],
)
def test_assets_that_cannot_be_metered(asset: dict[str, Any], field: str, message: str) -> None:
    creator = {"id": "creator:a", "signingKey": ETH_KEY, "wallet": "0x" + "22" * 20}
    with pytest.raises(ValidationError, match=message) as info:
        asset_terms(_manifest(creator, asset), bytes(32), "asset:a")
    assert info.value.field == field


def test_unknown_asset_id() -> None:
    creator = {"id": "creator:a", "signingKey": ETH_KEY, "wallet": "0x" + "22" * 20}
    with pytest.raises(ValidationError) as info:
        asset_terms(_manifest(creator, {"priceModel": PRICE}), bytes(32), "asset:b",
                    "events[2].asset")
    assert info.value.field == "events[2].asset.assetId"
