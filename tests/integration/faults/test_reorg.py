"""A reorg removes a confirmed anchor: the service notices, anchors again on the
new canonical chain, and serves a proof that points there."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.cli.client import LedgerClient
from tests.integration.faults.conftest import (
    Chain,
    check_anchored_once,
    check_proofs,
    eventually,
    metric,
    new_creator,
    proofs,
)
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest

pytestmark = pytest.mark.chain


async def test_anchor_dropped_by_reorg_is_anchored_again(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain)
    await service.start()
    async with LedgerClient(service.url, timeout=10.0) as client:
        key = await new_creator(client, "creator:reorg")
        fork_point = await chain.w3.eth.block_number
        snapshot = await chain.rpc("evm_snapshot")  # before the anchor is mined
        results = await client.submit_many([manifest("creator:reorg", key, n) for n in range(8)])
        digests = [r["manifestDigest"] for r in results]
        old = await proofs(client, digests)
        await check_proofs(chain, old.values())
        first = next(iter(old.values())).anchor
        assert first is not None and first.block_number > fork_point

        # The other branch: back to before the anchor, then three blocks without it,
        # all while the service is frozen (else it could rebroadcast in between).
        # Automine stays off so the rebroadcast anchor waits in the pool.
        with service.paused():
            await chain.rpc("evm_setAutomine", False)
            await chain.rpc("evm_revert", snapshot)
            await chain.rpc("anvil_mine", 3)
        tx_hash = "0x" + first.tx_hash.hex()
        assert await chain.rpc("eth_getTransactionReceipt", tx_hash) is None

        async def reorg_seen() -> bool:
            return await metric(service.url, "ledger_anchor_reorgs_total") >= 1

        await eventually(reorg_seen, "the service to see the reorg")

        async def rebroadcast() -> bool:  # the same bytes, back in the node's pool
            pooled = await chain.rpc("eth_getTransactionByHash", tx_hash)
            return pooled is not None and pooled["blockNumber"] is None

        await eventually(rebroadcast, "the dropped anchor rebroadcast")
        status, body = await client.proof(digests[0])
        assert status == 202 and body["status"] == "submitted"
        batch = (await client.batches())[-1]  # the manifests' (the register's is first)
        assert batch["status"] == "submitted"

        await chain.rpc("evm_setAutomine", True)
        await chain.rpc("evm_mine")

        async def moved() -> bool:
            status, body = await client.proof(digests[0])
            return status == 200 and body["anchor"]["blockNumber"] != first.block_number

        await eventually(moved, "a proof on the new canonical chain")
        new = await proofs(client, digests)
    await check_proofs(chain, new.values())
    for bundle in new.values():
        anchor = bundle.anchor
        assert anchor is not None
        assert anchor.tx_hash == first.tx_hash  # the same signed transaction ...
        assert anchor.block_number == fork_point + 4  # ... mined after the three new blocks
        assert anchor.block_hash != first.block_hash
        block = await chain.w3.eth.get_block(anchor.block_number)
        assert bytes(block["hash"]) == anchor.block_hash
    with pytest.raises(AssertionError):  # the old proofs name a block that is gone
        await check_proofs(chain, old.values())
    assert service.stop() == 0
    assert await check_anchored_once(chain, service.data_dir) == 2
