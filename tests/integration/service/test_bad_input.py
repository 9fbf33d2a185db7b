"""Bad input gets a 4xx JSON error naming the problem, and nothing is stored."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.cli.client import LedgerClient
from ledger.core.creators import sign_action
from ledger.core.royalty.auth import request_headers
from ledger.run.serve import running
from tests.integration.service.conftest import FAST, Running, manifest, now_ms, p256, register

pytestmark = pytest.mark.chain


async def _post(
    url: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url + path,
            data=io.BytesIO(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def _stored(svc: Running) -> int:
    count, _ = await svc.service.ctx.manifests.pending_stats()
    batches = await svc.client.batches()
    return count + sum(b["leafCount"] for b in batches if b["kind"] == "manifests")


async def test_malformed_and_invalid_manifests_are_refused(svc: Running) -> None:
    key, other = p256(), p256()
    await register(svc.client, "creator:dana", key)
    good = manifest("creator:dana", key, 1)
    cases: dict[str, tuple[bytes, int, str]] = {
        "malformed-json": (b'{"manifestVersion": ', 400, "non_canonical_json"),
        "duplicate-key": (b'{"a": 1, "a": 2}', 400, "non_canonical_json"),
        "lone-surrogate": (b'{"a": "\\ud800"}', 400, "non_canonical_json"),
        "wrong-type": (json.dumps({**good, "assets": "x"}).encode(), 422, "invalid"),
        "unknown-field": (json.dumps({**good, "extra": 1}).encode(), 422, "invalid"),
        "tampered": (
            json.dumps(
                {**good, "creator": {**good["creator"], "wallet": "0x" + "22" * 20}}
            ).encode(),
            422,
            "bad_signature",
        ),
        "unregistered-creator": (
            json.dumps(manifest("creator:nobody", other, 2)).encode(),
            422,
            "invalid",
        ),
        "key-not-the-creators": (
            json.dumps(manifest("creator:dana", other, 3)).encode(),
            422,
            "invalid",
        ),
    }
    for name, (body, status, code) in cases.items():
        got, answer = await _post(svc.url, "/v1/manifests", body)
        assert (got, answer["error"]["code"]) == (status, code), name
        assert answer["error"]["message"], name
    assert await _stored(svc) == 0


async def test_oversize_body_is_413(svc: Running) -> None:
    limit = svc.service.settings.max_body_bytes
    status, answer = await _post(svc.url, "/v1/manifests", b" " * (limit + 1))
    assert status == 413 and answer["error"]["code"] == "body_too_large"


async def test_digest_of_wrong_length_is_422(svc: Running) -> None:
    for path in ("/v1/manifests/0x1234", "/v1/manifests/0x" + "ab" * 33 + "/proof"):
        status, answer = await svc.client._request("GET", path, ok=(422,))
        assert status == 422 and answer["error"]["field"] == "digest"


async def test_unknown_route_and_method_are_json(svc: Running) -> None:
    status, answer = await svc.client._request("GET", "/v2/nothing", ok=(404,))
    assert answer["error"]["code"] == "not_found"
    status, answer = await svc.client._request("DELETE", "/v1/manifests", ok=(405,))
    assert status == 405 and "error" in answer


async def test_revoked_key_cannot_sign_new_manifests(svc: Running) -> None:
    key, spare = p256(), p256()
    await register(svc.client, "creator:erin", key)
    deployment = await svc.client.deployment()
    add = sign_action("add-key", "creator:erin", [spare.public_id], now_ms(), [key, spare],
                      deployment=deployment)
    assert (await svc.client.creator_action(add))[0] == 201
    revoke = sign_action("revoke-key", "creator:erin", [key.public_id], now_ms(), [spare],
                         deployment=deployment)
    assert (await svc.client.creator_action(revoke))[0] == 201
    status, answer = await _post(
        svc.url, "/v1/manifests", json.dumps(manifest("creator:erin", key, 9)).encode()
    )
    assert status == 422 and answer["error"]["field"] == "creator.signingKey"
    # A replayed add-key cannot bring the revoked key back.
    readd = sign_action("add-key", "creator:erin", [key.public_id], now_ms(), [spare, key],
                        deployment=deployment)
    status, answer = await _post(svc.url, "/v1/creators", json.dumps(readd).encode())
    assert status == 422 and answer["error"]["field"] == "key"
    assert (await svc.client.submit(manifest("creator:erin", spare, 9)))[0] == 202


async def test_stale_creator_action_is_refused(svc: Running) -> None:
    key, recovery = p256(), p256()
    stale = sign_action("register", "creator:old", [key.public_id], now_ms() - 3_600_000,
                        [key, recovery], deployment=await svc.client.deployment(),
                        recovery_key=recovery.public_id)
    status, answer = await _post(svc.url, "/v1/creators", json.dumps(stale).encode())
    assert status == 422 and answer["error"]["field"] == "issuedAt"


async def test_batch_number_beyond_bigint_is_422(svc: Running) -> None:
    for number in ("9" * 40, str(2**63), "-1", "1_0", "\u0661"):
        _, answer = await svc.client._request("GET", f"/v1/batches/{number}", ok=(422,))
        assert answer["error"]["field"] == "number", number


async def test_compressed_body_is_refused_before_it_is_read(svc: Running) -> None:
    for encoding, body in (("gzip", gzip.compress(b"{}")), ("x-zip", b"{}")):
        status, answer = await _post(svc.url, "/v1/manifests", body, {"Content-Encoding": encoding})
        assert status == 415 and answer["error"]["field"] == "Content-Encoding", encoding
    # Headers only: aiohttp once waited forever on a deflate body that ended early.
    url = urllib.parse.urlsplit(svc.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        b"POST /v1/manifests HTTP/1.1\r\nHost: ledger\r\nContent-Type: application/json\r\n"
        b"Content-Encoding: deflate\r\nContent-Length: 100\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    assert head.startswith(b"HTTP/1.1 415 ")


SECRET = bytes(range(32))
USAGE_KEYS = json.dumps(
    {"version": "ledger-usage-keys/1", "sources": {"edge-1": [{"id": "k", "secret": SECRET.hex()}]}}
)


@pytest.fixture
async def metered(tmp_path: Path) -> AsyncIterator[Running]:
    """The service with one metering source's key."""
    settings = replace(FAST, data_dir=tmp_path / "data", usage_keys=USAGE_KEYS)
    async with running(settings) as (service, url), LedgerClient(url) as client:
        yield Running(service, url, client)


async def test_usage_batch_with_every_event_refused_has_an_error_body(metered: Running) -> None:
    event = {"eventId": "e-1", "buyer": "0x" + "22" * 20, "units": 1, "source": "edge-1",
             "asset": {"manifestDigest": "0x" + "00" * 32, "assetId": "asset:none"},
             "time": "2025-01-01T00:00:00Z"}
    body = json.dumps({"events": [event]}).encode()
    headers = request_headers(SECRET, "edge-1", body, int(time.time()))
    status, answer = await _post(metered.url, "/v1/usage", body, headers)
    assert status == 422 and answer["error"] == answer["results"][0]["error"]
    assert answer["error"]["field"] == "events[0].asset.manifestDigest"
