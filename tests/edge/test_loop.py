"""The loop, end to end (issue 19): the crawler (ledger/cli/crawl.py) reads robots.txt
and the RSL document, registers with its wallet, gets licence tokens and fetches files through
the Worker; the usage is metered, anchored and settled on anvil; the creator's
statement shows each fetch and the buyer's tokens link token, fetch and payment. Each
refusal comes at its step: consent withdrawn (token endpoint), no deposit (token
endpoint), another buyer's exclusivity (token endpoint), a token for another asset and
a forged token (the Worker). Then the ledger unreachable and the Worker restarted under
load: every fetch served is settled once, to the wei."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from ledger.app.payments import address_of
from ledger.chain.anvil import DEV_KEYS
from ledger.cli.client import LedgerClient
from ledger.cli.crawl import (
    Refused,
    crawl,
    fetch,
    licence_document,
    licence_token,
    offers,
    register,
)
from ledger.core.signing import EthSigningKey
from ledger.core.statements import sign_statement
from tests.edge.harness import until
from tests.edge.load import fire
from tests.edge.stack import ADMIN, BUYER_KEY, CREATOR_KEY, PRICE, Stack, licensed_stack, photos

pytestmark = [pytest.mark.chain, pytest.mark.node, pytest.mark.slow]

POOR_KEY, RIVAL_KEY = DEV_KEYS[2], DEV_KEYS[3]


async def _statement(stack: Stack, kind: str, asset: int, **members: Any) -> None:
    async with LedgerClient(stack.ledger) as client:
        obj = {"type": kind, "deployment": await client.deployment(),
               "issuedAt": members.pop("issuedAt", int(time.time() * 1000)),
               "target": {"manifestDigest": stack.manifest.digest_hex(),
                          "assetIds": [stack.manifest.assets[asset].id]}, **members}
        status, body = await client._request(
            "POST", "/v1/statements", sign_statement(obj, EthSigningKey.from_hex(CREATOR_KEY)))
    assert status == 202, body


async def _settled(stack: Stack, event_ids: list[str]) -> bool:
    for event_id in event_ids:
        async with stack.http.get(f"{stack.ledger}/v1/usage/{event_id}?source=edge-1",
                                  headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
            if resp.status == 404 or (await resp.json())["status"] != "settled":
                return False
    return True


async def _spent(stack: Stack) -> int:
    return int((await stack.chain.splitter.account(address_of(BUYER_KEY), "ETH")).spent)


async def test_the_crawler_loop_and_each_refusal(tmp_path: Path) -> None:
    async with licensed_stack(tmp_path, photos(4)) as stack:
        buyer = EthSigningKey.from_hex(BUYER_KEY)
        rsl = await asyncio.to_thread(licence_document, stack.site)
        listed = {o.url: o for o in await asyncio.to_thread(offers, rsl)}
        assert set(listed) == set(stack.files)
        withdrawn, exclusive = stack.url_of(2), stack.url_of(3)
        await _statement(stack, "withdraw-consent", 2)
        now = int(time.time() * 1000)
        await _statement(stack, "grant-exclusive", 3, buyer=address_of(RIVAL_KEY),
                         licences=["training"], issuedAt=now, start=now, end=now + 3_600_000,
                         irrevocable=False)

        out = tmp_path / "crawl"
        results = await asyncio.to_thread(crawl, stack.site, buyer, out=out)
        served = {u: r for u, r in results.items() if not isinstance(r, Refused)}
        assert set(served) == {stack.url_of(0), stack.url_of(1)}
        for url, got in served.items():
            assert (out / got.file).read_bytes() == stack.files[url]
            assert "sha256:" + got.sha256 == url.replace(f"{stack.site}/files/", "sha256:")
            assert got.usage_event.startswith(f"olp:{got.token_id}:")
        refused = results[exclusive]
        assert isinstance(refused, Refused)
        assert (refused.step, refused.reason.count("invalid_grant")) == ("token", 1)
        # Consent withdrawn: gone from the RSL document, and refused if asked anyway.
        server = listed[withdrawn].server
        client = await asyncio.to_thread(register, server, buyer, "crawler")
        with pytest.raises(Refused) as gone:
            await asyncio.to_thread(licence_token, server, client, listed[withdrawn])
        assert gone.value.step == "token" and "invalid_grant" in gone.value.reason

        # No deposit: the token endpoint says so before anything is fetched.
        poor = await asyncio.to_thread(register, server, EthSigningKey.from_hex(POOR_KEY), "p")
        with pytest.raises(Refused) as unpaid:
            await asyncio.to_thread(licence_token, server, poor, listed[stack.url_of(0)])
        assert "payment_required" in unpaid.value.reason

        # A real token, used for another file; a forged token: the Worker refuses.
        token = await asyncio.to_thread(licence_token, server, client, listed[stack.url_of(0)])
        with pytest.raises(Refused) as other:
            await asyncio.to_thread(fetch, stack.url_of(1), token, out / "other")
        assert (other.value.status, "insufficient_scope" in other.value.reason) == (403, True)
        forged = _forge(token)
        with pytest.raises(Refused) as forgery:
            await asyncio.to_thread(fetch, stack.url_of(0), forged, out / "forged")
        assert (forgery.value.status, "invalid_token" in forgery.value.reason) == (401, True)
        assert not (out / "other").exists() and not (out / "forged").exists()

        # Metered, anchored, settled: two fetches, two uses, on chain to the wei.
        event_ids = [got.usage_event for got in served.values()]
        await until(lambda: _settled(stack, event_ids), timeout=120)
        assert await _spent(stack) == 2 * PRICE
        await _check_statement(stack, [0, 1])
        evidence = await _tokens(stack, client)
        for event_id in event_ids:
            jti = event_id.split(":")[1]
            (issued,) = [t for t in evidence["tokens"] if t["jti"] == jti]
            assert event_id.startswith(issued["usageEventPrefix"])
            view = await stack.admin(f"/v1/usage/{event_id}?source=edge-1")
            assert view["settlement"]["txHash"]


def _forge(token: str) -> str:
    """The same header and claims, signed by a key that is not the licence server's."""
    header, payload = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                       for part in token.split(".")[:2])
    return jwt.encode(header, payload, ECKey.generate_key("P-256", private=True))


