"""A database restored from an older backup, behind the registry: the service refuses
to anchor (every anchor would revert on the batch-number fence and burn gas) and says why."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account

from ledger.chain.anvil import DEV_KEYS
from ledger.chain.deploy import deploy_contracts
from ledger.client import LedgerClient
from tests.integration.faults.conftest import (
    ANCHORER_KEY,
    FAST_ENV,
    Chain,
    db_rows,
    eventually,
    new_creator,
    proofs,
)
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest

pytestmark = pytest.mark.chain


async def test_a_database_behind_the_registry_stops_anchoring_loudly(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain)
    await service.start()
    async with LedgerClient(service.url) as client:
        key = await new_creator(client, "creator:restore")
        _, first = await client.submit(manifest("creator:restore", key, 0))
        await proofs(client, [first["manifest_digest"]])
        service.stop()
        backup = service.data_dir.parent / "backup"
        shutil.copytree(service.data_dir, backup)
        await service.start()
        _, later = await client.submit(manifest("creator:restore", key, 1))
        await proofs(client, [later["manifest_digest"]])
        service.stop()
        shutil.rmtree(service.data_dir)
        shutil.copytree(backup, service.data_dir)
        anchorer = Account.from_key(ANCHORER_KEY).address
        sent = await chain.w3.eth.get_transaction_count(anchorer, "pending")
        await service.start()
        status, _ = await client.submit(manifest("creator:restore", key, 2))
        assert status == 202

        async def refused() -> bool:
            return "the registry has batches up to 2 but the database only up to" in (
                service.log_text()
            )

        await eventually(refused, "the refusal in the log")
        assert await chain.w3.eth.get_transaction_count(anchorer, "pending") == sent


async def test_a_batch_anchored_after_the_backup_is_found_on_chain(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain)
    await service.start()
    async with LedgerClient(service.url) as client:
        key = await new_creator(client, "creator:restore")
        _, body = await client.submit(manifest("creator:restore", key, 0))
        (bundle,) = (await proofs(client, [body["manifest_digest"]])).values()
        service.stop()
        # The database as a backup taken after sealing, before the anchor was journaled.
        with contextlib.closing(sqlite3.connect(service.data_dir / "ledger.db")) as db, db:
            db.execute("UPDATE batches SET status = 'batched', tx_hash = NULL, "
                       "block_number = NULL, block_hash = NULL, block_timestamp = NULL, "
                       "gas_used = NULL, confirmed_at = NULL")
            db.execute("DELETE FROM chain_txs")
        assert db_rows(service.data_dir, "SELECT status FROM batches") == [("batched",)]
        anchorer = Account.from_key(ANCHORER_KEY).address
        sent = await chain.w3.eth.get_transaction_count(anchorer, "pending")
        await service.start()
        (again,) = (await proofs(client, [body["manifest_digest"]])).values()
    assert again.anchor == bundle.anchor
    # Found on chain: no anchor sent again, not even one that would revert.
    assert await chain.w3.eth.get_transaction_count(anchorer, "pending") == sent
    assert "(found on chain)" in service.log_text()


async def test_an_old_database_on_a_new_registry_stops_after_one_revert(
    chain: Chain, services: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    service = services(chain)
    await service.start()
    async with LedgerClient(service.url) as client:
        key = await new_creator(client, "creator:redeploy")
        _, first = await client.submit(manifest("creator:redeploy", key, 0))
        await proofs(client, [first["manifest_digest"]])
    service.stop()
    anchorer = Account.from_key(ANCHORER_KEY).address
    fresh = await deploy_contracts(chain.w3, DEV_KEYS[0], anchorers=[anchorer], meters=[anchorer])
    fresh.write(tmp_path / "fresh.json")
    moved = ServiceProcess(service.data_dir, rpc_url=chain.anvil.rpc_url,
                           deployment_file=tmp_path / "fresh.json", anchorer_key=ANCHORER_KEY,
                           env=FAST_ENV)
    sent = await chain.w3.eth.get_transaction_count(anchorer, "pending")
    await moved.start()
    try:
        async with LedgerClient(moved.url) as client:
            status, _ = await client.submit(manifest("creator:redeploy", key, 1))
            assert status == 202

            async def refused() -> bool:
                return "anchored on another registry" in moved.log_text()

            await eventually(refused, "the refusal in the log")
    finally:
        moved.stop()
    assert await chain.w3.eth.get_transaction_count(anchorer, "pending") <= sent + 1
