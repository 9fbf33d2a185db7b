"""The Worker in workerd (Miniflare) against a local origin, a stand-in licence server
and a stand-in usage intake that checks the real HMAC: every refusal with its status
and headers, a served fetch metered once, and the durable queue across an intake
outage, a full queue and a Worker restart. With the real `ledger serve`:
tests/edge/test_edge_ledger.py."""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from joserfc.jwk import ECKey

from tests.edge.harness import (
    SOURCE,
    Edge,
    Intake,
    Issuer,
    bindings,
    content_hash,
    edge,
    free_port,
    intake,
    issuer,
    origin,
    start_edge,
    until,
)

pytestmark = pytest.mark.node

PHOTO = b"\xff\xd8 a photo " * 100
OTHER = b"\xff\xd8 another photo " * 100
FILES = {"/files/photo.jpg": PHOTO, "/files/other.jpg": OTHER, "/public/index.html": b"hello"}
BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OPERATOR = "operator-token-" + "k" * 32
QUEUES = "/.well-known/ledger-edge/queues"
LEDGER_ASSET = {"manifestDigest": "0x" + "ab" * 32, "assetId": "asset:photo-1"}


@dataclass
class World:
    edge: Edge
    issuer: Issuer
    intake: Intake
    http: aiohttp.ClientSession
    persist: Path
    settings: dict[str, str]
    port: int
    seen: list[Mapping[str, str]]

    def token(self, body: bytes = PHOTO, **overrides: Any) -> str:
        claims = {"sub": "client-1", "jti": "tok-1", "scope": "ai-train",
                  "asset": content_hash(body), "buyer": BUYER, "ledger_asset": LEDGER_ASSET,
                  "lic": "non-exclusive-training", **overrides}
        return self.issuer.token(claims)

    async def get(self, path: str, token: str | None = None, **headers: str
                  ) -> tuple[int, bytes, Any]:
        if token is not None:
            headers["Authorization"] = f"License {token}"
        async with self.http.get(self.edge.url + path, headers=headers) as resp:
            return resp.status, await resp.read(), resp.headers

    async def restart(self, **extra: str) -> None:
        await self.edge.stop()
        self.edge = await start_edge(self.persist, {**self.settings, **extra}, self.port)

    async def restart_at(self, colo: str, **extra: str) -> None:
        """Restart with every request arriving at Cloudflare location `colo`."""
        await self.edge.stop()
        self.edge = await start_edge(self.persist, {**self.settings, **extra}, self.port,
                                     cf={"colo": colo})


async def _world(tmp_path: Path, **extra: str) -> AsyncIterator[World]:
    seen: list[Mapping[str, str]] = []
    async with origin(FILES, seen) as origin_url, issuer() as iss, intake() as usage, \
            aiohttp.ClientSession() as http:
        settings = bindings(issuer_url=iss.url, origin_url=origin_url, ledger_url=usage.url,
                            JWKS_COOLDOWN_MS="0", **extra)
        port = free_port()
        async with edge(tmp_path / "queue", settings, port) as running:
            found = World(running, iss, usage, http, tmp_path / "queue", settings, port, seen)
            yield found
            await found.edge.stop()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for found in _world(tmp_path):
        yield found


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[World]:
    """A Worker whose queue holds 3 events."""
    async for found in _world(tmp_path, QUEUE_LIMIT="3"):
        yield found


@pytest.fixture
async def stale(tmp_path: Path) -> AsyncIterator[World]:
    """A Worker whose cached keys are stale at once."""
    async for found in _world(tmp_path, JWKS_MAX_AGE_MS="1"):
        yield found


def _challenge(headers: Any, error: str) -> None:
    assert headers["WWW-Authenticate"].startswith("License realm=")
    assert f'error="{error}"' in headers["WWW-Authenticate"]
    assert headers["Link"].endswith('/rsl.xml>; rel="license"; type="application/rsl+xml"')


