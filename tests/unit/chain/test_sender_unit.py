"""The Sender on a fake node: one transaction per purpose key for ever, nonces neither
burnt nor reused across restarts, a stuck transaction replaced at its nonce."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.splitter import RoyaltySplitter, UsageItem
from ledger.chain.rpc import ChainRevertError, ChainUnavailableError, RevertDecoder
from ledger.chain.tx.journal import MemoryJournal
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SendPolicy, TxEventKind, TxStatus
from ledger.core.royalty.terms import ETH_TOKEN
from tests.fakes.node import SPLITTER, FakeNode, FakeWeb3

KEY = "0x" + "e1" * 32
TO = "0x" + "22" * 20
POLICY = SendPolicy(confirmations=1, reorg_window=2, stuck_after=30.0, rebroadcast_every=10.0)


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _sender(node: FakeNode, journal: MemoryJournal, clock: Clock | None = None) -> Sender:
    return Sender(FakeWeb3(node), Account.from_key(KEY), journal,  # type: ignore[arg-type]
                  policy=POLICY, clock=clock or Clock(),
                  decoder=RevertDecoder([load_artifact("RoyaltySplitter").abi]))


async def test_a_purpose_key_is_one_transaction_even_after_a_restart() -> None:
    node, journal = FakeNode(), MemoryJournal()
    sender = _sender(node, journal)
    first = await sender.submit("anchor:1", TO, b"\x01")
    assert await sender.submit("anchor:1", TO, b"\x02") == first
    restarted = _sender(node, journal)
    assert await restarted.submit("anchor:1", TO, b"\x03") == first
    assert len(node.broadcasts) == 1
    node.mine()
    await restarted.poll()
    confirmed = await restarted.get("anchor:1")
    assert confirmed is not None and confirmed.status is TxStatus.CONFIRMED
    # Confirmed or not, the key still names that transaction: nothing is sent again.
    assert (await restarted.submit("anchor:1", TO, b"\x04")).nonce == first.nonce
    assert len(node.broadcasts) == 1


async def test_nonces_continue_from_the_journal_when_the_node_forgot_the_pool() -> None:
    node, journal = FakeNode(), MemoryJournal()
    sender = _sender(node, journal)
    assert [(await sender.submit(f"k:{i}", TO)).nonce for i in range(2)] == [0, 1]
    node.pool.clear()  # the node restarted with an empty pool
    restarted = _sender(node, journal)
    assert (await restarted.submit("k:2", TO)).nonce == 2
    await restarted.poll()  # broadcasts the journaled transactions again, bytes unchanged
    node.mine()
    await restarted.poll()
    for i in range(3):
        tx = await restarted.get(f"k:{i}")
        assert tx is not None and tx.status is TxStatus.CONFIRMED
    assert node.count(restarted.address, "latest") == 3


async def test_a_nonce_another_user_of_the_key_took_is_skipped() -> None:
    node = FakeNode()
    sender = _sender(node, MemoryJournal())
    node.use_nonce(sender.address)
    assert (await sender.submit("k:0", TO)).nonce == 1


async def test_a_transaction_whose_nonce_another_took_is_dropped() -> None:
    node = FakeNode()
    sender = _sender(node, MemoryJournal())
    await sender.submit("k:0", TO)
    node.pool.clear()
    node.use_nonce(sender.address)
    node.mine()
    # Judged dropped only when two polls agree (a node may count the nonce first).
    assert await sender.poll() == []
    (event,) = await sender.poll()
    assert event.kind is TxEventKind.DROPPED
    tx = await sender.get("k:0")
    assert tx is not None and tx.status is TxStatus.DROPPED


async def test_a_stuck_transaction_is_replaced_at_its_nonce() -> None:
    node, journal, clock = FakeNode(), MemoryJournal(), Clock()
    sender = _sender(node, journal, clock)
    node.min_tip = 10**18  # nothing this sender pays gets mined
    first = await sender.submit("k:0", TO, b"\x01")
    node.mine()
    clock.now += POLICY.stuck_after - 1
    assert [e.kind for e in await sender.poll()] == []
    clock.now += 1
    (replaced,) = await sender.poll()
    assert replaced.kind is TxEventKind.REPLACED
    bumped = replaced.tx
    assert bumped.nonce == first.nonce and len(bumped.attempts) == 2
    old, new = (a.fees for a in bumped.attempts)
    assert new.max_priority_fee_per_gas * 10_000 >= old.max_priority_fee_per_gas * 11_250
    assert new.max_fee_per_gas * 10_000 >= old.max_fee_per_gas * 11_250
    journaled = await journal.get("k:0")
    assert journaled is not None and journaled.tx_hashes == bumped.tx_hashes
    # The node keeps the replacement only; once mined, the key's inclusion is its hash.
    assert [p.tx_hash for p in node.pool.values()] == [bytes.fromhex(bumped.latest.tx_hash[2:])]
    node.min_tip = 0
    node.mine()
    kinds = [e.kind for e in await sender.poll()]
    assert TxEventKind.CONFIRMED in kinds
    tx = await sender.get("k:0")
    assert tx is not None and tx.inclusion is not None
    assert tx.inclusion.tx_hash == bumped.latest.tx_hash
    assert node.count(sender.address, "latest") == 1


async def test_a_reorged_transaction_is_broadcast_again_unchanged() -> None:
    node = FakeNode()
    sender = _sender(node, MemoryJournal())
    sent = await sender.submit("k:0", TO)
    node.mine()
    await sender.poll()
    node.reorg(1)
    node.pool.clear()  # the reorg's new chain never saw it
    (event,) = await sender.poll()
    assert event.kind is TxEventKind.REORGED
    assert node.broadcasts[-1] == sent.latest.raw
    node.mine()
    await sender.poll()
    tx = await sender.get("k:0")
    assert tx is not None and tx.status is TxStatus.CONFIRMED


async def test_a_call_that_would_revert_signs_nothing() -> None:
    node = FakeNode()
    sender = _sender(node, MemoryJournal())
    client = RoyaltySplitter(FakeWeb3(node), SPLITTER,  # type: ignore[arg-type]
                             load_artifact("RoyaltySplitter"))
    data = client.settle_data(TO, ETH_TOKEN, bytes(32), [UsageItem(bytes(32), 1, 1)])
    with pytest.raises(ChainRevertError) as refused:
        await sender.submit("settle:x:1", SPLITTER, data)
    assert "RoyaltySplitterUnknownVersion" in refused.value.reason
    assert await sender.get("settle:x:1") is None
    assert (await sender.submit("k:0", TO)).nonce == 0


async def test_an_unreachable_node_burns_no_nonce_and_poll_never_raises() -> None:
    node = FakeNode()
    sender = _sender(node, MemoryJournal())
    await sender.submit("k:0", TO)
    node.down = True
    with pytest.raises(ChainUnavailableError):
        await sender.submit("k:1", TO)
    assert await sender.poll() == []
    assert sender.last_error is not None and sender.delay > POLICY.poll_interval
    node.down = False
    assert (await sender.submit("k:1", TO)).nonce == 1
    await sender.poll()
    assert sender.last_error is None
