"""`kill -9` of the service while it delivers webhooks, and a receiver that is down for
a while: every anchored manifest's event reaches the receiver, signed, and an event that
arrives twice arrives with the same id and the same bytes (at-least-once)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks import Webhook

from ledger.cli.client import LedgerClient
from ledger.core.manifest import parse_manifest
from tests.integration.faults.conftest import Chain, eventually, new_creator
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ADMIN = "operator-token-" + "k" * 32
KILLS = 5
ENV = {
    "LEDGER_ADMIN_TOKEN": ADMIN,
    # The receiver is on loopback, which an external chain's default refuses.
    "LEDGER_WEBHOOK_URLS": "any",
    "LEDGER_WEBHOOK_BACKOFF_S": "0.05",
    "LEDGER_WEBHOOK_BACKOFF_MAX_S": "0.3",
    "LEDGER_LEASE_TTL_S": "2",
}


@dataclass
class Receiver:
    """Verifies each delivery; answers 503 while `down`, slowly otherwise, so kills
    land mid-delivery."""

    secret: str = ""
    down: bool = False
    bodies: dict[str, bytes] = field(default_factory=dict)
    deliveries: int = 0
    problems: list[str] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        body = await request.read()
        event_id = request.headers["webhook-id"]
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except Exception as exc:  # any failure is the finding
            self.problems.append(f"{event_id}: {exc}")
            return web.Response(status=400)
        if self.bodies.setdefault(event_id, body) != body:
            self.problems.append(f"{event_id} arrived again with other bytes")
        self.deliveries += 1
        self.digests.add(payload["data"]["manifestDigest"])
        await asyncio.sleep(0.01)
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def listening(receiver: Receiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def subscribe(url: str, hook: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(
            url + "/v1/webhooks", json={"url": hook, "types": ["manifest.anchored"]},
            headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
        assert resp.status == 201, await resp.text()
        made: dict[str, Any] = await resp.json()
        return made


async def submit_until_stored(url: str, docs: list[dict[str, Any]]) -> None:
    """Send `docs` until the service answers for them (it may be dead or starting)."""
    while True:
        try:
            async with LedgerClient(url, timeout=10.0) as client:
                await client.submit_many(docs)
                return
        except Exception:  # a dead service: send again once it is back
            await asyncio.sleep(0.2)


async def test_kill_9_mid_delivery_and_a_receiver_outage_lose_no_event(
        chain: Chain, services: Callable[..., ServiceProcess]) -> None:
    rng = random.Random(17)
    receiver = Receiver()
    service = services(chain, ENV)
    await service.start()
    async with listening(receiver) as hook:
        async with LedgerClient(service.url, timeout=10.0) as client:
            key = await new_creator(client, "creator:hooks")
        receiver.secret = (await subscribe(service.url, hook))["secret"]
        digests: set[str] = set()
        for cycle in range(KILLS):
            docs = [manifest("creator:hooks", key, cycle * 100 + n) for n in range(40)]
            digests |= {parse_manifest(doc).digest_hex() for doc in docs}
            receiver.down = cycle == 2  # one outage spans a kill and a restart
            await submit_until_stored(service.url, docs)
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            service.kill()
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            await service.start()
        receiver.down = False

        async def all_arrived() -> bool:
            return digests <= receiver.digests

        await eventually(all_arrived, "every anchored manifest's event", timeout=120.0)
    assert receiver.problems == []
    assert len(receiver.bodies) == len(digests)
    print(f"{len(digests)} events, {receiver.deliveries} deliveries, {service.starts} starts")
