"""1.1 uploads over real HTTP on the embedded default: start, chunks, completion, asset
proofs, resumption, and the chunk bad-input corpus (4xx JSON, nothing stored)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from ledger.core.asset_tree import AssetProof, verify_asset_proof
from ledger.core.canonical import canonicalize
from ledger.storage.models import AssetChunkRow, AssetRow, ManifestRow
from tests.integration.service.conftest import LIB_CREATOR, LIB_KEY, manifest, p256
from tests.integration.service.libraries import Http, entry, library

pytestmark = pytest.mark.chain

CREATOR, KEY = LIB_CREATOR, LIB_KEY


async def until_proof(http: Http, digest: str, index: int, *, anchored: bool) -> Any:
    deadline = time.monotonic() + 60
    while True:
        status, body = await http.call("GET", f"/v1/manifests/{digest}/assets/{index}/proof")
        if status == 200 and (not anchored or body["manifestProof"]["anchor"] is not None):
            return body
        assert status in (200, 202), body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.1)


async def test_a_library_uploads_in_chunks_and_every_asset_proves(http_any_db: Http) -> None:
    http = http_any_db
    lib = library(CREATOR, KEY, 10, tag="ten", chunk_size=4)  # chunks of 4, 4, 2
    status, view = await http.call("POST", "/v1/uploads", lib.start_body())
    assert status == 201 and view["status"] == "uploading" and view["receipt"] is None
    assert (view["chunkCount"], view["missingChunks"], view["chunksReceived"]) == (3, [0, 1, 2], 0)
    assert (await http.call("POST", "/v1/uploads", lib.start_body()))[0] == 200
    status, body = await http.call("POST", "/v1/uploads", lib.start_body(chunk_size=8))
    assert status == 409 and body["error"]["field"] == "chunkSize"
    # Out of order, with a repeat: stored once, and nothing registered before the last.
    for index, stored in ((2, True), (0, True), (2, False)):
        status, answer = await http.put(lib, index)
        assert status == 200 and answer["stored"] is stored, answer
        assert answer["upload"]["status"] == "uploading"
    assert (await http.call("GET", f"/v1/manifests/{lib.digest}"))[0] == 404
    assert (await http.count(ManifestRow, lib.digest)) == 0
    status, answer = await http.put(lib, 1)
    assert status == 200 and answer["upload"]["status"] == "complete"
    assert answer["upload"]["receipt"]["manifestDigest"] == lib.digest
    assert answer["upload"]["missingChunks"] == []
    status, again = await http.put(lib, 1)
    assert status == 200 and again["stored"] is False and again["upload"] == answer["upload"]
    status, view = await http.call("GET", f"/v1/uploads/{lib.digest}")
    assert status == 200 and view == answer["upload"]
    assert (await http.call("POST", "/v1/uploads", lib.start_body()))[0] == 200
    assert (await http.call("GET", f"/v1/manifests/{lib.digest}"))[0] == 200
    assert (await http.count(AssetRow, lib.digest)) == 10
    for index in (0, 5, 9):  # first, middle, last
        body = await until_proof(http, lib.digest, index, anchored=True)
        proof = AssetProof.from_obj(body)
        verify_asset_proof(proof)
        assert canonicalize(proof.asset) == lib.entries[index]
        assert proof.manifest_proof.anchor is not None
    status, bundle = await http.call("GET", f"/v1/manifests/{lib.digest}/proof")
    assert status == 200 and bundle["manifestDigest"] == lib.digest
    status, body = await http.call("GET", f"/v1/manifests/{lib.digest}/assets/10/proof")
    assert status == 404


async def test_a_1_0_manifest_and_a_1_1_header_go_to_their_own_routes(http: Http) -> None:
    doc = manifest(CREATOR, KEY, 1)
    status, body = await http.call("POST", "/v1/uploads", {"manifest": doc})
    assert status == 422 and body["error"]["field"] == "manifest.manifestVersion"
    lib = library(CREATOR, KEY, 3, tag="routes")
    status, body = await http.call("POST", "/v1/manifests", lib.header)
    assert status == 422 and body["error"]["field"] == "manifestVersion"
    assert "POST /v1/uploads" in body["error"]["message"]
    status, accepted = await http.call("POST", "/v1/manifests", doc)
    assert status == 202
    digest = accepted["manifestDigest"]
    status, body = await http.call("GET", f"/v1/manifests/{digest}/assets/0/proof")
    assert status == 422 and "1.0 manifest discloses every asset" in body["error"]["message"]
    for bad in ({"manifest": lib.header, "chunkSize": 3}, {"manifest": lib.header,
                                                           "chunkSize": 2**15},
                {"header": lib.header}, [lib.header]):
        status, body = await http.call("POST", "/v1/uploads", bad)
        assert status == 422, (bad, body)
    unsigned = {k: v for k, v in lib.header.items() if k != "signature"}
    status, body = await http.call("POST", "/v1/uploads", {"manifest": unsigned})
    assert status == 422 and body["error"]["field"] == "manifest.signature"
    stranger = library("creator:stranger", p256(), 2, tag="stranger")
    status, body = await http.call("POST", "/v1/uploads", stranger.start_body())
    assert status == 422 and body["error"]["field"] == "manifest.creator.id"
    for path in (f"/v1/uploads/{lib.digest}", f"/v1/uploads/{lib.digest}/chunks/0"):
        method = "GET" if path.endswith(lib.digest) else "PUT"
        status, body = await http.call(method, path, raw=lib.chunk_body(0))
        assert status == 404, body


async def test_bad_chunks_are_refused_and_nothing_is_stored(http_any_db: Http) -> None:
    http = http_any_db
    lib = library(CREATOR, KEY, 10, tag="bad", chunk_size=4)
    other = library(CREATOR, KEY, 10, tag="other", chunk_size=4)
    dup = library(CREATOR, KEY, 8, tag="dup", chunk_size=4,
                  objs=[entry("dup", i) for i in range(7)] + [entry("dup", 1)])
    for each in (lib, other, dup):
        assert (await http.call("POST", "/v1/uploads", each.start_body()))[0] == 201
    assert (await http.put(dup, 0))[0] == 200

    def body(assets: list[Any], proof: list[str]) -> bytes:
        return canonicalize({"assets": assets, "proof": proof})

    objs = [json.loads(e) for e in lib.entries[:4]]
    cases: list[tuple[str, int, bytes, int, str | None]] = [
        ("wrong proof", 0, lib.chunk_body(0, proof_of=1), 422, "proof"),
        ("proof too short", 0, body(objs, lib.proof(0)[:-1]), 422, "proof"),
        ("proof not hex", 0, body(objs, ["0x" + "zz" * 32, *lib.proof(0)[1:]]), 422,
         "proof[0]"),
        ("out of range", 3, lib.chunk_body(0), 422, "index"),
        ("huge index", 99_999_999, lib.chunk_body(0), 422, "index"),
        ("not an index", -1, lib.chunk_body(0), 422, "index"),
        ("another manifest's chunk", 0, other.chunk_body(0), 422, "proof"),
        ("too few entries", 0, body(objs[:3], lib.proof(0)), 422, "assets"),
        ("too many entries", 2, lib.chunk_body(0), 422, "assets"),
        ("invalid entry", 0, body([*objs[:2], {**objs[2], "hash": "md5:x"}, objs[3]],
                                  lib.proof(0)), 422, "assets[2].hash"),
        ("entry missing a member", 0, body([*objs[:3], {"id": "asset:x"}], lib.proof(0)),
         422, "assets[3].type"),
        ("duplicate in chunk", 0, body([objs[0], objs[1], objs[1], objs[3]], lib.proof(0)),
         422, "assets[2].id"),
        ("not JSON", 0, b'{"assets": [', 400, None),
        ("not an object", 0, b"[]", 422, "assets"),
        ("oversize", 0, b'{"assets":[' + b" " * (256 * 1024) + b"]}", 413, "body"),
    ]
    for name, index, raw, status, field in cases:
        got, answer = await http.put(lib, index, raw)
        assert got == status, (name, answer)
        assert answer["error"].get("field") == field, (name, answer)
    # A duplicate across chunks: the last chunk repeats the id of asset 1 (in chunk 0).
    got, answer = await http.put(dup, 1)
    assert got == 422 and answer["error"]["field"] == "assets[3].id", answer
    assert "asset 1" in answer["error"]["message"]
    status, view = await http.call("GET", f"/v1/uploads/{lib.digest}")
    assert view["chunksReceived"] == 0 and view["missingChunks"] == [0, 1, 2]
    assert await http.count(AssetRow, lib.digest) == 0
    assert await http.count(AssetChunkRow, lib.digest) == 0
    assert await http.count(AssetRow, dup.digest) == 4
    assert (await http.call("GET", f"/v1/uploads/{dup.digest}"))[1]["chunksReceived"] == 1


async def test_an_interrupted_100k_upload_resumes_to_completion(http: Http) -> None:
    lib = library(CREATOR, KEY, 100_000, tag="big", chunk_size=1024)  # 98 chunks
    assert (await http.call("POST", "/v1/uploads", lib.start_body()))[0] == 201
    # The first client sends four chunks at a time and is cut off midway, with
    # requests in flight: some of those may be stored, some not.
    cut = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4))
    interrupted = Http(http.url, cut, http.service)
    sending = [asyncio.create_task(interrupted.put(lib, index)) for index in range(60)]
    await asyncio.sleep(0)
    while sum(task.done() for task in sending) < 30:
        # Only the pending ones: waiting on a finished task returns at once, and the
        # loop would spin, starving the service that shares this event loop.
        pending = [task for task in sending if not task.done()]
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    for task in sending:
        task.cancel()
    await asyncio.gather(*sending, return_exceptions=True)
    await cut.close()
    # A new client asks what is missing and sends only that.
    status, view = await http.call("GET", f"/v1/uploads/{lib.digest}")
    assert status == 200 and view["status"] == "uploading"
    missing = view["missingChunks"]
    assert 0 < view["chunksReceived"] < lib.chunks
    assert len(missing) == lib.chunks - view["chunksReceived"]
    repeats = 0
    for start in range(0, len(missing), 4):
        answers = await asyncio.gather(*(http.put(lib, i) for i in missing[start : start + 4]))
        assert all(status == 200 for status, _ in answers), answers
        # A chunk cut off in flight may still have been stored meanwhile: acknowledged
        # now as stored before.
        repeats += sum(not body["stored"] for _, body in answers)
    assert repeats <= 4
    status, view = await http.call("GET", f"/v1/uploads/{lib.digest}")
    assert view["status"] == "complete" and view["chunksReceived"] == lib.chunks
    async with http.service.engine.connect() as conn:
        digest = bytes.fromhex(lib.digest[2:])
        count, ids, low, high = (await conn.execute(
            select(func.count(), func.count(func.distinct(AssetRow.asset_id)),
                   func.min(AssetRow.asset_index), func.max(AssetRow.asset_index))
            .where(AssetRow.manifest_digest == digest))).one()
    assert (count, ids, low, high) == (100_000, 100_000, 0, 99_999)
    for index in (0, 54_321, 99_999):
        proof = AssetProof.from_obj(await until_proof(http, lib.digest, index, anchored=False))
        assert canonicalize(proof.asset) == lib.entries[index]
