"""A buyer taking its deposit out (issue 11), on anvil over HTTP: the service sees the
withdrawal request, settles the buyer's anchored usage at once (its full settlement pass
is an hour away here), refuses the buyer's new usage with 409 ``buyer_withdrawing`` and
stores none of it; after the notice period the buyer gets back only what is left."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.app.payments import Chain, address_of, deposit, set_limits
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient
from ledger.core.manifest import Manifest
from ledger.core.royalty.auth import request_headers
from ledger.core.royalty.terms import asset_terms
from ledger.run.serve import running
from tests.integration.chain.conftest import rpc
from tests.integration.royalty.publishing import publish_priced
from tests.integration.service.conftest import FAST
from tests.support import until

pytestmark = pytest.mark.chain

SECRET = bytes(range(32))
SOURCE = "edge-1"
KEYS = json.dumps({"version": "ledger-usage-keys/1",
                   "sources": {SOURCE: [{"id": "k1", "secret": SECRET.hex()}]}})
BUYER, CREATOR = DEV_KEYS[1], DEV_KEYS[5]
PRICE = 1_000
DEPOSIT = 10**18


async def test_withdrawal_request_settles_at_once_and_stops_new_usage(tmp_path: Path) -> None:
    settings = replace(FAST, data_dir=tmp_path / "data", usage_keys=KEYS,
                       usage_batch_max_age_s=0.2, settle_interval_s=3600.0)
    async with running(settings) as (service, url), LedgerClient(url) as client, \
            aiohttp.ClientSession() as http:
        w3 = connect(service.rpc_url)
        try:
            chain = Chain.open(w3, service.deployment)
            splitter, buyer = chain.splitter, address_of(BUYER)
            manifest = await _publish(client, chain)

            def event(i: int, units: int) -> dict[str, Any]:
                return {"eventId": f"job:{i}", "buyer": buyer, "units": units,
                        "asset": {"manifestDigest": manifest.digest_hex(), "assetId": "asset:1"},
                        "time": "2026-01-01T00:00:00.000Z", "source": SOURCE}

            async def post(body: Any) -> tuple[int, Any]:
                raw = json.dumps(body).encode()
                headers = request_headers(SECRET, SOURCE, raw, int(time.time()))
                async with http.post(url + "/v1/usage", data=raw, headers=headers) as resp:
                    return resp.status, await resp.json()

            assert service.ctx.usage is not None
            store = service.ctx.usage.store

            async def anchored(events: int) -> bool:
                groups = await store.unsettled_groups(buyers=[buyer])
                return sum(g.events for g in groups) == events

            # Usage is metered and anchored; the hourly settlement pass has not come yet.
            status, body = await post({"events": [event(i, i + 1) for i in range(10)]})
            assert status == 202, body
            expected = sum(range(1, 11)) * PRICE
            await until(lambda: anchored(10), 60.0)
            assert (await splitter.account(buyer, "ETH")).spent == 0

            await chain.send(BUYER, splitter.address,
                             splitter.request_withdrawal_data("ETH", 2**256 - 1))
            account = await splitter.account(buyer, "ETH")
            assert account.pending_withdrawal == DEPOSIT

            async def settled() -> bool:
                return (await splitter.account(buyer, "ETH")).spent == expected
            await until(settled, 60.0)

            async def refused() -> Any:
                status, body = await post(event(100, 5))
                return body if status == 409 else None
            body = await until(refused, 60.0)
            assert body["error"]["code"] == "buyer_withdrawing", body
            assert body["error"]["field"] == "buyer" and "withdraw" in body["error"]["message"]
            status, body = await post({"events": [event(101, 1)]})
            assert body["accepted"] == 0, body
            assert await store.unsettled_groups(buyers=[buyer]) == []
            assert await service.ctx.usage.store.pending_stats() == (0, None)  # nothing stored
            # A source's retry of an event stored before the request is still idempotent.
            status, body = await post(event(3, 4))
            assert status == 200 and body["status"] == "duplicate", body

            # After the notice period the buyer gets only what settlement left.
            notice = await splitter.notice_period()
            await rpc(w3, "evm_increaseTime", notice + 1)
            await rpc(w3, "evm_mine")
            before = await w3.eth.get_balance(buyer)
            await chain.send(BUYER, splitter.address, splitter.withdraw_deposit_data("ETH", buyer))
            after = await splitter.account(buyer, "ETH")
            assert after.deposit == 0 and after.spent == expected
            assert await w3.eth.get_balance(buyer) - before > DEPOSIT - expected - 10**16

            # Paid out and deposited again: the buyer's usage is metered again.
            await deposit(chain, BUYER, "ETH", DEPOSIT)

            async def accepted() -> bool:
                status, _ = await post(event(102, 1))
                return status == 202
            await until(accepted, 60.0)
        finally:
            await w3.provider.disconnect()


async def _publish(client: LedgerClient, chain: Chain) -> Manifest:
    manifest, _ = await publish_priced(client, chain, CREATOR, "creator:wd", "cd", PRICE)
    asset_key = asset_terms(manifest, manifest.digest(), "asset:1").asset_key
    await deposit(chain, BUYER, "ETH", DEPOSIT)
    await set_limits(chain, BUYER, "ETH", spending_cap=NO_CAP, max_prices={asset_key: ANY_PRICE})
    return manifest
