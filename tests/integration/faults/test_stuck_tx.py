"""An anchor left unmined (anvil with automine off) is replaced at the same nonce
with fees at least 12.5% higher; once blocks come, exactly one of its transactions
is mined and the batch confirms."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from ledger.cli.client import LedgerClient
from tests.integration.faults.conftest import (
    Chain,
    anchor_txs,
    check_anchored_once,
    check_proofs,
    eventually,
    new_creator,
    proofs,
)
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest

pytestmark = pytest.mark.chain


def _at_least_bumped(old: int, new: int) -> bool:
    return new * 1000 >= old * 1125


async def test_stuck_anchor_is_replaced_with_higher_fees(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain, {"LEDGER_STUCK_TX_AFTER_S": "1"})
    await service.start()
    async with LedgerClient(service.url, timeout=10.0) as client:
        key = await new_creator(client, "creator:stuck")  # its record anchored: 1 tx
        await chain.rpc("evm_setAutomine", False)
        results = await client.submit_many([manifest("creator:stuck", key, n) for n in range(5)])
        digests = [r["manifestDigest"] for r in results]

        async def replaced() -> bool:
            docs = anchor_txs(service.data_dir)
            return len(docs) == 2 and len(docs[1]["attempts"]) >= 2

        await eventually(replaced, "a replacement of the stuck anchor", timeout=20.0)

        doc: dict[str, Any] = {}
        pooled: dict[str, Any] | None = None

        async def newest_pooled() -> bool:
            # An attempt is journaled before it is broadcast, and a newer one may follow
            # a second later: wait for the node to hold the journal's newest.
            nonlocal pooled, doc
            doc = anchor_txs(service.data_dir)[1]
            pooled = await chain.rpc("eth_getTransactionByHash", doc["attempts"][-1]["txHash"])
            return pooled is not None

        await eventually(newest_pooled, "the newest replacement in the node's pool")
        attempts: list[dict[str, Any]] = doc["attempts"]  # one purpose, one nonce, every attempt
        for old, new in itertools.pairwise(attempts):
            assert _at_least_bumped(old["maxFeePerGas"], new["maxFeePerGas"])
            assert _at_least_bumped(old["maxPriorityFeePerGas"], new["maxPriorityFeePerGas"])
        hashes = [a["txHash"] for a in attempts]
        assert len(set(hashes)) == len(hashes)
        # The node holds the replacement at that nonce, with the higher fee.
        assert pooled is not None and pooled["blockNumber"] is None
        assert int(pooled["nonce"], 16) == doc["nonce"]
        assert int(pooled["maxFeePerGas"], 16) == attempts[-1]["maxFeePerGas"]
        status, body = await client.proof(digests[0])
        assert status == 202 and body["status"] == "submitted"

        await chain.rpc("evm_mine")
        await chain.rpc("evm_setAutomine", True)
        bundles = await proofs(client, digests, timeout=30.0)
    await check_proofs(chain, bundles.values())
    assert service.stop() == 0
    doc = anchor_txs(service.data_dir)[1]
    receipts = [await chain.rpc("eth_getTransactionReceipt", a["txHash"]) for a in doc["attempts"]]
    mined = [r for r in receipts if r is not None]
    assert len(mined) == 1  # exactly one transaction for the nonce was mined
    anchor = next(iter(bundles.values())).anchor
    assert anchor is not None and mined[0]["transactionHash"] == "0x" + anchor.tx_hash.hex()
    assert doc["inclusion"]["txHash"] == mined[0]["transactionHash"]
    assert await check_anchored_once(chain, service.data_dir) == 2
