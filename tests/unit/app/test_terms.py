"""TermsBook: the asset terms of stored manifests, read and computed once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.app.terms import TermsBook
from ledger.core.canonical import canonicalize
from ledger.core.manifest import Manifest, parse_manifest_json
from ledger.core.royalty.terms import asset_terms
from ledger.errors import ValidationError

ETH_KEY = "eth:0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PRICE = {"type": "per-unit", "rate": 1, "currency": "ETH", "unit": "sample", "amount": "1000"}
DOC: dict[str, Any] = {
    "manifestVersion": "1.0",
    "creator": {"id": "creator:a", "signingKey": ETH_KEY, "wallet": "0x" + "22" * 20},
    "assets": [
        {"id": f"asset:{name}", "type": "image/jpeg", "hash": "sha256:" + "00" * 32,
         "licenses": ["x"], **extra}
        for name, extra in (("a", {"priceModel": PRICE}), ("b", {}))
    ],
    "signature": "eip712:0x" + "00" * 65,
}
BODY = json.dumps(DOC).encode()
DIGEST = Manifest.from_json(BODY).digest()
OTHER_BODY = json.dumps({**DOC, "creator": {**DOC["creator"], "id": "creator:b"}}).encode()
OTHER = Manifest.from_json(OTHER_BODY).digest()


class Bodies:
    """Stored manifest bodies, counting the reads."""

    def __init__(self) -> None:
        self.reads = 0

    async def body(self, digest: bytes) -> bytes | None:
        self.reads += 1
        return {DIGEST: BODY, OTHER: OTHER_BODY}.get(digest)


async def test_terms_equal_the_core_rule_and_are_read_once() -> None:
    bodies = Bodies()
    book = TermsBook(bodies)
    terms = await book.asset_terms(DIGEST, "asset:a")
    assert terms == asset_terms(Manifest.from_json(BODY), DIGEST, "asset:a")
    assert await book.asset_terms(DIGEST, "asset:a") is terms
    assert (await book.manifest(DIGEST)) is not None
    assert bodies.reads == 1


async def test_errors_name_the_field_under_the_given_path() -> None:
    book = TermsBook(Bodies())
    with pytest.raises(ValidationError, match="no manifest") as info:
        await book.asset_terms(bytes(32), "asset:a", "events[1].asset")
    assert info.value.field == "events[1].asset.manifestDigest"
    with pytest.raises(ValidationError) as info:
        await book.asset_terms(bytes(32), "asset:a", "")
    assert info.value.field == "manifestDigest"
    with pytest.raises(ValidationError, match="not priced per use") as info:
        await book.asset_terms(DIGEST, "asset:b")
    assert info.value.field == "asset"
    assert await book.manifest(bytes(32)) is None


async def test_the_oldest_entries_go_first() -> None:
    bodies = Bodies()
    book = TermsBook(bodies, size=1)
    await book.manifest(DIGEST)
    await book.manifest(bytes(32))  # a miss is not kept
    await book.manifest(DIGEST)
    assert bodies.reads == 2
    await book.manifest(OTHER)
    await book.manifest(DIGEST)
    assert bodies.reads == 4


HEADER = {"manifestVersion": "1.1", "creator": DOC["creator"], "assetCount": 2,
          "assetsRoot": "0x" + "ab" * 32, "signature": "eip712:0x" + "00" * 65}
HEADER_BODY = json.dumps(HEADER).encode()
HEADER_DIGEST = parse_manifest_json(HEADER_BODY).digest()


class Entries:
    """A 1.1 manifest's stored entries."""

    async def entry_by_id(self, digest: bytes, asset_id: str) -> bytes | None:
        found = {e["id"]: canonicalize(e) for e in DOC["assets"]}.get(asset_id)
        return found if digest == HEADER_DIGEST else None


class HeaderBodies:
    async def body(self, digest: bytes) -> bytes | None:
        return HEADER_BODY if digest == HEADER_DIGEST else None


async def test_a_1_1_asset_s_terms_come_from_its_stored_entry() -> None:
    book = TermsBook(HeaderBodies(), assets=Entries())
    terms = await book.asset_terms(HEADER_DIGEST, "asset:a")
    expected = asset_terms(Manifest.from_json(BODY), HEADER_DIGEST, "asset:a")
    assert terms == expected
    with pytest.raises(ValidationError, match="no asset asset:c") as info:
        await book.asset_terms(HEADER_DIGEST, "asset:c", "events[0].asset")
    assert info.value.field == "events[0].asset.assetId"
    with pytest.raises(ValidationError, match="no asset"):
        await TermsBook(HeaderBodies()).asset_terms(HEADER_DIGEST, "asset:a")
