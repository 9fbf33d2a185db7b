"""The licence server and RSL documents over real HTTP: discovery, registration, the
token endpoint with RFC 6749 §5.2 errors, introspection, JWKS and a buyer's tokens;
every answer checked against the OpenAPI document; registration limits; and the
``Link`` to RSL documents on the asset lookup."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from ledger.api.app import create_app
from ledger.api.errors import Handler
from ledger.api.openapi import page_operations
from ledger.api.openapi.operation import FORM
from ledger.app.clock import now_ms
from ledger.app.licence_server import LicenceServer, WebLicensing
from ledger.app.provenance import ServiceContext
from ledger.config import Settings
from ledger.core.rsl import REGISTER_TAG
from ledger.metrics import Metrics
from ledger.storage.assets import Registration
from ledger.storage.licence_server import LicenceServerStore
from tests.contract import answer_problems, operation, validator
from tests.unit.app.licensing_world import (
    BASE,
    BUYER,
    LICENCE,
    FakePublished,
    LicensingWorld,
    registration,
)

A0 = "https://cdn.example/a0.png"
_PAGES = {op.path for op in page_operations()}


@dataclass
class Declared:
    """What the answers of the declared pages were, and how they broke the document."""

    seen: set[tuple[str, str, int]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @web.middleware
    async def check(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Check each answer of a declared page against its operation."""
        response = await handler(request)
        route = request.match_info.route.resource
        path = None if route is None else route.canonical
        if path in _PAGES and isinstance(response, web.Response):
            body = response.body if isinstance(response.body, bytes) else b""
            self.seen.add((request.method, path, response.status))
            self.problems += answer_problems(request.method, path, response.status,
                                             response.content_type, body)
        return response


@pytest.fixture
def declared() -> Declared:
    return Declared()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[LicensingWorld]:
    made = await LicensingWorld.open(tmp_path)
    yield made
    await made.engine.dispose()


class FakeLibrary:
    """The lookup by content hash over the world's manifest (each asset confirmed)."""

    def __init__(self, world: LicensingWorld) -> None:
        self._rows = FakePublished(world.manifest).rows

    async def by_hash(self, content_hash: bytes) -> list[Registration]:
        return [Registration(r.manifest_digest, "1.0", r.asset_index, r.asset_id, r.entry,
                             r.creator_id, None, None, "confirmed", 1, None)
                for r in self._rows if content_hash.hex() in r.entry.decode()]


class FakeEvidence:
    """Every asset's evidence package is final (its body is no matter here)."""

    async def evidence(self, digest: bytes, index: int) -> Any:
        return SimpleNamespace(to_json=lambda: b"{}")


def _app(world: LicensingWorld, declared: Declared, server: LicenceServer,
         settings: Settings | None = None) -> web.Application:
    ctx = cast(ServiceContext, SimpleNamespace(
        metrics=Metrics(), licensing=WebLicensing(world.publisher, server),
        library=FakeLibrary(world), evidence=FakeEvidence(),
        chain=SimpleNamespace(chain_id=31337, registry="0x00")))

    @asynccontextmanager
    async def open_context() -> AsyncIterator[ServiceContext]:
        yield ctx

    app = create_app((settings or Settings()).http, open_context)
    app.middlewares.insert(0, declared.check)
    return app


@pytest.fixture
async def client(world: LicensingWorld, declared: Declared
                 ) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(_app(world, declared, world.server))) as made:
        yield made
    assert declared.problems == []


async def _register(client: TestClient[Any, Any]) -> tuple[str, str]:
    answer = await client.post("/olp/register", json=registration(now_ms()))
    assert answer.status == 201 and answer.headers["Cache-Control"] == "no-store"
    body = await answer.json()
    assert body["buyer"] == BUYER
    return body["client_id"], body["client_secret"]


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(
        f"{client_id}:{secret}".encode()).decode()}


def _grant(resource: str = A0, usage: str = "ai-train") -> dict[str, str]:
    return {"grant_type": "rsl", "resource": resource, "license": LICENCE.format(usage)}


async def test_discovery_from_robots_txt_to_the_document(client: TestClient[Any, Any]) -> None:
    robots = await client.get("/robots.txt")
    assert robots.status == 200 and f"License: {BASE}/rsl.xml" in await robots.text()
    doc = await client.get("/rsl.xml")
    assert doc.status == 200 and doc.content_type == "application/rsl+xml"
    assert doc.headers["Link"] == (f'<{BASE}/rsl.xml>; rel="license"; '
                                   'type="application/rsl+xml"')
    assert b'url="https://cdn.example/a0.png"' in await doc.read()
    assert (await client.get("/rsl/creators/creator:a.xml")).status == 200
    bad = await client.get("/rsl/manifests/0x12.xml")
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "digest"


