"""Self-service notifications over real HTTP: a creator and a buyer sign their requests
(`ledger.core.signed_requests`) to manage their own subscriptions and read their own
feed; a buyer signs a dataset check and its snapshot names it. Every attack (another
creator's events, another buyer's feed, a replayed or tampered request) is refused with
a 4xx naming the field and nothing stored; every answer is checked against the OpenAPI
document."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from standardwebhooks import Webhook

from ledger.cli.client import LedgerClient
from ledger.cli.main import main
from ledger.core.licence_snapshot import LicenceSnapshot
from ledger.core.manifest import parse_manifest
from ledger.core.signed_requests import signed_request_headers
from ledger.core.signing import SigningKey, address_of
from ledger.keyfile import generate_key, write_key
from ledger.run.serve import running
from ledger.storage.models import RequestNonceRow
from tests.contract import answer_problems
from tests.integration.service.conftest import FAST, Running, manifest, p256, register

pytestmark = pytest.mark.chain

ADMIN = "operator-token-" + "s" * 32
OPERATOR = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Running]:
    settings = replace(FAST, data_dir=tmp_path / "data", admin_token=ADMIN)
    async with running(settings) as (service, url), LedgerClient(url) as client:
        yield Running(service, url, client)


async def send(svc: Running, method: str, path: str, route: str, *, raw: bytes = b"",
               headers: dict[str, str]) -> tuple[int, Any]:
    """One request, its answer checked against the document's operation `route`."""
    if raw:
        headers = {**headers, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.request(
            method, svc.url + path, data=raw or None, headers=headers) as resp:
        body = await resp.read()
        assert answer_problems(method, route, resp.status, resp.content_type, body) == []
        return resp.status, json.loads(body) if body else None


def signed(key: SigningKey, method: str, path: str, raw: bytes = b"", *,
           creator: str | None = None, at: int | None = None) -> dict[str, str]:
    """The headers of `method path` with body `raw`, signed by `key`."""
    return signed_request_headers(key, method, path, raw, creator_id=creator,
                                  timestamp=int(time.time()) if at is None else at)


async def as_signer(svc: Running, key: SigningKey, method: str, path: str, route: str,
                    body: Any = None, *, creator: str | None = None) -> tuple[int, Any]:
    raw = b"" if body is None else json.dumps(body).encode()
    return await send(svc, method, path, route, raw=raw,
                      headers=signed(key, method, path, raw, creator=creator))


async def stored_webhooks(svc: Running) -> list[Any]:
    status, listed = await send(svc, "GET", "/v1/webhooks", "/v1/webhooks", headers=OPERATOR)
    assert status == 200
    return list(listed["webhooks"])


class Receiver:
    """A real local HTTP receiver of webhooks."""

    def __init__(self) -> None:
        self.arrived: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Receiver:
        async def receive(request: web.Request) -> web.Response:
            await self.arrived.put((dict(request.headers), await request.read()))
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/hook", receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def test_a_creator_follows_only_its_own_events_by_webhook_and_feed(
        svc: Running) -> None:
    mine, theirs = p256(), p256()
    await register(svc.client, "creator:self", mine)
    await register(svc.client, "creator:other", theirs)
    async with Receiver() as receiver:
        status, made = await as_signer(svc, mine, "POST", "/v1/webhooks", "/v1/webhooks",
                                       {"url": receiver.url, "types": ["manifest.anchored"]},
                                       creator="creator:self")
        assert status == 201
        assert (made["owner"], made["creatorId"]) == ("creator:creator:self", "creator:self")
        other = manifest("creator:other", theirs, 1)
        own = manifest("creator:self", mine, 2)
        assert (await svc.client.submit(other))[0] == 202
        assert (await svc.client.submit(own))[0] == 202
        async with asyncio.timeout(60):
            headers, body = await receiver.arrived.get()
    payload = Webhook(made["secret"]).verify(body, headers)
    assert payload["data"]["manifestDigest"] == parse_manifest(own).digest_hex()
    assert receiver.arrived.empty()
    status, feed = await as_signer(svc, mine, "GET", "/v1/events", "/v1/events",
                                   creator="creator:self")
    assert status == 200
    assert {e["data"]["creatorId"] for e in feed["events"]} == {"creator:self"}
    status, listed = await as_signer(svc, theirs, "GET", "/v1/webhooks", "/v1/webhooks",
                                     creator="creator:other")
    assert (status, listed) == (200, {"webhooks": []})
    path = f"/v1/webhooks/{made['id']}"
    status, error = await as_signer(svc, theirs, "DELETE", path, "/v1/webhooks/{id}",
                                    creator="creator:other")
    assert (status, error["error"]["field"]) == (403, "id")
    status, _ = await as_signer(svc, mine, "DELETE", path, "/v1/webhooks/{id}",
                                creator="creator:self")
    assert status == 204 and await stored_webhooks(svc) == []


