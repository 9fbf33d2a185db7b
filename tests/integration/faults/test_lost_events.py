"""A crash between the sender journaling a transaction's new state and the anchorer
applying the event it reported: the restarted service must still finish the batch.

Deterministic companion of the `kill -9` test, which hits this window only by luck:
here the "crash" is dropping the events one `Sender.poll` returned.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SendPolicy, TxEvent, TxEventKind, TxStatus
from ledger.core.merkle import MerkleTree, join_levels
from ledger.core.records import BatchRecord, BatchStatus, NewManifest
from ledger.metrics import Metrics
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.schema import upgrade
from ledger.storage.txdocs import TxDocStore
from ledger.workers.anchoring import Anchorer
from ledger.workers.tx_journal import DatabaseJournal
from tests.integration.faults.conftest import ANCHORER_KEY, Chain

pytestmark = pytest.mark.chain

POLICY = SendPolicy(confirmations=1, reorg_window=8, poll_interval=0.02, max_backoff=0.2)


@dataclass
class Stores:
    engine: AsyncEngine
    manifests: ManifestStore
    docs: TxDocStore


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await upgrade(engine)
    yield Stores(engine, ManifestStore(engine), TxDocStore(engine))
    await engine.dispose()


def _anchorer(chain: Chain, stores: Stores) -> tuple[Anchorer, Sender]:
    """A fresh sender and anchorer over the same database: a restarted service."""
    sender = Sender(chain.w3, Account.from_key(ANCHORER_KEY), DatabaseJournal(stores.docs),
                    policy=POLICY)
    registry = AnchorRegistry(chain.w3, chain.deployment.registry.address,
                              load_artifact("AnchorRegistry"))
    anchorer = Anchorer(stores.manifests, sender, registry, Metrics(), key_scope="t")
    return anchorer, sender


async def _sealed_batch(stores: Stores) -> BatchRecord:
    await stores.manifests.add(
        [NewManifest(bytes([i]) * 32, "creator:x", "p256:x", b"{}", i) for i in range(1, 4)]
    )
    pending = await stores.manifests.pending(10)
    tree = MerkleTree([digest for _, digest in pending])
    batch = await stores.manifests.seal([seq for seq, _ in pending], tree.root,
                                        join_levels(tree), 0)
    assert batch is not None
    return batch


async def _status(stores: Stores, number: int) -> BatchStatus:
    batch = await stores.manifests.batch(number)
    assert batch is not None
    return batch.status


async def test_confirmed_event_lost_in_a_crash_still_confirms_the_batch(
    chain: Chain, stores: Stores
) -> None:
    sealed = await _sealed_batch(stores)
    anchorer, sender = _anchorer(chain, stores)
    await anchorer._submit(sealed)
    # The sender journals "confirmed" and reports it once; the process dies before
    # the anchorer records it.
    events: list[TxEvent] = []
    while not any(e.kind is TxEventKind.CONFIRMED for e in events):
        events += await sender.poll()
    assert await _status(stores, sealed.number) is BatchStatus.SUBMITTED
    inclusion = events[-1].tx.inclusion
    assert inclusion is not None

    restarted, _ = _anchorer(chain, stores)
    await restarted.step()
    batch = await stores.manifests.batch(sealed.number)
    assert batch is not None and batch.status is BatchStatus.CONFIRMED
    assert batch.anchor is not None and "0x" + batch.anchor.tx_hash.hex() == inclusion.tx_hash
    record = await chain.registry.anchored_at(batch.root)
    assert record is not None and record.block_number == batch.anchor.block_number


async def test_reorged_event_lost_in_a_crash_reopens_the_batch(
    chain: Chain, stores: Stores
) -> None:
    number = (await _sealed_batch(stores)).number
    anchorer, sender = _anchorer(chain, stores)
    snapshot = await chain.rpc("evm_snapshot")
    for _ in range(100):
        await anchorer.step()
        if await _status(stores, number) is BatchStatus.CONFIRMED:
            break
    first = await stores.manifests.batch(number)
    assert first is not None and first.status is BatchStatus.CONFIRMED
    assert first.anchor is not None
    # The anchor leaves the chain; the sender journals it pending again and reports
    # REORGED once; the process dies before the anchorer reopens the batch.
    await chain.rpc("anvil_setAutomine", False)
    await chain.rpc("evm_revert", snapshot)
    await chain.rpc("anvil_mine", 3)
    assert TxEventKind.REORGED in [e.kind for e in await sender.poll()]
    tx = await sender.get(f"anchor:t:{number}#1")
    assert tx is not None and tx.status is TxStatus.PENDING

    restarted, _ = _anchorer(chain, stores)
    await restarted.step()
    assert await _status(stores, number) is BatchStatus.SUBMITTED
    # Blocks again: the same transaction lands on the new branch and is recorded there.
    await chain.rpc("anvil_setAutomine", True)
    await chain.rpc("evm_mine")
    for _ in range(100):
        await restarted.step()
        if await _status(stores, number) is BatchStatus.CONFIRMED:
            break
    batch = await stores.manifests.batch(number)
    assert batch is not None and batch.status is BatchStatus.CONFIRMED
    assert batch.anchor is not None and batch.anchor.tx_hash == first.anchor.tx_hash
    assert batch.anchor.block_hash != first.anchor.block_hash
