"""Several replicas on one PostgreSQL and one chain account.

Every replica accepts manifests and usage events; one, the lease holder, seals,
anchors and settles. A leader frozen past its lease must not send when it wakes;
a replica killed at random, twenty times under load, loses nothing and makes
nothing happen twice: every manifest and usage event is anchored once, and the
buyer is charged exactly the metered amount.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from eth_account import Account
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ledger.app.payments import Chain as Payments
from ledger.app.payments import address_of, deposit, register_splits, set_limits
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP
from ledger.chain.rpc import RevertDecoder
from ledger.chain.tx.sender import Sender
from ledger.cli.client import LedgerClient
from ledger.core.manifest import Manifest
from ledger.core.royalty.auth import request_headers
from ledger.core.royalty.terms import asset_terms
from ledger.core.signing import EthSigningKey, sign_manifest
from ledger.errors import LeaseLostError
from ledger.storage.engine import open_engine
from ledger.storage.leases import LeaseStore
from ledger.storage.schema import upgrade
from ledger.storage.txdocs import TxDocStore
from ledger.workers.tx_journal import DatabaseJournal
from tests.integration.chain.conftest import FAST_POLICY
from tests.integration.faults.conftest import (
    ANCHORER_KEY,
    FAST_ENV,
    Chain,
    check_anchored_once,
    check_proofs,
    eventually,
    metric,
    proofs,
)
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest, register
from tests.pg import ThrowawayPostgres

pytestmark = pytest.mark.chain

SEED = int(os.environ.get("FAULTS_SEED", "20261123"))
KILLS = int(os.environ.get("FAULTS_REPLICA_KILLS", "20"))
LEASE_TTL_S = 2.0
CREATOR, BUYER = DEV_KEYS[5], DEV_KEYS[2]
PRICE = 1_000
SECRET = bytes(range(32))
SOURCE = "edge-1"
USAGE_KEYS = json.dumps({"version": "ledger-usage-keys/1",
                         "sources": {SOURCE: [{"id": "k1", "secret": SECRET.hex()}]}})


@pytest.fixture
def db_url(postgres: ThrowawayPostgres) -> str:
    """A fresh PostgreSQL database for the replicas."""
    return postgres.new_database()


@pytest.fixture
async def replicas(
    chain: Chain, db_url: str, tmp_path: Path
) -> AsyncIterator[list[ServiceProcess]]:
    """Two `ledger serve` replicas ("a" started first) on one database and account."""
    made = [
        ServiceProcess(
            tmp_path / f"replica-{name}",
            rpc_url=chain.anvil.rpc_url,
            deployment_file=chain.deployment_file,
            anchorer_key=ANCHORER_KEY,
            env={
                **FAST_ENV,
                "LEDGER_DB_URL": db_url,
                "LEDGER_REPLICA_ID": name,
                "LEDGER_LEASE_TTL_S": str(LEASE_TTL_S),
                "LEDGER_USAGE_KEYS": USAGE_KEYS,
                "LEDGER_BATCH_MAX_AGE_S": "1",
                "LEDGER_USAGE_BATCH_MAX_AGE_S": "1",
                "LEDGER_SETTLE_INTERVAL_S": "0.3",
                "LEDGER_STUCK_TX_AFTER_S": "1",
            },
        )
        for name in ("a", "b")
    ]
    for service in made:
        service.data_dir.mkdir()
        await service.start()
    try:
        yield made
    finally:
        for service in made:
            service.stop()


async def leader_of(replicas: list[ServiceProcess]) -> ServiceProcess:
    """The one replica reporting itself the leader (waits for there to be exactly one)."""
    found: list[ServiceProcess] = []

    async def one() -> bool:
        found.clear()
        for service in replicas:
            if service.running and await metric(service.url, "ledger_leader") == 1:
                found.append(service)
        return len(found) == 1

    await eventually(one, "exactly one leader", timeout=LEASE_TTL_S * 5)
    return found[0]


async def account_txs(chain: Chain) -> list[dict[str, Any]]:
    """Every transaction the service account got mined, with its receipt status."""
    account = Account.from_key(ANCHORER_KEY).address
    out = []
    for number in range(chain.deployment.deploy_block, await chain.w3.eth.block_number + 1):
        block = await chain.w3.eth.get_block(number, full_transactions=True)
        for tx in cast(list[dict[str, Any]], block["transactions"]):
            if tx["from"] == account:
                receipt = await chain.w3.eth.get_transaction_receipt(tx["hash"])
                out.append({"nonce": tx["nonce"], "status": receipt["status"]})
    return out


async def test_a_deposed_senders_journal_write_fails_before_any_broadcast(
    chain: Chain, tmp_path: Path
) -> None:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await upgrade(engine)
    leases, docs = LeaseStore(engine), TxDocStore(engine)
    account = Account.from_key(ANCHORER_KEY)
    name = f"sender:{chain.deployment.chain_id}:{account.address}"
    old = await leases.acquire(name, "a/1", 100, None)
    assert old is not None
    stale = Sender(chain.w3, account, DatabaseJournal(docs, old), policy=FAST_POLICY,
                   decoder=RevertDecoder([]))
    await stale.start()
    await asyncio.sleep(0.2)
    assert await leases.acquire(name, "b/1", 10_000, None) is not None
    before = await chain.w3.eth.get_transaction_count(account.address, "pending")
    with pytest.raises(LeaseLostError):
        await stale.submit("anchor:x:1#1", account.address, b"", gas_limit=21_000)
    assert await chain.w3.eth.get_transaction_count(account.address, "pending") == before
    assert await docs.get("anchor:x:1#1") is None
    await engine.dispose()


async def test_a_leader_frozen_past_its_lease_never_sends_again(
    chain: Chain, replicas: list[ServiceProcess], db_url: str
) -> None:
    leader = await leader_of(replicas)
    other = next(s for s in replicas if s is not leader)
    async with LedgerClient(other.url) as client:
        key = EthSigningKey.from_hex(DEV_KEYS[9])
        await register(client, "creator:frozen", key)
        first = [manifest("creator:frozen", key, n) for n in range(5)]
        await client.submit_many(first)
        # The leader has an anchor in flight (unmined) when it freezes: on waking it
        # would follow it and, finding it stuck, sign a replacement.
        await chain.rpc("evm_setAutomine", False)
        second = [manifest("creator:frozen", key, n) for n in range(5, 10)]
        await client.submit_many(second)
        await eventually(lambda: _has_status(db_url, "submitted"), "an anchor in flight")
        with leader.paused():
            frozen_at = time.monotonic()
            # The frozen one cannot answer: ask the other until it leads.
            await leader_of([other])
            failover_s = time.monotonic() - frozen_at
            third = [manifest("creator:frozen", key, n) for n in range(10, 15)]
            await client.submit_many(third)
            await asyncio.sleep(LEASE_TTL_S)
        # Awake and deposed, with the chain still not mining: its stuck transaction
        # tempts it to send a replacement.
        await asyncio.sleep(LEASE_TTL_S)
        assert await metric(leader.url, "ledger_leader") == 0
        await chain.rpc("evm_setAutomine", True)
        await chain.rpc("evm_mine")
        digests = [Manifest.from_obj(m).digest_hex() for m in first + second + third]
        await check_proofs(chain, (await proofs(client, digests, timeout=60)).values())
    for service in replicas:
        service.stop()
    batches = await check_anchored_once(chain, db_url)
    txs = await account_txs(chain)
    assert sorted(tx["nonce"] for tx in txs) == list(range(len(txs)))
    assert all(tx["status"] == 1 for tx in txs), txs
    assert len(txs) == batches
    print(f"failover after SIGSTOP in {failover_s:.1f} s (lease {LEASE_TTL_S} s); "
          f"{batches} batches, {len(txs)} transactions, none reverted")


async def _has_status(db_url: str, status: str) -> bool:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text("SELECT 1 FROM batches WHERE status = :s"), {"s": status}
            )
            return found.first() is not None
    finally:
        await engine.dispose()


@dataclass
class Load:
    """What the clients sent and what the replicas answered."""

    urls: list[str]
    key: EthSigningKey
    asset: dict[str, str]
    rng: random.Random
    manifests: set[str] = field(default_factory=set)
    units: dict[str, int] = field(default_factory=dict)
    next_n: int = 0
    next_event: int = 0
    errors: list[str] = field(default_factory=list)

    async def send(self, path: str, body: Any, headers: Callable[[bytes], dict[str, str]]
                   ) -> Any:
        """POST until some replica answers (the same body: intake is idempotent)."""
        raw = json.dumps(body).encode()
        while True:
            url = self.rng.choice(self.urls)
            try:
                async with aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=10)
                ) as http, http.post(url + path, data=raw, headers=headers(raw)) as resp:
                    answer = await resp.json()
                    if resp.status < 500:
                        return resp.status, answer
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)

    async def manifests_loop(self, stop: asyncio.Event) -> None:
        """Batches of 1-10 new manifests through the batch endpoint."""
        while not stop.is_set():
            docs = [manifest("creator:replicas", self.key, self.next_n + i)
                    for i in range(self.rng.randint(1, 10))]
            self.next_n += len(docs)
            status, body = await self.send("/v1/manifests:batch", {"manifests": docs},
                                           lambda _: {"Content-Type": "application/json"})
            if status != 200:
                self.errors.append(f"{status} {body}")
            for result in body.get("results", []):
                if result["httpStatus"] in (200, 202):
                    self.manifests.add(result["manifestDigest"])
                else:
                    self.errors.append(str(result))
            await asyncio.sleep(0.2)

    async def usage_loop(self, stop: asyncio.Event) -> None:
        """Batches of usage events for the priced asset."""
        while not stop.is_set():
            events: list[dict[str, Any]] = []
            for _ in range(self.rng.randint(1, 20)):
                events.append({"eventId": f"job:{self.next_event:06d}", "buyer": address_of(BUYER),
                               "asset": self.asset, "units": self.rng.randint(1, 50),
                               "time": "2026-11-01T00:00:00.000Z", "source": SOURCE})
                self.next_event += 1
            status, body = await self.send(
                "/v1/usage", {"events": events},
                lambda raw: request_headers(SECRET, SOURCE, raw, int(time.time())),
            )
            # 200: every event was stored by a replica that died before answering.
            if status not in (200, 202) or body["rejected"]:
                self.errors.append(f"{status} {body}")
            self.units.update({e["eventId"]: e["units"] for e in events})
            await asyncio.sleep(0.2)


async def _priced_asset(chain: Chain, client: LedgerClient) -> tuple[EthSigningKey, dict[str, str]]:
    """A creator with a priced asset, anchored, its split registered, a buyer funded."""
    key = EthSigningKey.from_hex(CREATOR)
    await register(client, "creator:replicas", key)
    doc = sign_manifest({
        "manifestVersion": "1.0",
        "creator": {"id": "creator:replicas", "wallet": address_of(CREATOR)},
        "assets": [{
            "id": "asset:motion-1", "type": "application/octet-stream",
            "hash": "sha256:" + "ab" * 32, "licenses": ["training"],
            "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                           "unit": "sample", "amount": str(PRICE)},
            "payees": [{"account": address_of(CREATOR), "shareBps": 10_000, "role": "creator"}],
        }],
    }, key)
    status, _ = await client.submit(doc)
    assert status == 202
    priced = Manifest.from_obj(doc)
    await proofs(client, [priced.digest_hex()])
    payments = Payments.open(chain.w3, chain.deployment)
    await register_splits(payments, CREATOR, priced)
    asset_key = asset_terms(priced, priced.digest(), "asset:motion-1").asset_key
    await deposit(payments, BUYER, "ETH", 10**18)
    await set_limits(payments, BUYER, "ETH", spending_cap=NO_CAP,
                     max_prices={asset_key: ANY_PRICE})
    return key, {"manifestDigest": priced.digest_hex(), "assetId": "asset:motion-1"}


async def test_kill_9_random_replicas_twenty_times_loses_and_doubles_nothing(
    chain: Chain, replicas: list[ServiceProcess], db_url: str
) -> None:
    rng = random.Random(SEED)
    async with LedgerClient(replicas[0].url, timeout=30) as client:
        key, asset = await _priced_asset(chain, client)
    load = Load([s.url for s in replicas], key, asset, random.Random(SEED + 1))
    stop = asyncio.Event()
    clients = [asyncio.create_task(load.manifests_loop(stop)),
               asyncio.create_task(load.usage_loop(stop))]
    killed_leaders = 0
    try:
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            victim = rng.choice([s for s in replicas if s.running])
            if await _is_leader(victim):
                killed_leaders += 1
            victim.kill()
            await victim.start()
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.gather(*clients, return_exceptions=True)
    for task in clients:
        task.result()
    assert load.errors == []

    async with LedgerClient(replicas[1].url, timeout=30) as client:
        bundles = await proofs(client, load.manifests, timeout=120)
    await check_proofs(chain, bundles.values())
    expected = sum(load.units.values()) * PRICE
    payments = Payments.open(chain.w3, chain.deployment)

    async def settled() -> bool:
        return (await payments.splitter.account(address_of(BUYER), "ETH")).spent >= expected

    await eventually(settled, "every usage event settled", timeout=120, every=0.5)
    for service in replicas:
        service.stop()
    assert (await payments.splitter.account(address_of(BUYER), "ETH")).spent == expected
    batches = await check_anchored_once(chain, db_url)
    txs = await account_txs(chain)
    assert sorted(tx["nonce"] for tx in txs) == list(range(len(txs)))
    assert all(tx["status"] == 1 for tx in txs), txs
    print(f"{KILLS} kills ({killed_leaders} of the leader): {len(load.manifests)} manifests, "
          f"{len(load.units)} usage events, {batches} batches, {len(txs)} transactions")


async def _is_leader(service: ServiceProcess) -> bool:
    try:
        return await metric(service.url, "ledger_leader") == 1
    except (aiohttp.ClientError, AssertionError):
        return False