async def test_a_creator_cannot_subscribe_to_another_creators_events(svc: Running) -> None:
    mine, theirs = p256(), p256()
    await register(svc.client, "creator:eve", mine)
    await register(svc.client, "creator:alice", theirs)
    hook = {"url": "http://127.0.0.1:9/hook"}
    status, error = await as_signer(svc, mine, "POST", "/v1/webhooks", "/v1/webhooks",
                                    {**hook, "creatorId": "creator:alice"},
                                    creator="creator:eve")
    assert (status, error["error"]["field"]) == (403, "creatorId")
    # Eve's key claiming to sign for Alice.
    status, error = await as_signer(svc, mine, "POST", "/v1/webhooks", "/v1/webhooks", hook,
                                    creator="creator:alice")
    assert (status, error["error"]["field"]) == (403, "X-Ledger-Creator")
    # A P-256 key is no wallet: without a creator it speaks for nobody.
    status, error = await as_signer(svc, mine, "POST", "/v1/webhooks", "/v1/webhooks", hook)
    assert (status, error["error"]["field"]) == (403, "X-Ledger-Creator")
    status, error = await as_signer(svc, mine, "GET", "/v1/events?creatorId=creator:alice",
                                    "/v1/events", creator="creator:eve")
    assert (status, error["error"]["field"]) == (403, "creatorId")
    assert await stored_webhooks(svc) == []


async def test_a_replayed_tampered_or_stale_request_is_refused_and_nothing_stored(
        svc: Running) -> None:
    buyer = generate_key("eth")
    raw = json.dumps({"url": "http://127.0.0.1:9/hook"}).encode()
    headers = signed(buyer, "POST", "/v1/webhooks", raw)
    status, made = await send(svc, "POST", "/v1/webhooks", "/v1/webhooks", raw=raw,
                              headers=headers)
    assert status == 201 and made["buyer"] == address_of(buyer.public_id).lower()
    status, error = await send(svc, "POST", "/v1/webhooks", "/v1/webhooks", raw=raw,
                               headers=headers)
    assert (status, error["error"]["field"]) == (401, "X-Ledger-Nonce")
    tampered = json.dumps({"url": "http://127.0.0.1:9/evil"}).encode()
    status, error = await send(svc, "POST", "/v1/webhooks", "/v1/webhooks", raw=tampered,
                               headers=signed(buyer, "POST", "/v1/webhooks", raw))
    assert (status, error["error"]["code"]) == (401, "unauthenticated")
    stale = signed(buyer, "POST", "/v1/webhooks", raw, at=int(time.time()) - 3600)
    status, error = await send(svc, "POST", "/v1/webhooks", "/v1/webhooks", raw=raw,
                               headers=stale)
    assert (status, error["error"]["field"]) == (401, "X-Ledger-Timestamp")
    partial = {k: v for k, v in signed(buyer, "GET", "/v1/webhooks").items()
               if k != "X-Ledger-Nonce"}
    status, error = await send(svc, "GET", "/v1/webhooks", "/v1/webhooks", headers=partial)
    assert (status, error["error"]["field"]) == (401, "X-Ledger-Nonce")
    assert [w["id"] for w in await stored_webhooks(svc)] == [made["id"]]


async def nonce_rows(svc: Running) -> int:
    async with svc.service.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(
            RequestNonceRow))).scalar_one())


async def test_a_refused_signed_request_leaves_no_nonce_and_an_accepted_one_no_replay(
        svc: Running) -> None:
    """A refused request stores nothing, not even its nonce: its signer may sign a
    corrected request with that nonce; once a request is accepted its nonce is spent."""
    buyer, nonce, now = generate_key("eth"), "n" * 24, int(time.time())
    refused = [
        ("POST", "/v1/webhooks", "/v1/webhooks", {"url": "ftp://example.com/x"}, "url"),
        ("POST", "/v1/webhooks", "/v1/webhooks", {"url": "http://x.test", "n": 1}, "n"),
        ("POST", "/v1/dataset-checks", "/v1/dataset-checks", {"hashes": ["zz"]}, "hashes[0]"),
        ("GET", "/v1/events?types=nope", "/v1/events", None, "types"),
        ("DELETE", "/v1/webhooks/wh_none", "/v1/webhooks/{id}", None, "id"),
    ]
    for method, path, route, body, field in refused:
        raw = b"" if body is None else json.dumps(body).encode()
        headers = signed_request_headers(buyer, method, path, raw, timestamp=now, nonce=nonce)
        status, error = await send(svc, method, path, route, raw=raw, headers=headers)
        assert 400 <= status < 500 and error["error"]["field"] == field, (path, error)
        assert await nonce_rows(svc) == 0
    raw = json.dumps({"url": "http://127.0.0.1:9/hook"}).encode()
    headers = signed_request_headers(buyer, "POST", "/v1/webhooks", raw, timestamp=now,
                                     nonce=nonce)
    status, made = await send(svc, "POST", "/v1/webhooks", "/v1/webhooks", raw=raw,
                              headers=headers)
    assert status == 201
    status, error = await send(svc, "POST", "/v1/webhooks", "/v1/webhooks", raw=raw,
                               headers=headers)
    assert (status, error["error"]["field"]) == (401, "X-Ledger-Nonce")
    assert await nonce_rows(svc) == 1
    assert [w["id"] for w in await stored_webhooks(svc)] == [made["id"]]


