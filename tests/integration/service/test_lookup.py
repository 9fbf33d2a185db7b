"""Lookup by content hash over real HTTP: 1.0 and 1.1 registrations, conflicts, order;
the batch lookup answers each hash as the one lookup does."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from ledger.cli.client import LedgerClient
from ledger.core.lookups import MAX_LOOKUP
from ledger.core.signing import sign_manifest
from tests.integration.service.conftest import LIB_CREATOR, LIB_KEY, p256, register
from tests.integration.service.libraries import Http, entry, library

pytestmark = pytest.mark.chain

CREATOR, KEY = LIB_CREATOR, LIB_KEY

BATCH = "/v1/assets/by-hash:batch"
SHARED = "5a" * 32  # the bytes both creators registered
OTHER = "creator:ben"


async def anchored(http: Http, digest: str) -> None:
    deadline = time.monotonic() + 60
    while (await http.call("GET", f"/v1/manifests/{digest}/proof"))[0] != 200:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def lookup(http: Http, text: str) -> tuple[int, Any]:
    return await http.call("GET", f"/v1/assets/by-hash/{text}")


async def test_every_registration_of_the_bytes_is_shown_earliest_anchor_first(
    http: Http,
) -> None:
    other_key = p256()
    async with LedgerClient(http.url) as client:
        await register(client, OTHER, other_key)
    # First: a 1.0 manifest of CREATOR holding the bytes, anchored.
    asset = {**entry("first", 0, SHARED), "priceModel": {
        "type": "per-unit", "rate": 1, "currency": "ETH", "unit": "sample", "amount": "5"}}
    doc = sign_manifest({"manifestVersion": "1.0",
                         "creator": {"id": CREATOR, "wallet": "0x" + "11" * 20},
                         "assets": [entry("first", 1), asset]}, KEY)
    status, accepted = await http.call("POST", "/v1/manifests", doc)
    assert status == 202
    first = accepted["manifestDigest"]
    await anchored(http, first)
    # Then: a 1.1 library of OTHER holding the same bytes at index 2, complete.
    lib = library(OTHER, other_key, 3, tag="second", chunk_size=2,
                  content=lambda i: SHARED if i == 2 else None)
    assert (await http.call("POST", "/v1/uploads", lib.start_body()))[0] == 201
    for index in range(lib.chunks):
        assert (await http.put(lib, index))[0] == 200
    # And an upload in progress holding them too: never shown.
    open_lib = library(OTHER, other_key, 4, tag="open", chunk_size=2,
                       content=lambda i: SHARED if i == 0 else None)
    assert (await http.call("POST", "/v1/uploads", open_lib.start_body()))[0] == 201
    assert (await http.put(open_lib, 0))[0] == 200

    status, found = await lookup(http, SHARED)
    assert status == 200 and found["sha256"] == SHARED and found["conflict"] is True
    regs = found["registrations"]
    assert [(r["creatorId"], r["manifestDigest"]) for r in regs] == [
        (CREATOR, first), (OTHER, lib.digest)]
    one, two = regs
    assert (one["manifestVersion"], one["assetId"], one["assetIndex"]) == (
        "1.0", "asset:first-0", 1)
    assert one["priceModel"]["amount"] == "5" and "payees" not in one
    assert one["anchor"] is not None and one["status"] == "confirmed"
    assert one["anchor"]["txHash"].startswith("0x") and one["anchor"]["chainId"] > 0
    assert (two["manifestVersion"], two["assetId"], two["assetIndex"]) == (
        "1.1", "asset:second-2", 2)
    assert two["licenses"] == ["non-exclusive-training"]
    for reg in regs:
        assert reg["creatorVerification"]["method"] == "operator"
        assert reg["creatorVerification"]["detail"]
    # The anchored one stays first once the second is anchored too.
    await anchored(http, lib.digest)
    status, later = await lookup(http, "sha256:" + SHARED)
    assert [r["manifestDigest"] for r in later["registrations"]] == [first, lib.digest]
    assert all(r["anchor"] is not None for r in later["registrations"])
    status, batch = await http.call("POST", BATCH, {"hashes": ["sha256:" + SHARED, "00" * 32,
                                                              SHARED]})
    nothing = {"sha256": "00" * 32, "registrations": [], "conflict": False}
    assert (status, batch) == (200, {"results": [later, nothing, later]})


async def test_one_creator_is_no_conflict_and_unknown_bytes_find_nothing(http: Http) -> None:
    lib = library(CREATOR, KEY, 2, tag="alone", chunk_size=2,
                  content=lambda i: "77" * 32 if i == 1 else None)
    assert (await http.call("POST", "/v1/uploads", lib.start_body()))[0] == 201
    assert (await http.put(lib, 0))[0] == 200
    status, found = await lookup(http, "77" * 32)
    assert status == 200 and found["conflict"] is False
    assert [(r["assetId"], r["creatorId"]) for r in found["registrations"]] == [
        ("asset:alone-1", CREATOR)]
    assert await lookup(http, "00" * 32) == (200, {"sha256": "00" * 32, "registrations": [],
                                                   "conflict": False})
    for bad in ("AB" * 32, "0x" + "ab" * 32, "ab" * 31, "sha1:" + "ab" * 32):
        status, body = await lookup(http, bad)
        assert status == 422 and body["error"]["field"] == "sha256", bad


async def test_a_bad_batch_lookup_names_the_member_and_its_size_is_bounded(http: Http) -> None:
    for body, field in [({"hashes": []}, "hashes"), ({"hashes": "ab" * 32}, "hashes"),
                        ({"hashes": ["ab" * 32] * (MAX_LOOKUP + 1)}, "hashes"),
                        ({"hashes": ["ab" * 32, "AB" * 32]}, "hashes[1]"),
                        ({}, "hashes"), ({"hashes": ["ab" * 32], "at": 1}, "at"), ([], None)]:
        status, answer = await http.call("POST", BATCH, body)
        assert status == 422 and answer["error"].get("field") == field, (field, answer)
    status, answer = await http.call("POST", BATCH, {"hashes": ["ab" * 32] * MAX_LOOKUP})
    assert status == 200 and len(answer["results"]) == MAX_LOOKUP
