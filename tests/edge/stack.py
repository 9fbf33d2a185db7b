"""The whole licensing loop on this machine: `ledger serve` on its embedded default
(anvil, SQLite) as licence server, RSL publisher and usage intake; an origin holding
a creator's files; the Worker in front of it; a creator whose priced manifest is
anchored with its split registered; a funded buyer. Used by tests/edge/test_loop.py
and bench/edge_bench.py."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from ledger.app.payments import Chain, address_of, deposit, register_splits, set_limits
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient
from ledger.core.manifest import Manifest
from ledger.core.royalty.terms import asset_terms
from ledger.core.signing import EthSigningKey, sign_manifest
from ledger.run.serve import running
from tests.edge.harness import KEYS, Edge, bindings, content_hash, free_port, origin, serve_app
from tests.edge.harness import start_edge as start_worker
from tests.integration.service.conftest import FAST, register, wait_for_proof

ADMIN = "t" * 32
CREATOR_KEY, BUYER_KEY = DEV_KEYS[5], DEV_KEYS[1]
CREATOR_ID = "creator:ana"
PRICE = 1_000  # wei per sample: one licensed fetch is one sample


@dataclass
class Gate:
    """A switch between the Worker and the ledger (its usage intake and its keys): while
    `down`, the ledger is unreachable from the Worker; crawlers still reach it."""

    target: str
    session: aiohttp.ClientSession
    url: str = ""
    down: bool = False

    async def forward(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            return web.Response(status=503, text="ledger unreachable")
        headers = {k: v for k, v in request.headers.items()
                   if k.lower().startswith("x-ledger-") or k.lower() == "content-type"}
        async with self.session.request(request.method, self.target + request.path,
                                        data=await request.read(), headers=headers) as resp:
            return web.Response(body=await resp.read(), status=resp.status,
                                content_type=resp.content_type)


@dataclass
class Stack:
    """Everything of the loop, running."""

    ledger: str
    site: str
    origin: str
    chain: Chain
    manifest: Manifest
    files: dict[str, bytes]  # content URL at the Worker → bytes
    gate: Gate
    worker: Edge
    persist: Path
    worker_settings: dict[str, str]
    worker_port: int
    http: aiohttp.ClientSession

    def url_of(self, i: int) -> str:
        """The content URL of the manifest's asset `i`, at the Worker."""
        return f"{self.site}/files/{self.manifest.assets[i].hash.removeprefix('sha256:')}"

    async def restart_worker(self) -> None:
        """Stop workerd and start it again on the same address and queue files."""
        await self.worker.stop()
        self.worker = await start_worker(self.persist, self.worker_settings, self.worker_port)

    async def admin(self, path: str) -> Any:
        """A read as the operator."""
        async with self.http.get(self.ledger + path,
                                 headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


def photos(n: int, size: int = 2048) -> list[bytes]:
    """`n` distinct files of `size` bytes."""
    return [secrets.token_bytes(size) for _ in range(n)]


@asynccontextmanager
async def licensed_stack(tmp_path: Path, bodies: list[bytes], **worker_extra: str
                         ) -> AsyncIterator[Stack]:
    """The loop with one creator's manifest of `bodies` (each priced `PRICE` per use,
    licensed for training) anchored, its split registered, and `BUYER_KEY` funded."""
    ledger_port, worker_port = free_port(), free_port()
    site, ledger = f"http://127.0.0.1:{worker_port}", f"http://127.0.0.1:{ledger_port}"
    hashes = [content_hash(b).removeprefix("sha256:") for b in bodies]
    settings = replace(FAST, data_dir=tmp_path / "data", port=ledger_port, public_url=ledger,
                       rsl_asset_url=site + "/files/{sha256}", usage_keys=KEYS,
                       admin_token=ADMIN, usage_batch_max_age_s=0.3, settle_interval_s=0.2)
    files = {f"/files/{h}": b for h, b in zip(hashes, bodies, strict=True)}
    async with origin(files) as origin_url, running(settings) as (service, url), \
            aiohttp.ClientSession() as http:
        assert url == ledger, url
        w3 = connect(service.rpc_url)
        chain = Chain.open(w3, service.deployment)
        manifest = await _publish(ledger, hashes)
        await register_splits(chain, CREATOR_KEY, manifest)
        await fund(chain, BUYER_KEY, manifest)
        gate = Gate(ledger, http)
        app = web.Application()
        app.router.add_post("/v1/usage", gate.forward)
        app.router.add_get("/olp/jwks.json", gate.forward)
        runner, gate.url = await serve_app(app)
        # Keys stale after a second: through an outage the Worker verifies with the
        # keys it has.
        worker_settings = bindings(issuer_url=ledger, origin_url=origin_url,
                                   ledger_url=gate.url, JWKS_URL=gate.url + "/olp/jwks.json",
                                   JWKS_MAX_AGE_MS="1000", **worker_extra)
        persist = tmp_path / "queue"
        worker = await start_worker(persist, worker_settings, worker_port)
        stack = Stack(ledger, site, origin_url, chain, manifest,
                      {site + p: b for p, b in files.items()}, gate, worker, persist,
                      worker_settings, worker_port, http)
        try:
            yield stack
        finally:
            await stack.worker.stop()
            await runner.cleanup()
            await w3.provider.disconnect()


async def fund(chain: Chain, key: str, manifest: Manifest, amount: int = 10**18) -> None:
    """A deposit of `amount` wei and no price or spending limit on the manifest's assets."""
    await deposit(chain, key, "ETH", amount)
    keys = {asset_terms(manifest, manifest.digest(), a.id).asset_key: ANY_PRICE
            for a in manifest.assets}
    await set_limits(chain, key, "ETH", spending_cap=NO_CAP, max_prices=keys)


async def _publish(ledger: str, hashes: list[str]) -> Manifest:
    key = EthSigningKey.from_hex(CREATOR_KEY)
    assets = [{"id": f"asset:photo-{i}", "type": "application/octet-stream",
               "hash": "sha256:" + h, "licenses": ["training"],
               "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                              "unit": "sample", "amount": str(PRICE)}}
              for i, h in enumerate(hashes)]
    doc = sign_manifest({"manifestVersion": "1.0",
                         "creator": {"id": CREATOR_ID, "wallet": address_of(CREATOR_KEY)},
                         "assets": assets}, key)
    async with LedgerClient(ledger) as client:
        await register(client, CREATOR_ID, key)
        status, body = await client.submit(doc)
        assert status == 202, body
        manifest = Manifest.from_obj(doc)
        await wait_for_proof(client, manifest.digest_hex())
    return manifest