async def test_token_introspection_jwks_and_the_buyers_tokens(
        client: TestClient[Any, Any]) -> None:
    client_id, secret = await _register(client)
    answer = await client.post("/olp/token", data=_grant(), headers=_basic(client_id, secret))
    assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
    token = (await answer.json())["access_token"]
    # client_secret_post works as well as Basic (RFC 6749 §2.3.1).
    form = {"token": token, "client_id": client_id, "client_secret": secret}
    introspected = await (await client.post("/olp/introspect", data=form)).json()
    assert introspected["active"] is True and introspected["buyer"] == BUYER
    jwks = await (await client.get("/olp/jwks.json")).json()
    assert [k["kty"] for k in jwks["keys"]] == ["EC"] and "d" not in jwks["keys"][0]
    listed = await client.get("/olp/tokens", headers=_basic(client_id, secret))
    assert [t["jti"] for t in (await listed.json())["tokens"]] == [introspected["jti"]]
    assert (await client.get("/olp/tokens")).status == 401


async def _error(answer: Any) -> tuple[int, str]:
    body = await answer.json()
    assert set(body) == {"error", "error_description"}
    return answer.status, body["error"]


async def test_oauth_errors_follow_rfc_6749(client: TestClient[Any, Any]) -> None:
    client_id, secret = await _register(client)
    auth = _basic(client_id, secret)
    wrong = await client.post("/olp/token", data=_grant(), headers=_basic(client_id, "nope"))
    assert await _error(wrong) == (401, "invalid_client")
    assert wrong.headers["WWW-Authenticate"].startswith("Basic ")
    cases = [
        ({**_grant(), "grant_type": "client_credentials"}, "unsupported_grant_type"),
        (_grant("https://cdn.example/nothing.png"), "invalid_target"),
        (_grant(usage="search"), "invalid_scope"),
        ({"grant_type": "rsl", "resource": A0}, "invalid_request"),
    ]
    for form, error in cases:
        answer = await client.post("/olp/token", data=form, headers=auth)
        assert await _error(answer) == (400, error), form
    repeated = await client.post("/olp/token", data="grant_type=rsl&grant_type=rsl",
                                 headers={**auth, "Content-Type":
                                          "application/x-www-form-urlencoded"})
    assert await _error(repeated) == (400, "invalid_request")
    as_json = await client.post("/olp/token", json=_grant(), headers=auth)
    assert await _error(as_json) == (400, "invalid_request")
    both = await client.post("/olp/token", data={**_grant(), "client_secret": secret},
                             headers=auth)
    assert await _error(both) == (400, "invalid_request")
    garbage = await client.post("/olp/introspect", data={"token": "x"},
                                headers={"Authorization": "Basic !!!"})
    assert await _error(garbage) == (401, "invalid_client")


async def test_an_unauthenticated_introspection_is_refused(client: TestClient[Any, Any]) -> None:
    answer = await client.post("/olp/introspect", data={"token": "x"})
    assert await _error(answer) == (401, "invalid_client")


def _forged() -> dict[str, Any]:
    return {**registration(now_ms()), "name": "someone else"}


def _stale() -> dict[str, Any]:
    return registration(now_ms() - 6 * 60_000)


def _extra_member() -> dict[str, Any]:
    return {**registration(now_ms()), "redirect_uris": ["https://a.example/cb"]}


@pytest.mark.parametrize(("body", "says"), [
    (_forged, "signature: "), (_stale, "issuedAt: must be within 5 minutes of now"),
    (_extra_member, "redirect_uris: "),
    (lambda: b'{"wallet": 1, "wallet": 2}', "wallet: duplicate member"),
    (lambda: b"[]", "body: ")])
async def test_a_bad_registration_is_rfc_7591_and_stores_nothing(
        client: TestClient[Any, Any], world: LicensingWorld, body: Callable[[], Any],
        says: str) -> None:
    """Every refusal of the registration's content is RFC 7591's invalid_client_metadata
    (one style for a client library to read), its description beginning with the member
    at fault."""
    sent = body()
    answer = await (client.post("/olp/register", data=sent,
                                headers={"Content-Type": "application/json"})
                    if isinstance(sent, bytes) else client.post("/olp/register", json=sent))
    assert answer.status == 400 and answer.headers["Cache-Control"] == "no-store"
    got = await answer.json()
    assert got["error"] == "invalid_client_metadata"
    assert got["error_description"].startswith(says), got
    async with world.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM olp_clients"))).scalar_one() == 0


@pytest.mark.parametrize(("server", "says"), [
    ("https://evil.example/olp", "server: names another licence server; this one is "
     f"{BASE}/olp"),
    (None, "server: missing. Sign the licence server's URL")])
async def test_a_registration_for_another_server_or_none_is_refused(
        client: TestClient[Any, Any], world: LicensingWorld, server: str | None,
        says: str) -> None:
    """The relay attack over HTTP: a body the buyer signed for a hostile site's licence
    server (or in the retired form, for none) posted to ours; RFC 7591's error, and no
    client stored."""
    tag = "olp-register" if server is None else REGISTER_TAG
    answer = await client.post("/olp/register",
                               json=registration(now_ms(), server=server, tag=tag))
    assert answer.status == 400 and answer.headers["Cache-Control"] == "no-store"
    body = await answer.json()
    assert body["error"] == "invalid_client_metadata"
    assert body["error_description"].startswith(says)
    async with world.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM olp_clients"))).scalar_one() == 0


