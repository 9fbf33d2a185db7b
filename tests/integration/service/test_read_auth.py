"""Who may read what (issue 11): buyer views and proposals, creator statements and usage
events are their owners' and the operator's; usage event ids are each source's own."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from eth_account import Account

from ledger.cli.client import LedgerClient
from ledger.core.reads import signed_read_headers
from ledger.core.royalty.auth import request_headers
from ledger.core.royalty.events import NewUsage
from ledger.core.signing import EthSigningKey
from ledger.run.serve import running
from tests.integration.service.conftest import FAST, Running, p256, register

SECRETS = {"edge-a": b"\xaa" * 32, "edge-b": b"\xbb" * 32}
KEYS = json.dumps({"version": "ledger-usage-keys/1", "sources": {
    name: [{"id": "k1", "secret": secret.hex()}] for name, secret in SECRETS.items()}})
ADMIN = "operator-token-" + "x" * 32
BUYER = EthSigningKey.from_hex("0x" + "11" * 32)
STRANGER = EthSigningKey.from_hex("0x" + "22" * 32)


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Running]:
    """The service with two metering sources and an operator token; usage is never
    sealed here, so stored test events stay as they are."""
    settings = replace(FAST, data_dir=tmp_path / "data", usage_keys=KEYS, admin_token=ADMIN,
                       usage_batch_max_age_s=3600.0)
    async with running(settings) as (service, url), LedgerClient(url) as client:
        yield Running(service, url, client)


async def get(svc: Running, path: str, headers: dict[str, str] | None = None
              ) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, \
            http.get(svc.url + path, headers=headers or {}) as resp:
        if resp.content_type == "text/csv":
            return resp.status, await resp.text()
        return resp.status, await resp.json(content_type=None)


def as_source(source: str, path: str, *, stamp: int | None = None) -> dict[str, str]:
    """HMAC headers of a source's GET of `path`."""
    return request_headers(SECRETS[source], source, f"GET {path}".encode(),
                           int(time.time()) if stamp is None else stamp)


def operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN}"}


def event(source: str, event_id: str, units: int) -> NewUsage:
    body = json.dumps({"source": source, "eventId": event_id, "units": units}).encode()
    return NewUsage(
        event_id=event_id, digest=bytes([units]) * 32, body=body, source=source,
        buyer=BUYER.public_id[4:], creator_id="creator:c", manifest_digest=b"\x01" * 32,
        asset_id="asset:x", asset_key=b"\x02" * 32, token="ETH", units=units,
        event_time=1, accepted_at=1,
    )


async def test_a_source_cannot_pre_claim_another_sources_event_id(svc: Running) -> None:
    store = svc.service.ctx.usage.store
    # A stores "e-1" first; B's own "e-1" is another event, not a conflict.
    assert await store.add([event("edge-a", "e-1", 5)]) == [(b"\x05" * 32, True)]
    assert await store.add([event("edge-b", "e-1", 7)]) == [(b"\x07" * 32, True)]
    # A re-sending its own id is a duplicate: stored once, charged once.
    assert await store.add([event("edge-a", "e-1", 5)]) == [(b"\x05" * 32, False)]
    totals = await store.usage_totals(buyer=BUYER.public_id[4:])
    assert sum(t.units for t in totals) == 12 and sum(t.events for t in totals) == 2

    path = "/v1/usage/e-1"
    for source, units in (("edge-a", 5), ("edge-b", 7)):
        status, body = await get(svc, path, as_source(source, path))
        assert (status, body["units"]) == (200, units), body
    status, body = await get(svc, path + "?source=edge-b", operator())
    assert (status, body["units"]) == (200, 7), body
    status, body = await svc.client.read_as_source(path, "edge-b", SECRETS["edge-b"])
    assert (status, body["units"]) == (200, 7), body


async def test_usage_event_reads_need_the_source_or_the_operator(svc: Running) -> None:
    store = svc.service.ctx.usage.store
    await store.add([event("edge-a", "e-2", 3)])
    path = "/v1/usage/e-2"
    for sub in ("", "/proof"):
        status, body = await get(svc, path + sub)
        assert (status, body["error"]["code"]) == (401, "unauthenticated"), body
        assert (await get(svc, path + sub, as_source("edge-a", path + sub)))[0] in (200, 202)
    # Another source sees only its own ids: it has no "e-2".
    assert (await get(svc, path, as_source("edge-b", path)))[0] == 404
    # A signature of another path, a stale one, or a wrong token authenticates nothing.
    assert (await get(svc, path, as_source("edge-a", "/v1/usage/e-3")))[0] == 401
    assert (await get(svc, path, as_source("edge-a", path, stamp=1)))[0] == 401
    assert (await get(svc, path + "?source=edge-a",
                      {"Authorization": "Bearer " + "y" * 47}))[0] == 401
    status, body = await get(svc, path, operator())
    assert (status, body["error"]["field"]) == (422, "source")


async def test_buyer_views_need_the_buyer_or_the_operator(svc: Running) -> None:
    address = BUYER.public_id[4:]
    for path in (f"/v1/buyers/{address}", f"/v1/buyers/{address}/proposals"):
        status, body = await get(svc, path)
        assert (status, body["error"]["code"]) == (401, "unauthenticated"), path
        status, body = await get(svc, path, signed_read_headers(BUYER, path, int(time.time())))
        assert status == 200 and body["buyer"] == address, body
        status, body = await get(svc, path,
                                 signed_read_headers(STRANGER, path, int(time.time())))
        assert (status, body["error"]["code"]) == (403, "forbidden"), body
        assert (await get(svc, path, operator()))[0] == 200
        # A buyer's signature is for one path and one moment.
        other = f"/v1/buyers/{STRANGER.public_id[4:]}"
        replayed = signed_read_headers(BUYER, other, int(time.time()))
        assert (await get(svc, path, replayed))[0] == 401
        stale = signed_read_headers(BUYER, path, int(time.time()) - 3600)
        assert (await get(svc, path, stale))[0] == 401


async def test_client_reads_a_buyer_view_with_the_buyer_key(svc: Running) -> None:
    status, body = await svc.client.read_own(f"/v1/buyers/{BUYER.public_id[4:]}", BUYER)
    assert status == 200 and body["buyer"] == BUYER.public_id[4:]


async def test_statements_need_a_key_of_the_creator_or_the_operator(svc: Running) -> None:
    key, other = p256(), p256()
    await register(svc.client, "creator:reader", key)
    path = "/v1/creators/creator:reader/statement"
    assert (await get(svc, path))[0] == 401
    status, body = await svc.client.read_own(path, key)
    assert status == 200 and body["creatorId"] == "creator:reader"
    status, _ = await svc.client._request(
        "GET", path, headers=signed_read_headers(other, path, int(time.time())), ok=(403,))
    assert status == 403
    eth = EthSigningKey(Account.create().key)
    assert (await get(svc, path, signed_read_headers(eth, path, int(time.time()))))[0] == 403
    status, text = await get(svc, path + "?format=csv", operator())
    assert status == 200 and text.startswith("kind,asset_id")