async def test_a_valid_token_is_served_and_metered_once_per_fetch(world: World) -> None:
    token = world.token()
    first = await world.get("/files/photo.jpg", token)
    # A client cannot pick the request id: the same cf-ray twice is still two uses.
    second = await world.get("/files/photo.jpg", token, **{"cf-ray": "1", "X-Request-Id": "1"})
    third = await world.get("/files/photo.jpg", token, **{"cf-ray": "1", "X-Request-Id": "1"})
    for status, body, headers in (first, second, third):
        assert (status, body) == (200, PHOTO)
        assert 'rel="license"' in headers["Link"]
        assert headers["Cache-Control"] == "private, no-store"
    # The crawler's credentials and range stay at the edge: the origin sees neither.
    assert (await world.get("/files/photo.jpg", token, Range="bytes=0-1"))[1] == PHOTO
    assert not [h for h in world.seen if "Authorization" in h or "Range" in h]
    await until(lambda: _delivered(world, 4))
    ids = {answer[2]["X-Usage-Event"] for answer in (first, second, third)}
    assert len(ids) == 3 and ids <= set(world.intake.events)
    for event in (world.intake.events[i] for i in ids):
        assert event["eventId"].startswith("olp:tok-1:")
        assert (event["buyer"], event["asset"], event["units"], event["source"]) == (
            BUYER, LEDGER_ASSET, 1, SOURCE)
        assert event["time"].endswith("Z") and "." in event["time"]
    assert (await world.edge.stats())["queued"] == 0


async def _delivered(world: World, n: int) -> bool:
    return len(world.intake.events) == n and (await world.edge.stats())["queued"] == 0


async def test_queue_split_colo_meters_each_location_in_a_queue_of_its_own(
        world: World) -> None:
    """QUEUE_SPLIT=colo: a fetch that arrives at AMS is written to the queue usage:AMS,
    one at NRT to usage:NRT, one without a location code to usage:local; each queue
    delivers its own, and the ledger gets every event once."""
    token = world.token()
    arrivals = [("AMS", 1), ("NRT", 2), ("not a code", 1)]
    sent = 0
    for colo, fetches in arrivals:
        await world.restart_at(colo, QUEUE_SPLIT="colo")
        for _ in range(fetches):
            assert (await world.get("/files/photo.jpg", token))[0] == 200
        sent += fetches
        # Each location's events are delivered before the next arrives: nothing is
        # left to an alarm across a restart, so the counts below are each queue's own.
        await until(functools.partial(_intake_has, world, sent))
    delivered = {name: (await world.edge.stats(name))["delivered"]
                 for name in ("usage:AMS", "usage:NRT", "usage:local", "usage")}
    assert delivered == {"usage:AMS": 1, "usage:NRT": 2, "usage:local": 1, "usage": 0}
    assert len(world.intake.events) == 4
    # The operator sees every location's queue at one address, without knowing them.
    await world.restart_at("AMS", QUEUE_SPLIT="colo", OPERATOR_TOKEN=OPERATOR)
    status, body, _ = await world.get(QUEUES, Authorization=f"Bearer {OPERATOR}")
    queues = json.loads(body)["queues"]
    assert status == 200 and {name: q["delivered"] for name, q in queues.items()} == delivered
    assert all(q["queued"] == 0 and q["refused"] == [] for q in queues.values())


async def test_the_queues_view_needs_the_operator_token(world: World) -> None:
    """Without OPERATOR_TOKEN the path is the origin's like any other; with it, only the
    operator's bearer token opens it (401 with a Bearer challenge otherwise)."""
    assert (await world.get(QUEUES))[0] == 404  # the origin has no such file
    await world.restart(OPERATOR_TOKEN=OPERATOR)
    for sent in ({}, {"Authorization": "Bearer " + OPERATOR[:-1]},
                 {"Authorization": "Bearer " + OPERATOR + "x"}, {"Authorization": OPERATOR},
                 {"Authorization": "License " + world.token()}):
        status, body, headers = await world.get(QUEUES, **sent)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer "), sent
        assert json.loads(body)["error"]["code"] == "unauthenticated"
    assert (await world.get("/files/photo.jpg", world.token()))[0] == 200
    status, body, headers = await world.get(QUEUES, Authorization=f"Bearer {OPERATOR}")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert list(json.loads(body)["queues"]) == ["usage"]
    # HEAD as GET would answer it, without the body; nothing else.
    async with world.http.head(world.edge.url + QUEUES,
                               headers={"Authorization": f"Bearer {OPERATOR}"}) as resp:
        assert resp.status == 200 and await resp.read() == b""
        assert int(resp.headers["Content-Length"]) == len(body)
    async with world.http.head(world.edge.url + QUEUES) as resp:
        assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer ")
    async with world.http.post(world.edge.url + QUEUES,
                               headers={"Authorization": f"Bearer {OPERATOR}"}) as resp:
        assert (resp.status, resp.headers["Allow"]) == (405, "GET, HEAD")


