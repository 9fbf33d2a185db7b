"""AnchorRegistry client on a real anvil: anchoring through the Sender, reading back,
verifying ledger.core.merkle proofs on chain, decoding events and custom errors."""

from __future__ import annotations

import hashlib

import pytest
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from ledger.chain.contracts.registry import AnchorRecord, AnchorRegistry
from ledger.chain.rpc import ChainRevertError, Web3Client
from ledger.chain.tx.journal import MemoryJournal
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import TxEventKind
from ledger.core.merkle import MerkleTree
from ledger.errors import ChainError
from tests.integration.chain.conftest import FAST_POLICY, FakeClock, poll_until, rpc

pytestmark = pytest.mark.chain


def digests(n: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"manifest {salt}{i}".encode()).digest() for i in range(n)]


@pytest.fixture
def sender(w3: Web3Client, anchorer: LocalAccount, registry: AnchorRegistry) -> Sender:
    return Sender(w3, anchorer, MemoryJournal(), policy=FAST_POLICY, decoder=registry.decoder,
                  clock=FakeClock())


async def test_anchor_then_every_proof_verifies_on_chain(
    w3: Web3Client, registry: AnchorRegistry, sender: Sender
) -> None:
    leaves = digests(13)
    tree = MerkleTree(leaves)
    data = registry.anchor_data(1, tree.root, tree.leaf_count)
    await sender.submit("anchor:1", registry.address, data)
    events = await poll_until(sender, TxEventKind.CONFIRMED, "anchor:1")
    inclusion = events[-1].tx.inclusion
    assert inclusion is not None
    receipt = await w3.eth.get_transaction_receipt(HexBytes(inclusion.tx_hash))
    (anchored,) = registry.anchored_events(receipt)
    assert (anchored.root, anchored.batch_number, anchored.leaf_count) == (tree.root, 1, 13)
    assert (anchored.block_number, anchored.block_hash) == (
        inclusion.block_number, inclusion.block_hash)
    assert await registry.anchored_logs(0) == [anchored]
    assert await registry.anchored_at(tree.root) == AnchorRecord(
        timestamp=inclusion.block_timestamp, block_number=inclusion.block_number, batch_number=1)
    assert await registry.next_batch_number() == 2
    for i, (digest, proof) in enumerate(zip(leaves, tree.proofs(), strict=True)):
        assert await registry.verify_inclusion(digest, proof, tree.root) == (
            True, inclusion.block_timestamp), i
    wrong = digests(1, "other")[0]
    assert await registry.verify_inclusion(wrong, tree.proof(0), tree.root) == (False, 0)
    assert await registry.anchored_at(wrong) is None


async def test_anchor_many_and_single_leaf_tree(
    registry: AnchorRegistry, sender: Sender
) -> None:
    trees = [MerkleTree(digests(n, f"t{n}-")) for n in (1, 2, 5)]
    data = registry.anchor_many_data(1, [t.root for t in trees], [t.leaf_count for t in trees])
    await sender.submit("anchor:1-3", registry.address, data)
    await poll_until(sender, TxEventKind.CONFIRMED, "anchor:1-3")
    assert await registry.next_batch_number() == 4
    single = trees[0]
    assert single.proof(0) == []
    assert (await registry.verify_inclusion(digests(1, "t1-")[0], [], single.root))[0]
    assert [(await registry.anchored_at(t.root)).batch_number for t in trees] == [1, 2, 3]  # type: ignore[union-attr]
    logged = await registry.anchored_logs(0)
    assert [(e.root, e.batch_number, e.leaf_count) for e in logged] == [
        (t.root, n, t.leaf_count) for n, t in enumerate(trees, start=1)]


async def test_estimate_revert_is_decoded_and_burns_no_nonce(
    registry: AnchorRegistry, sender: Sender
) -> None:
    root = MerkleTree(digests(3)).root
    with pytest.raises(ChainRevertError) as info:
        await sender.submit("anchor:5", registry.address, registry.anchor_data(5, root, 3))
    assert info.value.reason == "AnchorRegistry__BatchNumberGap(expected=1, got=5)"
    assert sender.next_nonce == 0 and await sender.get("anchor:5") is None


