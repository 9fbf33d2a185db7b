"""A typed client of the AnchorRegistry contract, bound from its forge ABI by name.

Writes are not sent from here: `anchor_data`/`anchor_many_data` build the call data
that the anchorer hands to `Sender.submit`, which owns nonces and fees. Reads are
``eth_call``s; events are decoded from receipts or ``eth_getLogs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import Web3RPCError
from web3.types import BlockIdentifier, FilterParams, LogReceipt

from ledger.chain.contracts.client import ContractClient
from ledger.chain.rpc import (
    TRANSIENT_ERRORS,
    ChainUnavailableError,
    rpc_message,
)
from ledger.errors import ChainError

ANCHORER_ROLE = keccak(text="ANCHORER_ROLE")
DEFAULT_ADMIN_ROLE = bytes(32)
_MAX_UINT32 = 2**32 - 1
_MAX_UINT64 = 2**64 - 1


@dataclass(frozen=True)
class AnchorRecord:
    """What the registry stores for an anchored root."""

    timestamp: int
    block_number: int
    batch_number: int


@dataclass(frozen=True)
class AnchoredEvent:
    """One ``Anchored`` log and where it sits.

    The event carries no timestamp: the anchor time is the timestamp of block
    ``block_number``, which `AnchorRegistry.anchored_at` also returns.
    """

    root: bytes
    batch_number: int
    leaf_count: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


class AnchorRegistry(ContractClient):
    """The registry at ``address``, described by its forge ``artifact``."""

    # -- call data -----------------------------------------------------------------

    def anchor_data(self, batch_number: int, root: bytes, leaf_count: int) -> bytes:
        """Call data of ``anchor(batchNumber, root, leafCount)``."""
        _check_batch(batch_number, root, leaf_count, "")
        return self.binding.encode_call("anchor", batch_number, root, leaf_count)

    def anchor_many_data(
        self, first_batch_number: int, roots: Sequence[bytes], leaf_counts: Sequence[int]
    ) -> bytes:
        """Call data of ``anchorMany(firstBatchNumber, roots, leafCounts)``."""
        if not roots or len(roots) != len(leaf_counts):
            raise ChainError(f"anchorMany needs as many leaf counts as roots, at least one "
                             f"(got {len(roots)} roots, {len(leaf_counts)} counts)")
        for i, (root, count) in enumerate(zip(roots, leaf_counts, strict=True)):
            _check_batch(first_batch_number + i, root, count, f"roots[{i}]")
        return self.binding.encode_call("anchorMany", first_batch_number, list(roots),
                                        list(leaf_counts))

    def grant_role_data(self, role: bytes, account: str) -> bytes:
        """Call data of ``grantRole(role, account)`` (the admin sends it)."""
        return self.binding.encode_call("grantRole", role,
                                        AsyncWeb3.to_checksum_address(account))

    # -- reads ---------------------------------------------------------------------

    async def next_batch_number(self, block: BlockIdentifier = "latest") -> int:
        """The batch number the next anchor must carry (1 before the first)."""
        (value,) = await self._call("nextBatchNumber", block=block)
        return int(value)

    async def anchored_at(
        self, root: bytes, block: BlockIdentifier = "latest"
    ) -> AnchorRecord | None:
        """Where ``root`` was anchored, or None if it never was."""
        timestamp, number, batch = await self._call(
            "anchoredAt", _bytes32(root, "root"), block=block
        )
        if batch == 0:
            return None
        return AnchorRecord(int(timestamp), int(number), int(batch))

    async def verify_inclusion(
        self, digest: bytes, proof: Sequence[bytes], root: bytes,
        block: BlockIdentifier = "latest",
    ) -> tuple[bool, int]:
        """The contract's verdict on a manifest ``digest`` under ``root``:
        (included, anchor timestamp), (False, 0) when not anchored or not included."""
        args = [_bytes32(digest, "digest"),
                [_bytes32(p, f"proof[{i}]") for i, p in enumerate(proof)],
                _bytes32(root, "root")]
        included, timestamp = await self._call("verifyInclusion", *args, block=block)
        return bool(included), int(timestamp)

    async def has_role(self, role: bytes, account: str) -> bool:
        """True when ``account`` holds ``role``."""
        (held,) = await self._call(
            "hasRole", _bytes32(role, "role"), AsyncWeb3.to_checksum_address(account)
        )
        return bool(held)

    # -- events --------------------------------------------------------------------

    def anchored_events(self, receipt: Mapping[str, Any]) -> list[AnchoredEvent]:
        """The ``Anchored`` events this registry emitted in a transaction receipt."""
        return [self._event(log) for log in receipt.get("logs", []) if self._is_anchored(log)]

    async def anchored_logs(self, from_block: int, to_block: BlockIdentifier = "latest"
                            ) -> list[AnchoredEvent]:
        """Every ``Anchored`` event in a block range (e.g. to rebuild state after a loss)."""
        params: FilterParams = {
            "address": self.address, "fromBlock": from_block, "toBlock": to_block,
            "topics": [HexBytes(self.binding.topic("Anchored"))],
        }
        try:
            logs = await self.w3.eth.get_logs(params)
        except TRANSIENT_ERRORS as exc:
            raise ChainUnavailableError(f"the chain node is unreachable: {exc}") from exc
        except Web3RPCError as exc:
            raise ChainError(f"eth_getLogs failed: {rpc_message(exc)}") from exc
        return [self._event(log) for log in logs]

    def decode_error(self, data: bytes) -> str:
        """Readable revert data, e.g. ``AnchorRegistry__BatchNumberGap(expected=3, got=5)``."""
        return self.decoder.decode(data)

    def _is_anchored(self, log: Mapping[str, Any] | LogReceipt) -> bool:
        topics = log.get("topics") or []
        address = str(log.get("address", ""))
        return (
            address.lower() == self.address.lower()
            and len(topics) == 3
            and bytes(topics[0]) == self.binding.topic("Anchored")
        )

    def _event(self, log: Mapping[str, Any] | LogReceipt) -> AnchoredEvent:
        args = self.binding.decode_log("Anchored", log)
        return AnchoredEvent(
            root=bytes(args["root"]),
            batch_number=int(args["batchNumber"]),
            leaf_count=int(args["leafCount"]),
            block_number=int(log["blockNumber"]),
            block_hash="0x" + bytes(log["blockHash"]).hex(),
            tx_hash="0x" + bytes(log["transactionHash"]).hex(),
            log_index=int(log["logIndex"]),
        )

    # -- plumbing ------------------------------------------------------------------


def _bytes32(value: bytes, field: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ChainError("must be 32 bytes", field=field)
    return value


def _check_batch(batch_number: int, root: bytes, leaf_count: int, field: str) -> None:
    where = f"{field}." if field else ""
    if not 1 <= batch_number <= _MAX_UINT64:
        raise ChainError("must be in 1..2^64-1", field=f"{where}batchNumber")
    _bytes32(root, f"{where}root")
    if not 1 <= leaf_count <= _MAX_UINT32:
        raise ChainError("must be in 1..2^32-1", field=f"{where}leafCount")
