"""Bad input gets a 4xx JSON error naming the problem, and nothing is stored."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import pytest

from ledger.core.creators import sign_action
from tests.integration.service.conftest import Running, manifest, now_ms, p256, register

pytestmark = pytest.mark.chain


async def _post(url: str, path: str, body: bytes) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url + path, data=io.BytesIO(body), headers={"Content-Type": "application/json"}
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def _stored(svc: Running) -> int:
    count, _ = await svc.service.ctx.manifests.pending_stats()
    batches = await svc.client.batches()
    return count + sum(b["leaf_count"] for b in batches)


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
    add = sign_action("add-key", "creator:erin", [spare.public_id], now_ms(), [key, spare])
    assert (await svc.client.creator_action(add))[0] == 201
    revoke = sign_action("revoke-key", "creator:erin", [key.public_id], now_ms(), [spare])
    assert (await svc.client.creator_action(revoke))[0] == 201
    status, answer = await _post(
        svc.url, "/v1/manifests", json.dumps(manifest("creator:erin", key, 9)).encode()
    )
    assert status == 422 and answer["error"]["field"] == "creator.signingKey"
    # A replayed add-key cannot bring the revoked key back.
    readd = sign_action("add-key", "creator:erin", [key.public_id], now_ms(), [spare, key])
    status, answer = await _post(svc.url, "/v1/creators", json.dumps(readd).encode())
    assert status == 422 and answer["error"]["field"] == "key"
    assert (await svc.client.submit(manifest("creator:erin", spare, 9)))[0] == 202


async def test_stale_creator_action_is_refused(svc: Running) -> None:
    key = p256()
    stale = sign_action("register", "creator:old", [key.public_id], now_ms() - 3_600_000, [key])
    status, answer = await _post(svc.url, "/v1/creators", json.dumps(stale).encode())
    assert status == 422 and answer["error"]["field"] == "issuedAt"
