"""Where a sent transaction landed: receipts, canonical blocks and revert reasons.

The read half of `Sender.poll`: for each open transaction it looks up the receipts of
every hash ever signed for it, keeps only one in a block the node still calls
canonical, and for a failed one replays the call to say why it reverted.
"""

from __future__ import annotations

from typing import Any, cast

from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt

from ledger.chain.rpc import RevertDecoder, Web3Client, rpc_message
from ledger.chain.tx.state import Inclusion, SentTx


def hex0x(value: bytes | str) -> str:
    """``value`` as lower-case ``0x`` hex (web3 answers bytes or strings)."""
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


def call_params(sender: str, to: str | None, data: bytes, value: int, gas: int | None
                ) -> TxParams:
    """The ``eth_call``/``eth_estimateGas`` parameters of a transaction from ``sender``."""
    params: dict[str, Any] = {"from": sender, "data": data, "value": value}
    if to is not None:
        params["to"] = AsyncWeb3.to_checksum_address(to)
    if gas is not None:
        params["gas"] = gas
    return cast(TxParams, params)


class InclusionFinder:
    """Finds the inclusions of ``sender``'s transactions over ``w3``."""

    def __init__(self, w3: Web3Client, sender: str, decoder: RevertDecoder) -> None:
        self.w3 = w3
        self._sender = sender
        self._decoder = decoder

    async def find_all(self, txs: list[SentTx], account_nonce: int) -> list[Inclusion | None]:
        """Where each of ``txs`` sits in the canonical chain (None: in no block), one
        after the other.

        A transaction never seen mined whose nonce the account has not used yet
        cannot be in a block: it costs no request, so a long queue of pending
        transactions (a backlog after an outage) keeps polls short. The rest go one
        at a time on purpose: the same lookups made concurrently arrive as one burst
        of response parsing that stalls the event loop (proof reads at 1M manifests:
        p99 2.95 ms sequential, 10.8 ms with 16 at once; docs/benchmarks.md).
        """
        blocks: dict[int, tuple[str, int]] = {}
        found: list[Inclusion | None] = []
        for tx in txs:
            if tx.inclusion is None and tx.nonce >= account_nonce:
                found.append(None)
            else:
                found.append(await self._find(tx, blocks))
        return found

    async def _find(self, tx: SentTx, blocks: dict[int, tuple[str, int]]) -> Inclusion | None:
        """Where one of ``tx``'s hashes sits in the canonical chain, if anywhere."""
        hashes = list(reversed(tx.tx_hashes))
        if tx.inclusion is not None:
            hashes.remove(tx.inclusion.tx_hash)
            hashes.insert(0, tx.inclusion.tx_hash)
        for tx_hash in hashes:
            try:
                receipt = await self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                continue
            number = int(receipt["blockNumber"])
            block_hash = hex0x(receipt["blockHash"])
            canonical = await self._block(number, blocks)
            if canonical is None or canonical[0] != block_hash:
                continue  # a receipt from a block the node no longer calls canonical
            old = tx.inclusion
            if old is not None and (old.tx_hash, old.block_hash) == (tx_hash, block_hash):
                return old
            return await self._inclusion(tx, tx_hash, receipt, canonical[1])
        return None

    async def _block(
        self, number: int, blocks: dict[int, tuple[str, int]]
    ) -> tuple[str, int] | None:
        if number not in blocks:
            try:
                block = await self.w3.eth.get_block(number)
            except Web3RPCError:
                return None
            blocks[number] = (hex0x(block["hash"]), int(block["timestamp"]))
        return blocks[number]

    async def _inclusion(
        self, tx: SentTx, tx_hash: str, receipt: TxReceipt, timestamp: int
    ) -> Inclusion:
        succeeded = int(receipt["status"]) == 1
        number = int(receipt["blockNumber"])
        return Inclusion(
            tx_hash=tx_hash,
            block_number=number,
            block_hash=hex0x(receipt["blockHash"]),
            block_timestamp=timestamp,
            gas_used=int(receipt["gasUsed"]),
            effective_gas_price=int(receipt.get("effectiveGasPrice", 0)),
            succeeded=succeeded,
            revert_reason=None if succeeded else await self._revert_reason(tx, number),
        )

    async def _revert_reason(self, tx: SentTx, number: int) -> str:
        """Replay the call on the parent block's state: best effort, as transactions
        earlier in the same block may have changed what it saw."""
        try:
            params = call_params(self._sender, tx.to, tx.data, tx.value, tx.gas_limit)
            await self.w3.eth.call(params, block_identifier=max(number - 1, 0))
        except ContractLogicError as exc:
            return self._decoder.from_exception(exc)
        except Web3RPCError as exc:
            return f"reverted ({rpc_message(exc)})"
        return "reverted (the replay succeeded; out of gas or state changed in its block)"
