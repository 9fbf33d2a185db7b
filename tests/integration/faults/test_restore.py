"""A database restored from an older backup, or moved onto a newly deployed registry:
the service never sends an anchor that would revert on the registry's batch-number fence
(burning gas for ever), says why in its log, and takes back from the chain an anchor the
backup does not know."""

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
from ledger.cli.client import LedgerClient
from ledger.core.proof import ProofBundle
from ledger.core.signing import SigningKey
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

ANCHORER = Account.from_key(ANCHORER_KEY).address


async def _sent(chain: Chain) -> int:
    """Transactions the anchorer account has sent, pending ones included."""
    return await chain.w3.eth.get_transaction_count(ANCHORER, "pending")


async def _proven(client: LedgerClient, creator_id: str, key: SigningKey, n: int
                  ) -> ProofBundle:
    """Submit manifest `n` of `creator_id` and wait for its proof."""
    _, body = await client.submit(manifest(creator_id, key, n))
    (bundle,) = (await proofs(client, [body["manifestDigest"]])).values()
    return bundle


async def _logged(service: ServiceProcess, text: str) -> None:
    async def said() -> bool:
        return text in service.log_text()

    await eventually(said, f"{text!r} in the log")


async def test_a_database_behind_the_registry_stops_anchoring_loudly(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain)
    await service.start()
    async with LedgerClient(service.url) as client:
        key = await new_creator(client, "creator:restore")
        await _proven(client, "creator:restore", key, 0)
        service.stop()
        backup = service.data_dir.parent / "backup"
        shutil.copytree(service.data_dir, backup)
        await service.start()
        await _proven(client, "creator:restore", key, 1)
        service.stop()
        shutil.rmtree(service.data_dir)
        shutil.copytree(backup, service.data_dir)
        sent = await _sent(chain)
        await service.start()
        status, _ = await client.submit(manifest("creator:restore", key, 2))
        assert status == 202
        # Batch 1 holds the creator's register record, 2 manifest 0, 3 manifest 1.
        await _logged(service, "the registry has batches up to 3 but the database only up to 2")
        assert await _sent(chain) == sent


async def test_a_batch_anchored_after_the_backup_is_found_on_chain(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain)
    await service.start()
    async with LedgerClient(service.url) as client:
        key = await new_creator(client, "creator:restore")
        bundle = await _proven(client, "creator:restore", key, 0)
        service.stop()
        # The database as a backup taken after sealing, before the anchor was journaled.
        with contextlib.closing(sqlite3.connect(service.data_dir / "ledger.db")) as db, db:
            db.execute("UPDATE batches SET status = 'batched', tx_hash = NULL, "
                       "block_number = NULL, block_hash = NULL, block_timestamp = NULL, "
                       "gas_used = NULL, confirmed_at = NULL")
            db.execute("DELETE FROM chain_txs")
        # The creator's register record and manifest 0: both unanchored in the backup.
        assert db_rows(service.data_dir, "SELECT status FROM batches") == [("batched",)] * 2
        sent = await _sent(chain)
        await service.start()
        (again,) = (await proofs(client, ["0x" + bundle.manifest_digest.hex()])).values()
    assert again.anchor == bundle.anchor
    # Found on chain: no anchor sent again, not even one that would revert.
    assert await _sent(chain) == sent
    assert "(found on chain)" in service.log_text()


async def test_an_old_database_on_a_new_registry_stops_after_one_revert(
    chain: Chain, services: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    service = services(chain)
    await service.start()
    async with LedgerClient(service.url) as client:
        key = await new_creator(client, "creator:redeploy")
        await _proven(client, "creator:redeploy", key, 0)
    service.stop()
    fresh = await deploy_contracts(chain.w3, DEV_KEYS[0], anchorers=[ANCHORER], meters=[ANCHORER])
    fresh.write(tmp_path / "fresh.json")
    moved = ServiceProcess(service.data_dir, rpc_url=chain.anvil.rpc_url,
                           deployment_file=tmp_path / "fresh.json", anchorer_key=ANCHORER_KEY,
                           env=FAST_ENV)
    sent = await _sent(chain)
    await moved.start()
    try:
        async with LedgerClient(moved.url) as client:
            status, _ = await client.submit(manifest("creator:redeploy", key, 1))
            assert status == 202
            await _logged(moved, "anchored on another registry")
    finally:
        moved.stop()
    assert await _sent(chain) <= sent + 1