async def _intake_has(world: World, n: int) -> bool:
    return len(world.intake.events) == n


async def test_no_token_is_401_with_the_license_challenge(world: World) -> None:
    status, _, headers = await world.get("/files/photo.jpg")
    assert status == 401
    _challenge(headers, "invalid_request")
    for bad in ("Bearer " + world.token(), "License", "License a b", "license " + world.token()):
        status, _, headers = await world.get("/files/photo.jpg", Authorization=bad)
        assert status == 401, bad
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        async with world.http.request(method, world.edge.url + "/files/photo.jpg", headers={
                "Authorization": "License " + world.token()}) as resp:
            assert (resp.status, resp.headers["Allow"]) == (405, "GET, HEAD"), method
    assert (await world.edge.stats())["queued"] == 0


def _head_then_get(url: str, token: str | None) -> tuple[http.client.HTTPResponse, bytes,
                                                        int, bytes]:
    """A HEAD and then a GET on one connection: the GET's answer arrives whole only if
    the HEAD's carried no body."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=30)
    headers = {} if token is None else {"Authorization": f"License {token}"}
    try:
        conn.request("HEAD", parts.path, headers=headers)
        head = conn.getresponse()
        head_body = head.read()
        conn.request("GET", parts.path, headers=headers)
        got = conn.getresponse()
        return head, head_body, got.status, got.read()
    finally:
        conn.close()


async def test_head_answers_as_get_would_without_a_body_and_meters_nothing(
        world: World) -> None:
    url = world.edge.url + "/files/photo.jpg"
    head, body, status, _ = await asyncio.to_thread(_head_then_get, url, None)
    assert (head.status, body, status) == (401, b"", 401)
    _challenge(head.headers, "invalid_request")
    head, body, status, got = await asyncio.to_thread(_head_then_get, url, world.token())
    assert (head.status, body, status, got) == (200, b"", 200, PHOTO)
    assert head.headers["Content-Length"] == str(len(PHOTO))
    assert 'rel="license"' in head.headers["Link"] and "X-Usage-Event" not in head.headers
    head, body, _, _ = await asyncio.to_thread(_head_then_get, url, world.token(OTHER))
    assert (head.status, body) == (403, b"")
    # Only the one GET with a valid token was a use.
    await until(lambda: _delivered(world, 1))


def _bad_tokens(world: World) -> dict[str, str]:
    good = {"jti": "x", "asset": content_hash(PHOTO), "buyer": BUYER, "ledger_asset": LEDGER_ASSET}
    # Another key under the licence server's kid: the signature does not verify.
    forger = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
    unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + world.token().split(".")[1] + "."
    return {
        "forged": world.issuer.token(good, key=forger),
        "expired": world.issuer.token(good, issued=0, lifetime_s=300),
        "not yet valid": world.token(nbf=2**40, iat=2**40),
        "other issuer": world.token(iss="https://elsewhere.example"),
        "no buyer": world.token(buyer="alice"),
        "bad asset claim": world.token(asset="md5:00"),
        "no ledger asset": world.token(ledger_asset="asset:photo-1"),
        "garbage": "abc.def.ghi",
        "alg none": unsigned,
    }


async def test_an_invalid_token_is_401(world: World) -> None:
    for case, token in _bad_tokens(world).items():
        status, body, headers = await world.get("/files/photo.jpg", token)
        assert status == 401, (case, body)
        _challenge(headers, "invalid_token")
        assert PHOTO not in body
    assert (await world.edge.stats())["queued"] == 0


async def test_a_token_for_another_asset_is_403(world: World) -> None:
    status, body, headers = await world.get("/files/photo.jpg", world.token(OTHER))
    assert status == 403
    _challenge(headers, "insufficient_scope")
    assert PHOTO not in body
    assert (await world.edge.stats())["queued"] == 0


async def test_a_rotated_key_is_fetched_on_its_first_token(world: World) -> None:
    assert (await world.get("/files/photo.jpg", world.token()))[0] == 200
    world.issuer.key = ECKey.generate_key("P-256", parameters={"kid": "k2"}, private=True)
    assert (await world.get("/files/photo.jpg", world.token()))[0] == 200


async def test_outside_the_prefix_and_robots_need_no_token(world: World) -> None:
    status, body, _ = await world.get("/public/index.html")
    assert (status, body) == (200, b"hello")
    status, body, _ = await world.get("/robots.txt")
    assert status == 200
    assert f"License: {world.issuer.url}/rsl.xml" in body.decode()
    assert (await world.get("/files/missing.jpg", world.token()))[0] == 404
    assert (await world.edge.stats())["queued"] == 0


async def test_fetches_are_served_through_an_intake_outage_and_delivered_once(
        world: World) -> None:
    world.intake.down = True
    token = world.token()
    for _ in range(5):
        assert (await world.get("/files/photo.jpg", token))[0] == 200
    await until(lambda: _failed_twice(world))
    assert world.intake.events == {}
    world.intake.down = False
    await until(lambda: _delivered(world, 5))
    assert (await world.edge.stats())["delivered"] == 5


async def _failed_twice(world: World) -> bool:
    return int((await world.edge.stats())["failures"]) >= 2


async def test_a_full_queue_refuses_rather_than_serve_unmetered(small: World) -> None:
    small.intake.down = True
    token = small.token()
    assert [(await small.get("/files/photo.jpg", token))[0] for _ in range(3)] == [200] * 3
    status, body, headers = await small.get("/files/photo.jpg", token)
    assert status == 503
    assert int(headers["Retry-After"]) >= 1
    assert PHOTO not in body
    assert (await small.edge.stats())["queued"] == 3
    small.intake.down = False
    await until(lambda: _delivered(small, 3))
    assert (await small.get("/files/photo.jpg", token))[0] == 200


async def test_queued_events_survive_a_worker_restart(world: World) -> None:
    world.intake.down = True
    token = world.token()
    ids = [(await world.get("/files/photo.jpg", token))[2]["X-Usage-Event"] for _ in range(4)]
    await world.restart()
    assert (await world.edge.stats())["queued"] == 4
    world.intake.down = False
    await until(lambda: _delivered(world, 4))
    assert set(world.intake.events) == set(ids)


async def test_a_buyer_the_ledger_will_not_charge_gets_402(world: World) -> None:
    world.intake.withdrawing.add(BUYER)
    assert (await world.get("/files/photo.jpg", world.token()))[0] == 200
    await until(lambda: _refused(world))
    status, body, headers = await world.get("/files/photo.jpg", world.token())
    assert status == 402
    _challenge(headers, "payment_required")
    assert PHOTO not in body
    async with world.http.head(world.edge.url + "/files/photo.jpg", headers={
            "Authorization": "License " + world.token()}) as resp:
        assert resp.status == 402


async def _refused(world: World) -> bool:
    return bool((await world.edge.stats())["refused"])


async def test_a_token_that_outlived_its_licence_is_refused_once_the_ledger_says_so(
        world: World) -> None:
    # Revoked after the token was issued: the ledger refuses the usage (never charged),
    # and the edge stops serving that buyer that asset, as for a revoked token.
    world.intake.revoked.add(LEDGER_ASSET["assetId"])
    token = world.token()
    assert (await world.get("/files/photo.jpg", token))[0] == 200
    await until(lambda: _refused(world))
    assert (await world.edge.stats())["refused"][0]["code"] == "licence_refused"
    status, body, headers = await world.get("/files/photo.jpg", token)
    assert status == 401
    _challenge(headers, "invalid_token")
    assert PHOTO not in body
    other = LEDGER_ASSET | {"assetId": "asset:other"}
    assert (await world.get("/files/other.jpg", world.token(OTHER, ledger_asset=other)))[0] == 200


async def test_stale_keys_still_verify_while_the_licence_server_is_down(stale: World) -> None:
    assert (await stale.get("/files/photo.jpg", stale.token()))[0] == 200
    stale.issuer.down = True
    assert (await stale.get("/files/photo.jpg", stale.token()))[0] == 200
    assert (await stale.get("/files/photo.jpg", _bad_tokens(stale)["forged"]))[0] == 401
    # The keys were kept with the queue: a Worker started during the outage has them.
    await stale.restart()
    assert (await stale.get("/files/photo.jpg", stale.token()))[0] == 200
    stale.issuer.key = ECKey.generate_key("P-256", parameters={"kid": "k2"}, private=True)
    assert (await stale.get("/files/photo.jpg", stale.token()))[0] == 401


async def test_no_keys_at_all_is_503_not_401(world: World) -> None:
    # A Worker that never reached the licence server cannot tell a forged token from a
    # valid one: it asks the crawler to come back, and serves nothing.
    world.issuer.down = True
    status, body, headers = await world.get("/files/photo.jpg", world.token())
    assert status == 503 and int(headers["Retry-After"]) >= 1
    _challenge(headers, "temporarily_unavailable")
    assert PHOTO not in body


@pytest.fixture
async def misconfigured(tmp_path: Path) -> AsyncIterator[World]:
    """A Worker whose QUEUE_LIMIT is not a number."""
    async for found in _world(tmp_path, QUEUE_LIMIT="abc"):
        yield found


async def _refuses_all(world: World, setting: str) -> None:
    for path, token in (("/files/photo.jpg", world.token()), ("/public/index.html", None),
                        ("/robots.txt", None)):
        status, body, headers = await world.get(path, token)
        assert status == 500, (setting, path, status)
        assert headers["Content-Type"] == "application/json"
        error = json.loads(body)["error"]
        assert (error["code"], error["field"]) == ("misconfigured", setting)
        assert setting in error["message"]
        assert PHOTO not in body


async def test_a_bad_setting_refuses_every_request_rather_than_serve_unmetered(
        misconfigured: World) -> None:
    # A NaN QUEUE_LIMIT compares false with every count: a queue that is never full.
    await _refuses_all(misconfigured, "QUEUE_LIMIT")
    bad = {"QUEUE_LIMIT": "-1", "QUEUE_BATCH": "1e999", "MAX_OBJECT_BYTES": "1.5",
           "QUEUE_RETRY_MAX_MS": "10", "USAGE_SECRET": "not hex",
           "QUEUE_LOCATION_HINT": "mars", "QUEUE_SPLIT": "region",
           "OPERATOR_TOKEN": "too short"}
    for setting, value in bad.items():
        await misconfigured.restart(**{"QUEUE_LIMIT": "3", setting: value})
        await _refuses_all(misconfigured, setting)
    await misconfigured.restart(QUEUE_LIMIT="3", QUEUE_SPLIT="colo", QUEUE_LOCATION_HINT="weur")
    await _refuses_all(misconfigured, "QUEUE_LOCATION_HINT")
    assert misconfigured.intake.posts == 0
    await misconfigured.restart(QUEUE_LIMIT="3")
    assert (await misconfigured.get("/files/photo.jpg", misconfigured.token()))[0] == 200
    # A location hint only places the queue when it is first made: the same queue.
    await misconfigured.restart(QUEUE_LIMIT="3", QUEUE_LOCATION_HINT="weur")
    assert (await misconfigured.get("/files/photo.jpg", misconfigured.token()))[0] == 200
    await until(lambda: _delivered(misconfigured, 2))


async def test_an_object_larger_than_the_edge_checks_is_502_and_not_metered(
        world: World) -> None:
    await world.restart(MAX_OBJECT_BYTES=str(len(PHOTO) - 1))
    status, body, _ = await world.get("/files/photo.jpg", world.token())
    assert status == 502 and PHOTO not in body
    assert (await world.get("/public/index.html"))[0] == 200
    assert (await world.edge.stats())["queued"] == 0
