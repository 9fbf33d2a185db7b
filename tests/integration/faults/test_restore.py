"""A database restored from an older backup, behind the registry: the service refuses
to anchor (every anchor would revert on the batch-number fence and burn gas) and says why."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Callable

import pytest
from eth_account import Account

from ledger.client import LedgerClient
from tests.integration.faults.conftest import (
    ANCHORER_KEY,
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