async def _check_statement(stack: Stack, assets: list[int]) -> None:
    """One use per fetched asset, by the buyer, settled at the price."""
    statement = await stack.admin("/v1/creators/creator:ana/statement")
    rows = {(r["assetId"], r["buyer"]): (int(r["unitsUsed"]), int(r["settled"]))
            for r in statement["usage"]}
    assert rows == {(stack.manifest.assets[i].id, address_of(BUYER_KEY)): (1, PRICE)
                    for i in assets}


async def _tokens(stack: Stack, client: tuple[str, str]) -> Any:
    basic = base64.b64encode(":".join(client).encode()).decode()
    async with stack.http.get(stack.ledger + "/olp/tokens",
                              headers={"Authorization": "Basic " + basic}) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_an_outage_and_a_restart_under_load_lose_and_double_nothing(
        tmp_path: Path) -> None:
    async with licensed_stack(tmp_path, photos(2)) as stack:
        listed = {o.url: o for o in await asyncio.to_thread(
            offers, await asyncio.to_thread(licence_document, stack.site))}
        server = listed[stack.url_of(0)].server
        client = await asyncio.to_thread(register, server, EthSigningKey.from_hex(BUYER_KEY),
                                         "crawler")
        tokens = {url: await asyncio.to_thread(licence_token, server, client, offer)
                  for url, offer in listed.items()}
        # The edge has served before (so it has the licence server's keys); then the
        # ledger becomes unreachable from it: usage intake and keys alike.
        warm = await asyncio.to_thread(fetch, stack.url_of(0), tokens[stack.url_of(0)],
                                       tmp_path / "warm")
        await until(lambda: _settled(stack, [warm.usage_event]), timeout=120)
        stack.gate.down = True
        load = asyncio.create_task(fire(stack.http, list(tokens), 200, 20.0,
                                     tokens.__getitem__))
        await until(lambda: _queued_at_least(stack, 20))
        await stack.restart_worker()
        results = await load
        served = [r for r in results if r.status == 200]
        # Fetches during the restart found no Worker; none was refused for another reason.
        assert {r.status for r in results} <= {200, 0}
        statuses = "".join("s" if r.status == 200 else "-" for r in results)
        assert "s-" in statuses and "-s" in statuses, statuses  # served before and after
        # Every fetch served was queued first. A fetch cut off by the restart after its
        # event was queued is metered too: the edge errs towards charging, never towards
        # serving unmetered.
        metered = int((await stack.worker.stats())["queued"])
        assert len(served) <= metered <= len(served) + statuses.count("-")
        assert await _spent(stack) == PRICE

        stack.gate.down = False
        await until(lambda: _settled(stack, [r.event_id for r in served]), timeout=180)
        await until(lambda: _spent_is(stack, (metered + 1) * PRICE), timeout=60)
        statement = await stack.admin("/v1/creators/creator:ana/statement")
        assert sum(int(r["unitsUsed"]) for r in statement["usage"]) == metered + 1
        assert (await stack.worker.stats())["queued"] == 0


async def _spent_is(stack: Stack, wei: int) -> bool:
    spent = await _spent(stack)
    assert spent <= wei, f"charged {spent} wei for {wei} wei of use"
    return spent == wei


async def _queued_at_least(stack: Stack, n: int) -> bool:
    return int((await stack.worker.stats())["queued"]) >= n
