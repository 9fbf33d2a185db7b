"""Fault tests: `ledger serve` as a child process on an anvil the test owns.

The chain outlives every crash of the service; the test can stop it, revert it,
or stop its mining. Helpers here check the end state: every accepted manifest has
a proof that verifies offline and on chain, and every batch was anchored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from eth_account import Account
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ledger.chain.anvil import DEV_KEYS, AnvilProcess
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.chain.deploy import Deployment, deploy_contracts
from ledger.chain.rpc import Web3Client, connect
from ledger.cli.client import LedgerClient
from ledger.core.merkle import MerkleTree
from ledger.core.proof import ProofBundle, verify_bundle
from ledger.core.signing import SigningKey
from tests.integration.chain.conftest import FAST_POLICY
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import p256, register

#: Dev account 1 (a public anvil test key) anchors; account 0 deploys.
ANCHORER_KEY = DEV_KEYS[1]

#: Settings that make a batch seal, anchor and confirm within a second.
FAST_ENV = {
    "LEDGER_BATCH_MAX_AGE_S": "0.2",
    "LEDGER_POLL_INTERVAL_S": "0.05",
    "LEDGER_CONFIRMATIONS": "1",
    "LEDGER_ANCHOR_DEADLINE_S": "60",
}


@dataclass
class Chain:
    """An anvil with the contracts deployed and a client of it."""

    anvil: AnvilProcess
    w3: Web3Client
    deployment: Deployment
    deployment_file: Path

    @property
    def registry(self) -> AnchorRegistry:
        """A client of the deployed registry."""
        return self.deployment.registry_client(self.w3)

    async def rpc(self, method: str, *params: Any) -> Any:
        """A raw JSON-RPC call (evm_*, anvil_*, txpool_*), failing on an error answer."""
        response = await self.w3.provider.make_request(method, list(params))
        assert "error" not in response, response
        return response.get("result")


@contextlib.asynccontextmanager
async def running_chain(tmp_path: Path, *, state: bool = False) -> AsyncIterator[Chain]:
    """A fresh anvil (with ``--state`` in ``tmp_path`` when asked), deployed to."""
    anvil = AnvilProcess(state=tmp_path / "anvil-state.json" if state else None)
    await anvil.start()
    w3 = connect(anvil.rpc_url, timeout=5.0, attempts=1)
    try:
        service_account = Account.from_key(ANCHORER_KEY).address
        deployment = await deploy_contracts(
            w3, DEV_KEYS[0], anchorers=[service_account], meters=[service_account],
            policy=FAST_POLICY,
        )
        path = tmp_path / "deployment.json"
        deployment.write(path)
        yield Chain(anvil, w3, deployment, path)
    finally:
        await w3.provider.disconnect()
        await anvil.stop()


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[Chain]:
    """An automining anvil with the contracts deployed."""
    async with running_chain(tmp_path) as node:
        yield node


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """A factory of `ServiceProcess` on a chain: ``services(chain, **LEDGER_env)``.

    Every service it made is stopped at teardown, whatever the test did.
    """
    made: list[ServiceProcess] = []

    def make(chain: Chain, env: dict[str, str] | None = None) -> ServiceProcess:
        service = ServiceProcess(
            tmp_path / f"data{len(made)}",
            rpc_url=chain.anvil.rpc_url,
            deployment_file=chain.deployment_file,
            anchorer_key=ANCHORER_KEY,
            env={**FAST_ENV, **(env or {})},
        )
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop()


async def new_creator(client: LedgerClient, creator_id: str) -> SigningKey:
    """Register ``creator_id`` with a fresh P-256 key, and wait until its creator record
    is anchored (so a scenario's own batches start after it); return the key."""
    key = p256()
    await register(client, creator_id, key)

    async def recorded() -> bool:
        _, found = await client._request("GET", f"/v1/creators/{creator_id}/records")
        return all(r["status"] == "confirmed" and r["proof"] is not None
                   for r in found["records"])

    await eventually(recorded, f"the register of {creator_id} anchored")
    return key


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, *, timeout: float = 30.0,
    every: float = 0.05,
) -> None:
    """Wait until ``check()`` is true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(every)


async def proofs(
    client: LedgerClient, digests: Iterable[str], *, timeout: float = 60.0
) -> dict[str, ProofBundle]:
    """Every digest's proof bundle, waiting until the service serves each."""
    out: dict[str, ProofBundle] = {}
    deadline = time.monotonic() + timeout
    gate = asyncio.Semaphore(8)

    async def fetch(digest: str) -> None:
        async with gate:
            status, body = await client.proof(digest)
        if status == 200:
            out[digest] = ProofBundle.from_json(json.dumps(body))

    waiting = sorted(set(digests))
    while True:
        await asyncio.gather(*(fetch(d) for d in waiting))
        waiting = [d for d in waiting if d not in out]
        if not waiting:
            return out
        assert time.monotonic() < deadline, f"{len(waiting)} manifests without a proof"
        await asyncio.sleep(0.2)


