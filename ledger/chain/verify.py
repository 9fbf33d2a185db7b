"""Checking a proof bundle's anchor against a chain node, trusting only the node.

The Merkle path is checked offline first (`ledger.core.proof.verify_bundle`);
this module then asks the chain: is this the chain the bundle names, does the
registry there hold the root with the bundle's batch number and block, does
`verifyInclusion` accept the proof, and does the named transaction's receipt
sit in the named block and emit the registry's `Anchored` event for the root.
"""

from __future__ import annotations

from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import TransactionNotFound

from ledger.chain.artifacts import Artifact, load_artifact
from ledger.chain.registry import AnchorRegistry
from ledger.chain.rpc import TRANSIENT_ERRORS, Web3Client, connect
from ledger.core.proof import Anchor, ProofBundle
from ledger.errors import ChainError, ProofError


async def check_bundle_on_chain(rpc_url: str, bundle: ProofBundle) -> None:
    """`verify_anchor_on_chain` through a node at `rpc_url`; ChainError if unreachable."""
    w3 = connect(rpc_url)
    try:
        await verify_anchor_on_chain(w3, bundle, load_artifact("AnchorRegistry"))
    except TRANSIENT_ERRORS as exc:
        raise ChainError(f"cannot reach the chain node at {rpc_url}: {exc}") from exc
    finally:
        await w3.provider.disconnect()


async def verify_anchor_on_chain(w3: Web3Client, bundle: ProofBundle, artifact: Artifact) -> None:
    """Raise ProofError naming the first thing the chain disagrees with."""
    anchor = bundle.anchor
    if anchor is None:
        raise ProofError("the bundle has no anchor to check on chain", field="anchor")
    chain_id = await w3.eth.chain_id
    if chain_id != anchor.chain_id:
        raise ProofError(
            f"the node is chain {chain_id}, the bundle names chain {anchor.chain_id}",
            field="anchor.chainId",
        )
    registry = AnchorRegistry(w3, anchor.contract, artifact)
    record = await registry.anchored_at(bundle.root)
    if record is None:
        raise ProofError("the registry has no anchor of this root", field="root")
    if (record.batch_number, record.block_number) != (anchor.batch_number, anchor.block_number):
        raise ProofError(
            f"the registry anchored this root as batch {record.batch_number} in block "
            f"{record.block_number}, the bundle says batch {anchor.batch_number} in block "
            f"{anchor.block_number}",
            field="anchor",
        )
    included, timestamp = await registry.verify_inclusion(
        bundle.manifest_digest, list(bundle.proof), bundle.root
    )
    if not included:
        raise ProofError("verifyInclusion rejected the proof", field="proof")
    if timestamp != anchor.block_timestamp:
        raise ProofError(
            f"the anchor's timestamp is {timestamp}, the bundle says {anchor.block_timestamp}",
            field="anchor.blockTimestamp",
        )
    await _check_transaction(w3, registry, bundle, anchor)


async def _check_transaction(
    w3: Web3Client, registry: AnchorRegistry, bundle: ProofBundle, anchor: Anchor
) -> None:
    try:
        receipt = await w3.eth.get_transaction_receipt(HexBytes(anchor.tx_hash))
    except TransactionNotFound:
        raise ProofError("the node knows no such transaction", field="anchor.txHash") from None
    if (
        int(receipt["blockNumber"]) != anchor.block_number
        or bytes(receipt["blockHash"]) != anchor.block_hash
    ):
        raise ProofError(
            "the transaction is not in the block the bundle names", field="anchor.blockHash"
        )
    if AsyncWeb3.to_checksum_address(receipt["to"] or "") != AsyncWeb3.to_checksum_address(
        anchor.contract
    ):
        raise ProofError("the transaction did not call the registry", field="anchor.txHash")
    events = registry.anchored_events(receipt)
    if not any(e.root == bundle.root and e.batch_number == anchor.batch_number for e in events):
        raise ProofError(
            "the transaction emitted no Anchored event for this root", field="anchor.txHash"
        )