async def test_every_page_answers_as_declared(client: TestClient[Any, Any],
                                             world: LicensingWorld, declared: Declared) -> None:
    """A success and a refusal of each declared page (the fixture checks each answer
    against the document); the forms sent are the declared request shapes."""
    for path in ("/robots.txt", "/rsl.xml", "/rsl/creators/creator:a.xml",
                 f"/rsl/manifests/{world.manifest.digest_hex()}.xml", "/rsl/manifests/0x1.xml",
                 "/olp/jwks.json"):
        await client.get(path)
    await client.post("/olp/register", json=_forged())
    await client.post("/olp/register", json=registration(now_ms(), server="https://e.example"))
    client_id, secret = await _register(client)
    auth = _basic(client_id, secret)
    token_form = operation("POST", "/olp/token")["requestBody"]["content"][FORM]["schema"]
    assert list(validator(token_form).iter_errors(_grant())) == []
    token = (await (await client.post("/olp/token", data=_grant(), headers=auth)).json())
    await client.post("/olp/token", data=_grant(usage="search"), headers=auth)
    for sent in (token["access_token"], "not-a-token"):
        await client.post("/olp/introspect", data={"token": sent}, headers=auth)
    await client.post("/olp/introspect", data={"token": "x"})
    await client.get("/olp/tokens", headers=auth)
    await client.get("/olp/tokens")
    await client.get("/olp/tokens", params={"before": "soon"}, headers=auth)
    missing = []
    for op in page_operations():
        statuses = {s for m, p, s in declared.seen if (m, p) == (op.method, op.path)}
        if not any(200 <= s < 300 for s in statuses):
            missing.append(f"{op.method} {op.path}: no success")
        if any(400 <= s < 500 for s in op.answers) and not any(400 <= s < 500
                                                              for s in statuses):
            missing.append(f"{op.method} {op.path}: no refusal")
    assert missing == []


async def test_a_wallet_registers_at_most_its_cap_of_clients(
        world: LicensingWorld, declared: Declared) -> None:
    server = LicenceServer(LicenceServerStore(world.engine), world.keys, world.publisher,
                           world.held, None, None, lifetime_s=300,  # type: ignore[arg-type]
                           max_clients_per_wallet=2)
    async with TestClient(TestServer(_app(world, declared, server))) as client:
        for _ in range(2):
            await _register(client)
        third = await client.post("/olp/register", json=registration(now_ms()))
        assert third.status == 403
        assert (await third.json())["error"] == {
            "code": "too_many_clients", "field": "wallet",
            "message": "the wallet has 2 clients, the most it may register"}
        other = registration(now_ms(), key="0x" + "b3" * 32)
        assert (await client.post("/olp/register", json=other)).status == 201
    assert declared.problems == []


async def test_registrations_from_one_address_are_rate_limited(
        world: LicensingWorld, declared: Declared) -> None:
    server = LicenceServer(LicenceServerStore(world.engine), world.keys, world.publisher,
                           world.held, None, None, lifetime_s=300,  # type: ignore[arg-type]
                           register_per_minute=2)
    async with TestClient(TestServer(_app(world, declared, server))) as client:
        # Refused registrations count too: a flood of forgeries is a flood all the same.
        assert (await client.post("/olp/register", json=_forged())).status == 400
        await _register(client)
        limited = await client.post("/olp/register", json=registration(now_ms()))
        assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
        assert (await limited.json())["error"]["code"] == "rate_limited"
    assert declared.problems == []


def _by_hash(world: LicensingWorld, index: int) -> str:
    return "/v1/assets/by-hash/" + world.manifest.assets[index].hash


async def test_a_licensable_assets_lookup_links_its_rsl_document(
        client: TestClient[Any, Any], world: LicensingWorld) -> None:
    found = await client.get(_by_hash(world, 0))
    assert found.status == 200
    assert found.headers["Link"] == (
        f'<{BASE}/rsl/manifests/{world.manifest.digest_hex()}.xml>; rel="license"; '
        'type="application/rsl+xml"')
    # Under a licence RSL does not map: not licensable here, so no link.
    assert "Link" not in (await client.get(_by_hash(world, 2))).headers
    now = now_ms()
    world.statement("revoke", now - 120_000, effectiveAt=now - 1)
    assert "Link" not in (await client.get(_by_hash(world, 0))).headers


async def test_an_assets_evidence_links_its_rsl_document_while_licensable(
        client: TestClient[Any, Any], world: LicensingWorld) -> None:
    path = f"/v1/manifests/{world.manifest.digest_hex()}/assets/{{}}/evidence"
    offered = await client.get(path.format(0))
    assert offered.status == 200 and "/rsl/manifests/" in offered.headers["Link"]
    assert "Link" not in (await client.get(path.format(2))).headers
    # The conditional GET's 304 names the same document.
    again = await client.get(path.format(0), headers={"If-None-Match": offered.headers["ETag"]})
    assert again.status == 304 and again.headers["Link"] == offered.headers["Link"]
