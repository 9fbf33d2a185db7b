"""Settlement follows the licence lifecycle (issue 17), on anvil over HTTP, in real wei:
an amendment effective at T prices usage at T-1 s under the manifest's split and usage
at T and T+1 s under the amendment's, once the creator registers it (``ledger creator
split --statement``); usage stored before a consent withdrawal signed 5 minutes earlier
arrived is refused at settlement, named by the statement, and never settled."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.app.clock import now_ms
from ledger.app.payments import Chain, address_of, deposit, set_limits
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient, ServiceError
from ledger.cli.main import main
from ledger.core.manifest import Manifest
from ledger.core.royalty.auth import REPLAY_WINDOW_S, request_headers
from ledger.core.royalty.terms import asset_terms
from ledger.core.signing import EthSigningKey, SigningKey
from ledger.core.statements import sign_statement
from ledger.core.times import iso_utc_ms
from ledger.keyfile import load_key, write_key
from ledger.run.compose import Service
from ledger.run.serve import running
from ledger.storage.usage import UsageStore
from tests.integration.royalty.publishing import publish_priced
from tests.integration.service.conftest import FAST
from tests.support import until

pytestmark = pytest.mark.chain

SECRET = bytes(range(32))
SOURCE = "edge-1"
KEYS = json.dumps({"version": "ledger-usage-keys/1",
                   "sources": {SOURCE: [{"id": "k1", "secret": SECRET.hex()}]}})
BUYER, CREATOR = DEV_KEYS[1], DEV_KEYS[5]
PRICE, NEW_PRICE = 1_000, 2_500
DEPOSIT = 10**18
#: The intake window, short so the test waits for its end after an amendment.
WINDOW_S = 3.0


@dataclass
class World:
    service: Service
    url: str
    client: LedgerClient
    http: aiohttp.ClientSession
    chain: Chain
    manifest: Manifest
    manifest_path: Path
    store: UsageStore
    tmp: Path

    async def post_usage(self, event_id: str, units: int, at: int) -> tuple[int, Any]:
        event = {"eventId": event_id, "buyer": address_of(BUYER), "units": units,
                 "source": SOURCE, "time": iso_utc_ms(at),
                 "asset": {"manifestDigest": self.manifest.digest_hex(), "assetId": "asset:1"}}
        raw = json.dumps(event).encode()
        headers = request_headers(SECRET, SOURCE, raw, int(time.time()))
        async with self.http.post(self.url + "/v1/usage", data=raw, headers=headers) as resp:
            return resp.status, await resp.json()

    async def state(self, kind: str, issued_at: int, key: SigningKey | None = None,
                    **members: Any) -> str:
        obj = {"type": kind, "deployment": await self.client.deployment(),
               "issuedAt": issued_at,
               "target": {"manifestDigest": self.manifest.digest_hex(), "assetIds": ["asset:1"]},
               **members}
        status, body = await self.client.lifecycle_statement(
            sign_statement(obj, key or EthSigningKey.from_hex(CREATOR)))
        assert status == 202, body
        return str(body["digest"])

    async def split(self, statement: str | None) -> int:
        """``ledger creator split --statement``: the creator registers an amendment's split
        (None: the manifest's own, again)."""
        self.service.deployment.write(self.tmp / "deployment.json")
        key_file = self.tmp / "creator.json"
        if not key_file.exists():
            write_key(key_file, EthSigningKey.from_hex(CREATOR))
        argv = ["creator", "split", "creator:life", "--manifest", str(self.manifest_path),
                "--key", str(key_file), "--url", self.url, "--rpc-url", self.service.rpc_url,
                "--deployment-file", str(self.tmp / "deployment.json")]
        if statement is not None:
            argv += ["--statement", statement]
        return int(await asyncio.to_thread(main, argv))

    async def spent(self) -> int:
        return (await self.chain.splitter.account(address_of(BUYER), "ETH")).spent


@asynccontextmanager
async def _world(tmp_path: Path, window_s: float) -> AsyncIterator[World]:
    settings = replace(FAST, data_dir=tmp_path / "data", usage_keys=KEYS,
                       usage_batch_max_age_s=0.2, settle_interval_s=0.2,
                       usage_window_s=window_s)
    async with running(settings) as (service, url), LedgerClient(url) as client, \
            aiohttp.ClientSession() as http:
        w3 = connect(service.rpc_url)
        try:
            chain = Chain.open(w3, service.deployment)
            manifest, path = await _publish(client, chain, tmp_path)
            assert service.ctx.usage is not None
            yield World(service, url, client, http, chain, manifest, path,
                        service.ctx.usage.store, tmp_path)
        finally:
            await w3.provider.disconnect()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with _world(tmp_path, WINDOW_S) as found:
        yield found


@pytest.fixture
async def roomy(tmp_path: Path) -> AsyncIterator[World]:
    """A world whose window (which signed reads' timestamps share) is the default's:
    a test of who may read must not fail on a loaded machine's slow request."""
    async with _world(tmp_path, REPLAY_WINDOW_S) as found:
        yield found


async def test_an_amendment_prices_usage_by_period_in_wei(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    effective = now_ms() + 1_000
    terms = {"priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                            "unit": "sample", "amount": str(NEW_PRICE)}}
    amendment = await world.state("amend", effective - 1_000, effectiveAt=effective,
                                  terms=terms)
    await until(lambda: _anchored(world.client, amendment))
    for event_id, units, at in (("before", 5, effective - 1_000), ("at", 7, effective),
                                ("after", 11, effective + 1_000)):
        assert (await world.post_usage(event_id, units, at))[0] == 202
    # Usage from before the amendment is not settled yet: registering its split now
    # would leave that usage without a version to charge, so the CLI refuses.
    assert await world.split(amendment) == 2
    assert "not settled yet" in capsys.readouterr().err
    assert await world.chain.splitter.latest_version(_asset_key(world.manifest)) == 1
    await deposit(world.chain, BUYER, "ETH", DEPOSIT)

    # T-1 s settles under the manifest's split; T and T+1 s wait for the amendment's
    # (held in one usage batch, or in two when the machine is slow to post the second).
    async def held() -> Any:
        holds = await world.store.holds(buyer=address_of(BUYER))
        units = sum(hold.units for hold in holds)
        return holds if units == 18 and await world.spent() == 5 * PRICE else None
    holds = await until(held)
    assert all(amendment[2:] in hold.reason for hold in holds)

    # Settled before it (confirmed), but promptly reported usage from before it may
    # still arrive.
    key = _asset_key(world.manifest)

    async def confirmed_before() -> bool:
        return await world.store.unsettled_before("creator:life", key, effective) == (0, 0)
    await until(confirmed_before)
    window_ends = effective + WINDOW_S * 1000
    if now_ms() < window_ends:
        # The CLI reads the window at its own time: on a loaded machine its start-up may
        # outlast the window, and then registering is right (the split is idempotent).
        code = await world.split(amendment)
        if code == 0:
            assert now_ms() >= window_ends
        else:
            assert code == 2
            assert "may arrive until" in capsys.readouterr().err
    await asyncio.sleep(max(0.0, (window_ends - now_ms()) / 1000 + 0.1))
    assert await world.split(amendment) == 0

    async def settled() -> bool:
        return await world.spent() == 5 * PRICE + 18 * NEW_PRICE
    await until(settled)
    lines = await world.store.item_lines(buyer=address_of(BUYER))
    assert sorted((line.item.version, line.item.units, line.item.price) for line in lines) == [
        (1, 5, PRICE), (2, 18, NEW_PRICE)]
    assert await world.store.holds(buyer=address_of(BUYER)) == []


    # A late report from before the amendment (event times are not bounded) finds the
    # earlier version superseded: held, saying the way back, which the contract allows.
    assert (await world.post_usage("late", 3, effective - 2_000))[0] == 202

    async def superseded() -> Any:
        holds = await world.store.holds(buyer=address_of(BUYER))
        return holds if holds and "registers them again" in holds[0].reason else None
    await until(superseded)
    assert await world.split(None) == 0

    async def recovered() -> bool:
        return await world.spent() == 8 * PRICE + 18 * NEW_PRICE
    await until(recovered)
    await until(confirmed_before)
    assert await world.split(amendment) == 0
    assert await world.chain.splitter.latest_version(key) == 4
    assert (await world.chain.splitter.split_version(key, 4)).manifest_digest.hex() \
        == amendment[2:]


async def test_usage_before_a_late_withdrawal_arrived_is_refused_at_settlement(
        world: World) -> None:
    now = now_ms()
    # No deposit yet: the usage is stored, anchored and held, not settled.
    assert (await world.post_usage("earlier", 3, now - 600_000))[0] == 202
    assert (await world.post_usage("late", 4, now))[0] == 202

    async def held() -> Any:
        return await world.store.holds(buyer=address_of(BUYER))
    await until(held)
    # A withdrawal signed 5 minutes before the usage (by the operator: the creator's key
    # is younger than that here) reaches the service only now.
    operator = load_key(world.service.settings.data_dir / "service-key.pem")
    withdrawal = await world.state("withdraw-consent", now - 300_000, operator)

    async def refused() -> Any:
        status, body = await world.client.read_as_source("/v1/usage/late", SOURCE, SECRET)
        return body if status == 200 and body["status"] == "refused" else None
    body = await until(refused)
    assert withdrawal[2:] in body["refusal"] and body["settlement"] is None
    # Only an amendment has a split of its own: anything else is refused, nothing sent.
    assert await world.split(withdrawal) == 2
    assert await world.chain.splitter.latest_version(_asset_key(world.manifest)) == 1

    await deposit(world.chain, BUYER, "ETH", DEPOSIT)

    async def settled() -> bool:
        return await world.spent() == 3 * PRICE
    await until(settled)

    async def confirmed() -> bool:
        status, body = await world.client.read_as_source("/v1/usage/earlier", SOURCE, SECRET)
        return status == 200 and body["status"] == "settled"
    await until(confirmed)
    await asyncio.sleep(1)  # a few more settlement passes charge nothing more
    assert await world.spent() == 3 * PRICE
    assert await world.store.unsettled_groups() == []


async def _publish(client: LedgerClient, chain: Chain, tmp: Path) -> tuple[Manifest, Path]:
    manifest, doc = await publish_priced(client, chain, CREATOR, "creator:life", "ce", PRICE)
    path = tmp / "manifest.json"
    path.write_text(json.dumps(doc))
    await set_limits(chain, BUYER, "ETH", spending_cap=NO_CAP,
                     max_prices={_asset_key(manifest): ANY_PRICE})
    return manifest, path


def _asset_key(manifest: Manifest) -> bytes:
    return asset_terms(manifest, manifest.digest(), "asset:1").asset_key


async def _anchored(client: LedgerClient, digest: str) -> bool:
    return bool((await client.stored_statement(digest))["status"] == "confirmed")


async def test_unsettled_usage_is_read_by_the_split_owner_or_the_creator_only(
        roomy: World) -> None:
    world = roomy
    path = (f"/v1/manifests/{world.manifest.digest_hex()}/assets/asset:1/unsettled"
            f"?before={now_ms()}")
    owner, stranger = EthSigningKey.from_hex(CREATOR), EthSigningKey.from_hex(BUYER)
    status, body = await world.client.read_own(path, owner)
    assert status == 200 and (body["events"], body["ready"]) == (0, False)
    assert await _status(world, path) == 401
    with pytest.raises(ServiceError) as caught:
        await world.client.read_own(path, stranger)
    assert caught.value.status == 403
    for bad, field in ((path.split("?")[0], "before"), (path + "x", "before"),
                       (path.replace("asset:1", "asset:2"), "assetId"),
                       (path.replace("asset:1", "nope"), "assetId")):
        with pytest.raises(ServiceError) as caught:
            await world.client.read_own(bad, owner)
        assert caught.value.status == 422 and caught.value.field == field, bad


async def _status(world: World, path: str) -> int:
    async with world.http.get(world.url + path) as resp:
        return resp.status
