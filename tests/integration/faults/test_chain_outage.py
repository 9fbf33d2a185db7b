"""The chain node goes away mid-flight and comes back on the same port with its
state: the service keeps accepting, reports the chain unavailable, and anchors
everything once the node is back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.cli.client import LedgerClient
from tests.integration.faults.conftest import (
    anchor_txs,
    check_anchored_once,
    check_proofs,
    eventually,
    metric,
    new_creator,
    proofs,
    running_chain,
)
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest

pytestmark = pytest.mark.chain


async def test_service_accepts_during_outage_and_anchors_after(
    tmp_path: Path, services: Callable[..., ServiceProcess]
) -> None:
    async with running_chain(tmp_path, state=True) as chain:
        service = services(chain)
        await service.start()
        async with LedgerClient(service.url, timeout=10.0) as client:
            key = await new_creator(client, "creator:outage")
            docs = [manifest("creator:outage", key, n) for n in range(60)]
            before = [(await client.submit(doc))[1]["manifestDigest"] for doc in docs[:5]]
            await proofs(client, before)

            # An anchor signed and broadcast but not yet mined when the node stops: the
            # node's pool dies with it (only the chain is kept in --state).
            await chain.rpc("evm_setAutomine", False)
            in_flight = [(await client.submit(doc))[1]["manifestDigest"] for doc in docs[5:10]]

            async def anchor_pooled() -> bool:
                return any(b["status"] == "submitted" for b in await client.batches())

            await eventually(anchor_pooled, "an anchor waiting in the node's pool")
            await chain.anvil.stop()
            status, health = await client.health()
            assert status == 503 and health["chain"].startswith("unavailable"), health
            assert health["database"] == "ok"

            during = []
            for doc in docs[10:30]:
                status, body = await client.submit(doc)
                assert status == 202 and body["status"] == "pending"
                during.append(body["manifestDigest"])
            results = await client.submit_many(docs[30:])
            assert [r["httpStatus"] for r in results] == [202] * 30
            during += [r["manifestDigest"] for r in results]

            async def sealed_meanwhile() -> bool:
                return any(b["status"] == "batched" for b in await client.batches())

            # Batching goes on without the chain; anchoring waits for it.
            await eventually(sealed_meanwhile, "a batch sealed during the outage")
            status, health = await client.health()
            assert status == 503 and health["chain"].startswith("unavailable"), health

            async def rpc_errors_counted() -> bool:
                return await metric(service.url, "ledger_rpc_errors_total") > 0

            # The anchorer's polls of the pooled anchor failed and were counted, not fatal.
            await eventually(rpc_errors_counted, "RPC errors in /metrics")
            for digest in in_flight + during:
                status, body = await client.proof(digest)
                assert status == 202 and body["status"] in ("pending", "batched", "submitted")

            # Same port, same chain (anvil --state), an empty pool, automine on again.
            await chain.anvil.start()

            async def healthy() -> bool:
                return (await client.health())[0] == 200

            await eventually(healthy, "/healthz to report the chain back")
            bundles = await proofs(client, before + in_flight + during)
        await check_proofs(chain, bundles.values())
        assert service.stop() == 0
        await check_anchored_once(chain, service.data_dir)
        # The pooled anchor was lost with the node and sent again: one tx per batch.
        txs = anchor_txs(service.data_dir)
        assert [tx["nonce"] for tx in txs] == list(range(len(txs)))
        assert all(tx["inclusion"]["succeeded"] for tx in txs)
