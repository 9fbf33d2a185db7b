"""Webhooks on the running service: the operator subscribes over HTTP, an anchored
manifest reaches a real local receiver signed (checked with `standardwebhooks`), the
feed lists the same event, and bad requests are refused with nothing stored; every
answer is checked against the OpenAPI document."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks import Webhook

from ledger.cli.client import LedgerClient
from ledger.core.manifest import parse_manifest
from ledger.run.serve import running
from tests.contract import answer_problems
from tests.integration.service.conftest import FAST, Running, manifest, p256, register

pytestmark = pytest.mark.chain

ADMIN = "operator-token-" + "w" * 32
OPERATOR = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Running]:
    settings = replace(FAST, data_dir=tmp_path / "data", admin_token=ADMIN)
    async with running(settings) as (service, url), LedgerClient(url) as client:
        yield Running(service, url, client)


async def call(svc: Running, method: str, path: str, route: str, *, body: Any = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request, its answer checked against the document's operation `route`."""
    async with aiohttp.ClientSession() as http, http.request(
            method, svc.url + path, json=body, headers=OPERATOR if headers is None else headers
    ) as resp:
        raw = await resp.read()
        assert answer_problems(method, route, resp.status, resp.content_type, raw) == []
        return resp.status, (await resp.json(content_type=None)) if raw else None


async def test_an_anchored_manifest_is_announced_by_webhook_and_in_the_feed(
        svc: Running) -> None:
    arrived: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await arrived.put((dict(request.headers), await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        key = p256()
        await register(svc.client, "creator:hooked", key)
        status, made = await call(svc, "POST", "/v1/webhooks", "/v1/webhooks", body={
            "url": f"http://127.0.0.1:{port}/hook", "types": ["manifest.anchored"],
            "creatorId": "creator:hooked"})
        assert status == 201
        signed = manifest("creator:hooked", key, 1)
        status, _ = await svc.client.submit(signed)
        assert status == 202
        async with asyncio.timeout(60):
            headers, body = await arrived.get()
    finally:
        await runner.cleanup()
    payload = Webhook(made["secret"]).verify(body, headers)
    digest = parse_manifest(signed).digest_hex()
    assert payload["type"] == "manifest.anchored"
    assert payload["data"]["manifestDigest"] == digest
    assert payload["data"]["creatorId"] == "creator:hooked"
    status, feed = await call(svc, "GET", f"/v1/events?manifestDigest={digest}", "/v1/events")
    assert status == 200 and [e["id"] for e in feed["events"]] == [payload_id(headers)]
    status, shown = await call(svc, "GET", f"/v1/webhooks/{made['id']}", "/v1/webhooks/{id}")
    assert status == 200 and "secret" not in shown and shown["delivery"]["attempts"] == 0
    status, _ = await call(svc, "DELETE", f"/v1/webhooks/{made['id']}", "/v1/webhooks/{id}")
    assert status == 204
    status, _ = await call(svc, "GET", f"/v1/webhooks/{made['id']}", "/v1/webhooks/{id}")
    assert status == 404


BAD_SUBSCRIPTIONS: list[tuple[Any, str]] = [
    ({"url": "ftp://example.com/x"}, "url"),
    ({"url": "http://user:pw@example.com/x"}, "url"),
    ({"url": "https://example.com/x", "types": ["manifest.eaten"]}, "types"),
    ({"url": "https://example.com/x", "types": []}, "types"),
    ({"url": "https://example.com/x", "buyer": "0x12"}, "buyer"),
    ({"url": "https://example.com/x", "manifestDigest": "ab" * 32}, "manifestDigest"),
    ({"url": "https://example.com/x", "secret": "mine"}, "secret"),
    ([], "body"),
]


async def test_a_bad_subscription_is_refused_naming_the_field_and_nothing_is_stored(
        svc: Running) -> None:
    for body, field in BAD_SUBSCRIPTIONS:
        status, error = await call(svc, "POST", "/v1/webhooks", "/v1/webhooks", body=body)
        assert (status, error["error"]["field"]) == (422, field), body
    status, listed = await call(svc, "GET", "/v1/webhooks", "/v1/webhooks")
    assert status == 200 and listed == {"webhooks": []}


async def test_only_the_operator_manages_webhooks_and_reads_the_feed(svc: Running) -> None:
    status, _ = await call(svc, "GET", "/v1/events", "/v1/events", headers={})
    assert status == 401
    status, _ = await call(svc, "POST", "/v1/webhooks", "/v1/webhooks",
                           body={"url": "https://example.com/x"},
                           headers={"Authorization": "Bearer " + "n" * 40})
    assert status == 403
    status, error = await call(svc, "GET", "/v1/events?after=-1", "/v1/events")
    assert status == 422 and error["error"]["field"] == "after"
    status, error = await call(svc, "GET", "/v1/events?limit=5000", "/v1/events")
    assert status == 422 and error["error"]["field"] == "limit"


def payload_id(headers: dict[str, str]) -> str:
    """The webhook-id header, whatever case the receiver's server gave its name."""
    return next(value for name, value in headers.items() if name.lower() == "webhook-id")
