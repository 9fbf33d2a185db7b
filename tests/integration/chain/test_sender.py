"""Sender on a real anvil: plain ETH transfers through every fault the anchorer meets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain.anvil import DEV_KEYS, AnvilProcess
from ledger.chain.rpc import ChainUnavailableError, Web3Client, connect
from ledger.chain.tx.journal import JsonFileJournal, MemoryJournal
from ledger.chain.tx.sender import CounterMetrics, Sender
from ledger.chain.tx.state import SendPolicy, SentTx, TxEvent, TxEventKind, TxStatus
from tests.integration.chain.conftest import FAST_POLICY, FakeClock, poll_until, rpc

pytestmark = pytest.mark.chain

PAYEE = Account.from_key(DEV_KEYS[5]).address


def kinds(events: list[TxEvent]) -> list[tuple[str, str]]:
    return [(e.kind.value, e.key) for e in events]


def make_sender(
    w3: Web3Client, journal: MemoryJournal, clock: FakeClock | None = None,
    policy: SendPolicy = FAST_POLICY, key: str = DEV_KEYS[2],
) -> Sender:
    return Sender(w3, Account.from_key(key), journal, policy=policy,
                  metrics=CounterMetrics(), clock=clock or FakeClock())


@pytest.fixture
async def quiet_anvil() -> AsyncIterator[AnvilProcess]:
    """An anvil that mines only on evm_mine, so transactions stay pending."""
    async with AnvilProcess(no_mining=True) as node:
        yield node


@pytest.fixture
async def qw3(quiet_anvil: AnvilProcess) -> AsyncIterator[Web3Client]:
    client = connect(quiet_anvil.rpc_url, timeout=2.0, attempts=1)
    yield client
    await client.provider.disconnect()


async def test_transfer_is_confirmed_once_and_key_is_idempotent(w3: Web3Client) -> None:
    journal = MemoryJournal()
    sender = make_sender(w3, journal)
    sent = await sender.submit("pay:1", PAYEE, value=123)
    again = await sender.submit("pay:1", PAYEE, value=999)
    assert again == sent and len(journal.all()) == 1
    events = await poll_until(sender, TxEventKind.CONFIRMED, "pay:1")
    assert kinds(events) == [("mined", "pay:1"), ("confirmed", "pay:1")]
    done = events[-1].tx
    assert done.status is TxStatus.CONFIRMED and done.inclusion is not None
    assert done.inclusion.gas_used == 21000 and done.inclusion.block_timestamp > 0
    assert await w3.eth.get_balance(PAYEE) == 10_000 * 10**18 + 123
    # A confirmed key is still the same transaction, never a second one.
    assert (await sender.submit("pay:1", PAYEE, value=1)).tx_hashes == sent.tx_hashes


async def test_confirmation_depth_waits_for_blocks(w3: Web3Client) -> None:
    policy = replace(FAST_POLICY, confirmations=3)
    sender = make_sender(w3, MemoryJournal(), policy=policy)
    await sender.submit("pay:deep", PAYEE, value=1)
    assert kinds(await poll_until(sender, TxEventKind.MINED, "pay:deep")) == [("mined", "pay:deep")]
    await rpc(w3, "evm_mine")
    assert await sender.poll() == []
    await rpc(w3, "evm_mine")
    assert kinds(await sender.poll()) == [("confirmed", "pay:deep")]


async def test_restart_recovers_nonce_and_pending_txs(qw3: Web3Client) -> None:
    journal = MemoryJournal()
    first = make_sender(qw3, journal)
    for i in range(3):
        await first.submit(f"pay:{i}", PAYEE, value=i + 1)
    assert first.next_nonce == 3
    # The process dies with three txs in flight; a new one starts on the same journal.
    second = make_sender(qw3, journal)
    await second.start()
    assert second.next_nonce == 3
    assert [t.key for t in second.open_transactions()] == ["pay:0", "pay:1", "pay:2"]
    fourth = await second.submit("pay:3", PAYEE, value=4)
    assert fourth.nonce == 3
    assert await second.poll() == []  # rebroadcasts are "already known": no REJECTED
    await rpc(qw3, "evm_mine")
    events = await second.poll()
    confirmed = [e.key for e in events if e.kind is TxEventKind.CONFIRMED]
    assert confirmed == ["pay:0", "pay:1", "pay:2", "pay:3"]
    assert await qw3.eth.get_transaction_count(second.address) == 4


async def test_journaled_but_never_broadcast_tx_is_sent_after_restart(
    w3: Web3Client, tmp_path: Path
) -> None:
    journal = JsonFileJournal(tmp_path / "journal.json")
    crashed = make_sender(w3, journal)
    await crashed.start()
    # Sign and journal exactly as submit does, then "crash" before broadcasting.
    attempt = crashed._sign(0, PAYEE, b"", 7, 21000, await crashed._market_fees())
    tx = SentTx("pay:lost", crashed.address, 31337, 0, PAYEE, b"", 7, 21000, (attempt,))
    await journal.record_attempt(tx, attempt)
    restarted = make_sender(w3, JsonFileJournal(tmp_path / "journal.json"))
    await restarted.start()
    assert restarted.next_nonce == 1
    events = await poll_until(restarted, TxEventKind.CONFIRMED, "pay:lost")
    assert kinds(events) == [("mined", "pay:lost"), ("confirmed", "pay:lost")]


async def test_stuck_tx_is_replaced_with_higher_fees_then_mined(qw3: Web3Client) -> None:
    clock = FakeClock()
    sender = make_sender(qw3, MemoryJournal(), clock)
    sent = await sender.submit("pay:stuck", PAYEE, value=5)
    assert await sender.poll() == []
    clock.advance(FAST_POLICY.stuck_after + 1)
    events = await sender.poll()
    assert kinds(events) == [("replaced", "pay:stuck")]
    bumped = events[0].tx
    old, new = sent.latest.fees, bumped.latest.fees
    assert bumped.nonce == sent.nonce and len(bumped.attempts) == 2
    assert new.max_fee_per_gas * 8 >= old.max_fee_per_gas * 9
    assert new.max_priority_fee_per_gas * 8 >= old.max_priority_fee_per_gas * 9
    await rpc(qw3, "evm_mine")
    events = await sender.poll()
    assert kinds(events) == [("mined", "pay:stuck"), ("confirmed", "pay:stuck")]
    assert events[-1].tx_hash == bumped.latest.tx_hash
    assert sender.metrics.counts["replacements"] == 1  # type: ignore[attr-defined]


async def test_original_hash_mined_after_replacement_is_found(qw3: Web3Client) -> None:
    clock = FakeClock()
    sender = make_sender(qw3, MemoryJournal(), clock)
    sent = await sender.submit("pay:either", PAYEE, value=5)
    clock.advance(FAST_POLICY.stuck_after + 1)
    bumped = (await sender.poll())[0].tx
    # The pool loses the replacement and a peer gossips the original back: it is mined.
    await rpc(qw3, "anvil_dropTransaction", bumped.latest.tx_hash)
    await rpc(qw3, "eth_sendRawTransaction", "0x" + sent.latest.raw.hex())
    await rpc(qw3, "evm_mine")
    events = await sender.poll()
    assert kinds(events) == [("mined", "pay:either"), ("confirmed", "pay:either")]
    assert events[-1].tx_hash == sent.latest.tx_hash != bumped.latest.tx_hash
    # Rebroadcasting a mined nonce ("nonce too low") is not an error either.
    clock.advance(FAST_POLICY.rebroadcast_every + 1)
    assert await sender.poll() == []


async def test_rebroadcast_of_known_tx_is_not_an_error(qw3: Web3Client) -> None:
    clock = FakeClock()
    sender = make_sender(qw3, MemoryJournal(), clock)
    await sender.submit("pay:known", PAYEE, value=5)
    for _ in range(2):  # (stuck_after is 30 s: no replacement yet)
        clock.advance(FAST_POLICY.rebroadcast_every + 0.1)
        assert await sender.poll() == []
    assert sender.metrics.counts["broadcasts"] == 3  # type: ignore[attr-defined]
    assert sender.metrics.counts["rejected"] == 0  # type: ignore[attr-defined]


async def test_rpc_outage_backs_off_and_recovers(tmp_path: Path) -> None:
    node = AnvilProcess(no_mining=True, state=tmp_path / "chain.json")
    await node.start()
    w3 = connect(node.rpc_url, timeout=1.0, attempts=1)
    try:
        clock = FakeClock()
        sender = make_sender(w3, MemoryJournal(), clock)
        await sender.submit("pay:before", PAYEE, value=8)
        await rpc(w3, "evm_mine")
        await poll_until(sender, TxEventKind.CONFIRMED, "pay:before")  # watched for reorgs
        await sender.submit("pay:outage", PAYEE, value=9)
        await node.stop()  # the chain goes away with the tx in its pool
        delays = []
        for _ in range(3):
            assert await sender.poll() == []
            delays.append(sender.delay)
        assert delays == sorted(delays) and delays[0] < delays[-1]
        assert sender.metrics.counts["rpc_errors"] == 3  # type: ignore[attr-defined]
        assert sender.last_error is not None
        with pytest.raises(ChainUnavailableError):
            await sender.submit("pay:later", PAYEE, value=1)
        await node.start()  # same port and state; the pool did not survive
        assert await sender.poll() == []  # rebroadcast
        assert sender.delay == FAST_POLICY.poll_interval and sender.last_error is None
        await rpc(w3, "evm_mine")
        assert kinds(await sender.poll()) == [("mined", "pay:outage"), ("confirmed", "pay:outage")]
        later = await sender.submit("pay:later", PAYEE, value=1)
        assert later.nonce == 2
        # The dumped state kept the blocks: the confirmed tx was never taken for reorged.
        assert sender.metrics.counts["reorgs"] == 0
    finally:
        await w3.provider.disconnect()
        await node.stop()


async def test_reorg_dropping_confirmed_tx_is_reported_and_resent(w3: Web3Client) -> None:
    sender = make_sender(w3, MemoryJournal())
    snapshot = await rpc(w3, "evm_snapshot")
    await sender.submit("pay:reorg", PAYEE, value=3)
    events = await poll_until(sender, TxEventKind.CONFIRMED, "pay:reorg")
    first = events[-1].tx.inclusion
    assert kinds(events)[-1] == ("confirmed", "pay:reorg") and first is not None
    await rpc(w3, "evm_revert", snapshot)
    await rpc(w3, "anvil_setAutomine", False)
    for _ in range(3):  # the other branch: longer, without our tx
        await rpc(w3, "evm_mine")
    events = await sender.poll()
    assert kinds(events) == [("reorged", "pay:reorg")]
    assert events[0].tx.status is TxStatus.PENDING
    assert str(first.block_number) in (events[0].detail or "")
    await rpc(w3, "evm_mine")  # the rebroadcast tx lands on the new branch
    events = await sender.poll()
    assert kinds(events) == [("mined", "pay:reorg"), ("confirmed", "pay:reorg")]
    second = events[-1].tx.inclusion
    assert second is not None and second.block_hash != first.block_hash
    assert second.block_number == 4
    assert sender.metrics.counts["reorgs"] == 1  # type: ignore[attr-defined]


async def test_rollback_of_mined_tx_is_detected(qw3: Web3Client) -> None:
    sender = make_sender(qw3, MemoryJournal(), policy=replace(FAST_POLICY, confirmations=3))
    await sender.submit("pay:rollback", PAYEE, value=3)
    await rpc(qw3, "evm_mine")
    assert kinds(await sender.poll()) == [("mined", "pay:rollback")]
    await rpc(qw3, "anvil_rollback", 1)
    assert kinds(await sender.poll()) == [("reorged", "pay:rollback")]
    await rpc(qw3, "evm_mine")
    assert kinds(await sender.poll()) == [("mined", "pay:rollback")]


async def test_nonce_taken_by_foreign_tx_is_dropped(w3: Web3Client) -> None:
    journal = MemoryJournal()
    sender = make_sender(w3, journal)
    await sender.start()
    attempt = sender._sign(0, PAYEE, b"", 7, 21000, await sender._market_fees())
    tx = SentTx("pay:foreign", sender.address, 31337, 0, PAYEE, b"", 7, 21000, (attempt,))
    await journal.record_attempt(tx, attempt)
    # Someone else with the key uses nonce 0 before our journaled tx is broadcast.
    other: LocalAccount = Account.from_key(DEV_KEYS[2])
    signed = other.sign_transaction({
        "type": 2, "chainId": 31337, "nonce": 0, "to": PAYEE, "value": 1, "gas": 21000,
        "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9,
    })
    await rpc(w3, "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
    await w3.eth.wait_for_transaction_receipt(signed.hash, timeout=5, poll_latency=0.01)
    restarted = make_sender(w3, journal)
    events = await poll_until(restarted, TxEventKind.DROPPED, "pay:foreign")
    assert kinds(events) == [("dropped", "pay:foreign")]
    assert (await journal.get("pay:foreign")).status is TxStatus.DROPPED  # type: ignore[union-attr]
    assert restarted.next_nonce == 1


async def test_key_used_elsewhere_while_idle_drops_then_resyncs(w3: Web3Client) -> None:
    sender = make_sender(w3, MemoryJournal())
    await sender.start()
    other: LocalAccount = Account.from_key(DEV_KEYS[2])
    signed = other.sign_transaction({
        "type": 2, "chainId": 31337, "nonce": 0, "to": PAYEE, "value": 1, "gas": 21000,
        "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9,
    })
    await rpc(w3, "eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
    await w3.eth.wait_for_transaction_receipt(signed.hash, timeout=5, poll_latency=0.01)
    stale = await sender.submit("pay:a", PAYEE, value=1)  # nonce 0: "nonce too low"
    assert stale.nonce == 0
    events = await poll_until(sender, TxEventKind.DROPPED, "pay:a")
    assert kinds(events) == [("dropped", "pay:a")]
    fresh = await sender.submit("pay:b", PAYEE, value=1)
    assert fresh.nonce == 1
    await poll_until(sender, TxEventKind.CONFIRMED, "pay:b")
