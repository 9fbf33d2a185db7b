"""Checking a proof bundle's anchor against a chain node, from a trust root the verifier chose.

The Merkle path is checked offline first (`ledger.core.proof.verify_bundle`). This
module then starts from a `TrustRoot` (chain id and registry address the verifier
pinned, never the bundle's own), and takes every fact it reports from the chain:

1. the bundle names the pinned chain and registry;
2. the node is that chain;
3. the code at the pinned address is this release's AnchorRegistry (keccak of its
   runtime code, immutables zeroed), so its answers mean what the contract says;
4. the block the bundle names has the bundle's hash and timestamp;
5. the registry holds the root with that batch number, block and timestamp, and
   ``verifyInclusion`` accepts the proof;
6. the named transaction succeeded in that block and the pinned registry emitted
   ``Anchored`` for the root, batch number and leaf count.

The time reported is the timestamp of step 4's block as the node gave it. docs/security.md,
section 2, says why each step is needed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hexbytes import HexBytes
from web3.exceptions import BlockNotFound, TransactionNotFound

from ledger.chain.contracts.artifacts import Artifact, load_artifact, runtime_code_hash
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.chain.rpc import TRANSIENT_ERRORS, Web3Client, connect
from ledger.core.hashing import to_hex
from ledger.core.proof import Anchor, ProofBundle
from ledger.core.trust import TrustRoot
from ledger.errors import ChainError, ProofError

REGISTRY = "AnchorRegistry"


@dataclass(frozen=True)
class ChainAnchor:
    """A bundle's anchor as the chain confirmed it; every value was read from the node."""

    chain_id: int
    registry: str
    batch_number: int
    leaf_count: int
    block_number: int
    block_hash: bytes
    timestamp: int
    tx_hash: bytes
    code_hash: bytes


def shipped_code_hash(artifacts_out: str | None = None) -> bytes:
    """The code hash of the AnchorRegistry this release ships (`Artifact.code_hash`)."""
    return load_artifact(REGISTRY, artifacts_out).code_hash()


async def check_bundle_on_chain(
    rpc_url: str, bundle: ProofBundle, trust: TrustRoot,
    code_hashes: Collection[bytes] | None = None,
) -> ChainAnchor:
    """`verify_anchor_on_chain` through a node at ``rpc_url``; ChainError if unreachable."""
    w3 = connect(rpc_url)
    try:
        return await verify_anchor_on_chain(
            w3, bundle, trust, load_artifact(REGISTRY), code_hashes
        )
    except TRANSIENT_ERRORS as exc:
        raise ChainError(f"cannot reach the chain node at {rpc_url}: {exc}") from exc
    finally:
        await w3.provider.disconnect()


async def verify_anchor_on_chain(
    w3: Web3Client, bundle: ProofBundle, trust: TrustRoot, artifact: Artifact,
    code_hashes: Collection[bytes] | None = None,
) -> ChainAnchor:
    """Check ``bundle``'s anchor against the registry ``trust`` pins; return what the
    chain says. ProofError names the first thing that disagrees.

    ``code_hashes`` are the registry code hashes accepted (default: ``artifact``'s),
    e.g. an older release's for a registry deployed before the contract changed.
    """
    anchor = trust.check_anchor(bundle)
    chain_id = await w3.eth.chain_id
    if chain_id != anchor.chain_id:
        raise ProofError(
            f"the node is chain {chain_id}, but you pinned chain {trust.chain_id}",
            field="anchor.chainId",
        )
    registry = AnchorRegistry(w3, anchor.contract, artifact)
    code_hash = await _check_code(w3, registry, artifact, code_hashes)
    timestamp = await _check_block(w3, anchor)
    await _check_record(registry, bundle, anchor)
    leaf_count = await _check_transaction(w3, registry, bundle, anchor)
    return ChainAnchor(
        chain_id=chain_id, registry=registry.address, batch_number=anchor.batch_number,
        leaf_count=leaf_count, block_number=anchor.block_number, block_hash=anchor.block_hash,
        timestamp=timestamp, tx_hash=anchor.tx_hash, code_hash=code_hash,
    )