async def test_mined_revert_is_reported_failed_with_reason(
    registry: AnchorRegistry, sender: Sender
) -> None:
    root = MerkleTree(digests(3)).root
    await sender.submit("anchor:1", registry.address, registry.anchor_data(1, root, 3))
    await poll_until(sender, TxEventKind.CONFIRMED, "anchor:1")
    # The same root again, under the next number, with a fixed gas limit (no estimate).
    data = registry.anchor_data(2, root, 3)
    await sender.submit("anchor:2", registry.address, data, gas_limit=200_000)
    events = await poll_until(sender, TxEventKind.FAILED, "anchor:2")
    assert events[-1].detail == f"AnchorRegistry__RootAlreadyAnchored(root=0x{root.hex()})"
    assert events[-1].tx.inclusion is not None and not events[-1].tx.inclusion.succeeded


async def test_anchor_by_a_non_anchorer_reverts_readably(
    w3: Web3Client, registry: AnchorRegistry, deployer: LocalAccount
) -> None:
    outsider = Sender(w3, deployer, MemoryJournal(), policy=FAST_POLICY, decoder=registry.decoder)
    root = MerkleTree(digests(2)).root
    with pytest.raises(ChainRevertError, match="AccessControlUnauthorizedAccount"):
        await outsider.submit("anchor:1", registry.address, registry.anchor_data(1, root, 2))


def test_call_data_rejects_bad_arguments(registry: AnchorRegistry) -> None:
    root = bytes(range(32))
    with pytest.raises(ChainError) as info:
        registry.anchor_data(0, root, 1)
    assert info.value.field == "batchNumber"
    with pytest.raises(ChainError) as info:
        registry.anchor_data(1, root[:31], 1)
    assert info.value.field == "root"
    with pytest.raises(ChainError) as info:
        registry.anchor_many_data(1, [root, root], [1, 0])
    assert info.value.field == "roots[1].leafCount"
    with pytest.raises(ChainError):
        registry.anchor_many_data(1, [root], [])


def test_decode_error_knows_the_registry_errors(registry: AnchorRegistry) -> None:
    from eth_abi.abi import encode
    from eth_utils.abi import function_signature_to_4byte_selector as selector

    data = selector("AnchorRegistry__BatchNumberUsed(uint64)") + encode(["uint64"], [3])
    assert registry.decode_error(data) == "AnchorRegistry__BatchNumberUsed(batchNumber=3)"
    assert registry.decode_error(selector("Error(string)") + encode(["string"], ["no"])) == "no"
    assert registry.decode_error(b"") == "reverted without a reason"
    assert registry.decode_error(b"\x01\x02\x03\x04").startswith("unknown revert 0x01020304")


async def test_reorg_dropping_an_anchor_is_reported_and_anchored_again(
    w3: Web3Client, registry: AnchorRegistry, sender: Sender
) -> None:
    tree = MerkleTree(digests(4))
    snapshot = await rpc(w3, "evm_snapshot")
    await sender.submit("anchor:1", registry.address, registry.anchor_data(1, tree.root, 4))
    first = (await poll_until(sender, TxEventKind.CONFIRMED, "anchor:1"))[-1].tx.inclusion
    assert first is not None and (await registry.anchored_at(tree.root)) is not None
    await rpc(w3, "evm_revert", snapshot)
    await rpc(w3, "anvil_setAutomine", False)
    for _ in range(2):
        await rpc(w3, "evm_mine")
    assert await registry.anchored_at(tree.root) is None
    events = await sender.poll()  # reported, and the same signed anchor rebroadcast
    assert [(e.kind, e.key) for e in events] == [(TxEventKind.REORGED, "anchor:1")]
    await rpc(w3, "evm_mine")
    again = (await poll_until(sender, TxEventKind.CONFIRMED, "anchor:1"))[-1].tx.inclusion
    assert again is not None and again.block_hash != first.block_hash
    record = await registry.anchored_at(tree.root)
    assert record is not None and record.block_number == again.block_number
    proof = tree.proof(2)
    assert await registry.verify_inclusion(digests(4)[2], proof, tree.root) == (
        True, again.block_timestamp)
