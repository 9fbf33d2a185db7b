"""The edge under test: the Worker in workerd (ledger/cli/worker.py, through Miniflare),
a local origin holding files, a stand-in licence server signing tokens with joserfc,
and a stand-in usage intake that checks the real HMAC (for the tests without a chain).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import ECKey

from ledger.cli.worker import Edge, start_edge
from ledger.core.hashing import sha256
from ledger.core.royalty.auth import KeyRing, SourceKey, verify_request
from tests.support import free_port as free_port  # for the tests and bench
from tests.support import until as until

ROOT = Path(__file__).parents[2]
SOURCE = "edge-1"
SECRET = bytes(range(32))
KEYS = json.dumps({"version": "ledger-usage-keys/1",
                   "sources": {SOURCE: [{"id": "k1", "secret": SECRET.hex()}]}})


async def serve_app(app: web.Application, port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve `app` on loopback; its runner (to clean up) and its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{bound}"


@asynccontextmanager
async def origin(files: Mapping[str, bytes], seen: list[Mapping[str, str]] | None = None
                 ) -> AsyncIterator[str]:
    """A plain file server (a bucket) holding `files` by path; yields its base URL.
    Each request's headers are added to `seen` if given."""
    async def get(request: web.Request) -> web.StreamResponse:
        if seen is not None:
            seen.append(dict(request.headers))
        body = files.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/{tail:.*}", get)
    runner, url = await serve_app(app)
    try:
        yield url
    finally:
        await runner.cleanup()


def content_hash(body: bytes) -> str:
    """`sha256:<hex>` of a file, as manifests and licence tokens name it."""
    return "sha256:" + sha256(body).hex()


@dataclass
class Issuer:
    """A licence server's signing side: keys published at `/olp/jwks.json`."""

    url: str = ""
    key: ECKey = field(default_factory=lambda: ECKey.generate_key(
        "P-256", parameters={"kid": "k1"}, private=True))
    down: bool = False

    def token(self, claims: Mapping[str, Any], *, key: ECKey | None = None,
              lifetime_s: int = 300, issued: float | None = None) -> str:
        """A licence token with the contract's registered claims around `claims`."""
        signer = key or self.key
        now = int(issued if issued is not None else time.time())
        payload = {"iss": self.url, "iat": now, "nbf": now, "exp": now + lifetime_s, **claims}
        header = {"alg": "ES256", "typ": "JWT", "kid": signer.kid}
        return jwt.encode(header, payload, signer)


@asynccontextmanager
async def issuer() -> AsyncIterator[Issuer]:
    """A stand-in licence server publishing one P-256 key."""
    found = Issuer()

    async def jwks(_: web.Request) -> web.Response:
        if found.down:
            return web.Response(status=503, text="down")
        return web.json_response({"keys": [found.key.as_dict(private=False)]})

    app = web.Application()
    app.router.add_get("/olp/jwks.json", jwks)
    runner, found.url = await serve_app(app)
    try:
        yield found
    finally:
        await runner.cleanup()


@dataclass
class Intake:
    """A stand-in `POST /v1/usage`: checks the request's HMAC with the ledger's own code,
    stores events once by id, and can be switched off (503) or made to refuse a buyer
    (withdrawing its deposit) or an asset (its licence revoked)."""

    url: str = ""
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: int = 0
    down: bool = False
    withdrawing: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)  # asset ids

    async def handle(self, request: web.Request) -> web.Response:
        self.posts += 1
        if self.down:
            return web.Response(status=503, text="down")
        body = await request.read()
        ring = KeyRing({SOURCE: (SourceKey("k1", SECRET),)})
        verify_request(ring, request.headers.get("X-Ledger-Source"),
                       request.headers.get("X-Ledger-Timestamp"),
                       request.headers.get("X-Ledger-Signature"), body, now_s=time.time())
        results = [self._one(event) for event in json.loads(body)["events"]]
        return web.json_response({"results": results}, status=202)

    def _one(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["buyer"] in self.withdrawing:
            return {"httpStatus": 409, "error": {"code": "buyer_withdrawing", "field": "buyer"}}
        if event["asset"]["assetId"] in self.revoked:
            return {"httpStatus": 409, "error": {"code": "licence_refused", "field": "asset",
                                                 "statement": "0x" + "cd" * 32}}
        created = event["eventId"] not in self.events
        self.events.setdefault(event["eventId"], event)
        return {"eventId": event["eventId"], "httpStatus": 202 if created else 200}


@asynccontextmanager
async def intake() -> AsyncIterator[Intake]:
    """A stand-in usage intake on a local port."""
    found = Intake()
    app = web.Application()
    app.router.add_post("/v1/usage", found.handle)
    runner, found.url = await serve_app(app)
    try:
        yield found
    finally:
        await runner.cleanup()


def bindings(*, issuer_url: str, origin_url: str, ledger_url: str,
             **extra: str) -> dict[str, str]:
    """The Worker's settings (docs/web-licensing.md) for a test: quick retries."""
    return {"ISSUER": issuer_url, "ORIGIN": origin_url, "LEDGER_URL": ledger_url,
            "LICENSED_PREFIX": "/files/", "USAGE_SOURCE": SOURCE, "USAGE_SECRET": SECRET.hex(),
            "QUEUE_FLUSH_DELAY_MS": "100", "QUEUE_RETRY_MIN_MS": "200",
            "QUEUE_RETRY_MAX_MS": "1000", **extra}


@asynccontextmanager
async def edge(persist: Path, settings: Mapping[str, str], port: int = 0,
               script: Path | None = None, cf: Mapping[str, Any] | None = None
               ) -> AsyncIterator[Edge]:
    """The Worker (or `script`; `cf`: see `start_edge`) for the length of the block."""
    found = await start_edge(persist, settings, port, script, cf)
    try:
        yield found
    finally:
        await found.stop()