async def _check_code(
    w3: Web3Client, registry: AnchorRegistry, artifact: Artifact,
    code_hashes: Collection[bytes] | None,
) -> bytes:
    # Without this, any contract at the pinned address (say, one the operator swapped in
    # through a proxy, or a registry from another build) could answer anything.
    code = bytes(await w3.eth.get_code(registry.address))
    if not code:
        raise ProofError(f"there is no contract at the pinned registry {registry.address}",
                         field="anchor.contract")
    found = runtime_code_hash(code, artifact.immutable_ranges)
    accepted = set(code_hashes) if code_hashes is not None else {artifact.code_hash()}
    if found not in accepted:
        raise ProofError(
            f"the code at {registry.address} has hash {to_hex(found)}, not that of this "
            f"release's {artifact.name} ({', '.join(sorted(map(to_hex, accepted)))})",
            field="anchor.contract",
        )
    return found


async def _check_block(w3: Web3Client, anchor: Anchor) -> int:
    try:
        block = await w3.eth.get_block(anchor.block_number)
    except BlockNotFound:
        raise ProofError(f"the chain has no block {anchor.block_number}",
                         field="anchor.blockNumber") from None
    block_hash = bytes(block["hash"] or b"")
    if block_hash != anchor.block_hash:
        raise ProofError(
            f"block {anchor.block_number} has hash {to_hex(block_hash)} on chain, "
            f"the bundle says {to_hex(anchor.block_hash)}",
            field="anchor.blockHash",
        )
    timestamp = int(block["timestamp"])
    if timestamp != anchor.block_timestamp:
        raise ProofError(
            f"block {anchor.block_number} has timestamp {timestamp} on chain, "
            f"the bundle says {anchor.block_timestamp}",
            field="anchor.blockTimestamp",
        )
    return timestamp


async def _check_record(registry: AnchorRegistry, bundle: ProofBundle, anchor: Anchor) -> None:
    record = await registry.anchored_at(bundle.root)
    if record is None:
        raise ProofError("the pinned registry has no anchor of this root", field="root")
    if (record.batch_number, record.block_number, record.timestamp) != (
        anchor.batch_number, anchor.block_number, anchor.block_timestamp
    ):
        raise ProofError(
            f"the registry anchored this root as batch {record.batch_number} in block "
            f"{record.block_number} at {record.timestamp}, the bundle says batch "
            f"{anchor.batch_number} in block {anchor.block_number} at {anchor.block_timestamp}",
            field="anchor",
        )
    included, _ = await registry.verify_inclusion(
        bundle.manifest_digest, list(bundle.proof), bundle.root
    )
    if not included:
        raise ProofError("verifyInclusion rejected the proof", field="proof")


async def _check_transaction(
    w3: Web3Client, registry: AnchorRegistry, bundle: ProofBundle, anchor: Anchor
) -> int:
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
    if int(receipt["status"]) != 1:
        raise ProofError("the transaction reverted", field="anchor.txHash")
    # anchored_events keeps only logs emitted by the registry's own (pinned) address:
    # the event is the chain's record of who anchored, whoever sent the transaction.
    events = [
        e for e in registry.anchored_events(receipt)
        if e.root == bundle.root and e.batch_number == anchor.batch_number
    ]
    if not events:
        raise ProofError(
            f"the transaction holds no Anchored event of registry {registry.address} for "
            "this root and batch",
            field="anchor.txHash",
        )
    if events[0].leaf_count != bundle.leaf_count:
        raise ProofError(
            f"the registry anchored this root with {events[0].leaf_count} leaves, "
            f"the bundle says {bundle.leaf_count}",
            field="leafCount",
        )
    return events[0].leaf_count