async def test_a_buyer_reads_its_own_feed_and_not_another_buyers(svc: Running) -> None:
    buyer, other = generate_key("eth"), generate_key("eth")
    address = address_of(buyer.public_id)
    other_address = address_of(other.public_id)
    assert address is not None and other_address is not None
    events = svc.service.ctx.events
    for who in (address, other_address):
        await events.announce(None, "deposit.leaving", {
            "buyer": who.lower(), "token": "ETH", "amount": "1", "withdrawableAt": 1,
            "lapsesAt": 2, "chainId": 31337})
    status, feed = await as_signer(svc, buyer, "GET", "/v1/events", "/v1/events")
    assert status == 200 and [e["data"]["buyer"] for e in feed["events"]] == [address.lower()]
    status, error = await as_signer(svc, buyer, "GET",
                                    f"/v1/events?buyer={other_address.lower()}", "/v1/events")
    assert (status, error["error"]["field"]) == (403, "buyer")
    status, error = await as_signer(svc, buyer, "POST", "/v1/webhooks", "/v1/webhooks",
                                    {"url": "http://127.0.0.1:9/x", "buyer": other_address})
    assert (status, error["error"]["field"]) == (403, "buyer")
    assert await stored_webhooks(svc) == []


async def test_a_signed_dataset_check_names_its_buyer_and_an_anonymous_one_none(
        svc: Running) -> None:
    buyer = generate_key("eth")
    service_key = (await svc.client.service())["receiptKey"]
    answer = await svc.client.dataset_check(["ab" * 32], key=buyer)
    snapshot = LicenceSnapshot.from_obj(answer["snapshot"])
    snapshot.verify(service_key)
    assert snapshot.buyer == address_of(buyer.public_id).lower()  # type: ignore[union-attr]
    anonymous = await svc.client.dataset_check(["ab" * 32])
    assert anonymous["snapshot"]["buyer"] is None
    creator = p256()
    await register(svc.client, "creator:checker", creator)
    raw = json.dumps({"hashes": ["cd" * 32]}).encode()
    status, error = await send(
        svc, "POST", "/v1/dataset-checks", "/v1/dataset-checks", raw=raw,
        headers=signed(creator, "POST", "/v1/dataset-checks", raw, creator="creator:checker"))
    assert (status, error["error"]["field"]) == (403, "X-Ledger-Creator")
    headers = signed(buyer, "POST", "/v1/dataset-checks", raw)
    status, _ = await send(svc, "POST", "/v1/dataset-checks", "/v1/dataset-checks", raw=raw,
                           headers=headers)
    assert status == 201
    status, error = await send(svc, "POST", "/v1/dataset-checks", "/v1/dataset-checks",
                               raw=raw, headers=headers)
    assert (status, error["error"]["field"]) == (401, "X-Ledger-Nonce")


async def test_the_cli_adds_lists_reads_and_removes_a_buyers_webhook(
        svc: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "buyer.key"
    write_key(key_file, generate_key("eth"))

    async def run(*argv: str) -> Any:
        assert await asyncio.to_thread(main, [*argv, "--key", str(key_file),
                                              "--url", svc.url]) == 0
        out = capsys.readouterr().out
        return json.loads(out) if out.startswith("{") else out

    made = await run("webhooks", "add", "http://127.0.0.1:9/hook", "--type", "deposit.leaving")
    assert made["types"] == ["deposit.leaving"] and made["secret"].startswith("whsec_")
    listed = await run("webhooks", "list")
    assert [w["id"] for w in listed["webhooks"]] == [made["id"]]
    feed = await run("webhooks", "feed", "--type", "deposit.leaving,usage.refused")
    assert feed["events"] == []
    assert await run("webhooks", "remove", made["id"]) == f"removed {made['id']}\n"
    assert await stored_webhooks(svc) == []


async def test_check_dataset_with_a_key_signs_each_part_for_the_buyer(
        svc: Running, tmp_path: Path) -> None:
    key = generate_key("eth")
    key_file, listing, out = tmp_path / "wallet.key", tmp_path / "hashes", tmp_path / "c.json"
    write_key(key_file, key)
    listing.write_text("ab" * 32 + "\n" + "cd" * 32 + "\n")
    code = await asyncio.to_thread(main, [
        "check-dataset", str(listing), "--part-size", "1", "--key", str(key_file),
        "--url", svc.url, "--output", str(out)])
    assert code == 1  # nobody registered these bytes
    checks = json.loads(out.read_text())["checks"]
    buyer = address_of(key.public_id)
    assert buyer is not None
    assert [c["snapshot"]["buyer"] for c in checks] == [buyer.lower()] * 2