async def check_proofs(chain: Chain, bundles: Iterable[ProofBundle]) -> None:
    """Each bundle verifies offline and on chain, and names the root's real anchor."""
    registry = chain.registry
    anchors: dict[bytes, Any] = {}
    for bundle in bundles:
        verify_bundle(bundle)
        assert bundle.anchor is not None
        if bundle.root not in anchors:
            anchors[bundle.root] = await registry.anchored_at(bundle.root)
        record = anchors[bundle.root]
        assert record is not None, f"root of batch {bundle.anchor.batch_number} not on chain"
        assert (record.batch_number, record.block_number) == (
            bundle.anchor.batch_number, bundle.anchor.block_number
        )
        included, timestamp = await registry.verify_inclusion(
            bundle.manifest_digest, list(bundle.proof), bundle.root
        )
        assert included and timestamp == bundle.anchor.block_timestamp


async def metric(url: str, name: str) -> float:
    """One value from the service's /metrics (Prometheus text)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + "/metrics") as response,
    ):
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name} in /metrics")


def db_rows(data_dir: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query on the service's SQLite database (read while it may run)."""
    with contextlib.closing(sqlite3.connect(data_dir / "ledger.db", timeout=30)) as db:
        return db.execute(query, params).fetchall()


def anchor_txs(data_dir: Path) -> list[dict[str, Any]]:
    """The sender journal's documents (one per purpose key), in nonce order."""
    rows = db_rows(data_dir, "SELECT document FROM chain_txs ORDER BY nonce")
    return [json.loads(doc) for (doc,) in rows]


async def check_anchored_once(chain: Chain, database: Path | str) -> int:
    """Every manifest in exactly one batch, every batch anchored exactly once.

    ``database`` is a service's data dir (its SQLite file) or a database URL.
    Checks the database (batches 1..N, all confirmed, leaf counts summing to the
    manifests, usage events and creator records, each tree rebuilt from its leaves
    gives its root) and the chain (one ``Anchored`` event per batch number 1..N with that batch's
    root, no root twice). Returns N.
    """
    url = database if isinstance(database, str) else (
        f"sqlite+aiosqlite:///{database / 'ledger.db'}"
    )
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            async def rows(query: str, **params: Any) -> list[Any]:
                return list((await conn.execute(text(query), params)).all())

            batches = await rows(
                "SELECT number, root, leaf_count, status FROM batches ORDER BY number"
            )
            numbers = [b[0] for b in batches]
            assert numbers == list(range(1, len(batches) + 1))
            assert {b[3] for b in batches} <= {"confirmed"}, batches
            for table in ("manifests", "usage_events", "creator_records"):
                unbatched = await rows(f"SELECT seq FROM {table} WHERE batch_number IS NULL")
                assert unbatched == [], f"{len(unbatched)} {table} in no batch"
            for number, root, leaf_count, _ in batches:
                leaves = await rows(
                    "SELECT leaf_index, digest FROM manifests WHERE batch_number = :n "
                    "UNION ALL SELECT leaf_index, digest FROM usage_events "
                    "WHERE batch_number = :n UNION ALL SELECT leaf_index, digest "
                    "FROM creator_records WHERE batch_number = :n ORDER BY leaf_index",
                    n=number,
                )
                assert [i for i, _ in leaves] == list(range(leaf_count))
                assert MerkleTree([bytes(d) for _, d in leaves]).root == bytes(root)
    finally:
        await engine.dispose()
    events = await chain.registry.anchored_logs(chain.deployment.deploy_block)
    assert [e.batch_number for e in events] == numbers
    assert len({e.root for e in events}) == len(events)
    assert [e.root for e in events] == [bytes(b[1]) for b in batches]
    assert [e.leaf_count for e in events] == [b[2] for b in batches]
    return len(batches)
