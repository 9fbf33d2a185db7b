"""A fake EVM node behind the few ``w3.eth`` methods the Sender and the splitter client use.

`FakeWeb3` stands where an ``AsyncWeb3`` does (``w3.eth.…``). Its `FakeNode` keeps
account nonces, a pool of signed transactions (decoded from their raw EIP-1559
bytes, so the real `Sender` signs them), blocks that tests mine one by one, receipts,
logs, and a `FakeSplitter` that executes the calls sent to it. Nothing is mined
unless a test calls `mine`; a transaction whose tip is under `min_tip` stays in the
pool (a stuck transaction). `reorg` takes blocks off the chain and their
transactions back into the pool, with the contract's state as it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from tests.fakes.splitter import FakeSplitter, Log, Revert, SplitterState, snapshot

CHAIN_ID = 31337
BASE_FEE = 10**9
SPLITTER = str(to_checksum_address("0x" + "5b" * 20))
GAS = 100_000


@dataclass(frozen=True)
class PooledTx:
    """A signed transaction waiting in the pool."""

    tx_hash: bytes
    sender: str
    nonce: int
    to: str | None
    data: bytes
    tip: int


@dataclass
class Block:
    """A mined block and the state of the contract before it (to undo it in a reorg)."""

    number: int
    hash: bytes
    timestamp: int
    txs: list[PooledTx] = field(default_factory=list)
    before: SplitterState | None = None


class FakeNode:
    """The chain: nonces, pool, blocks, receipts; one splitter contract at `SPLITTER`."""

    def __init__(self, *, timestamp: int = 1_800_000_000) -> None:
        self.splitter = FakeSplitter(SPLITTER)
        self.blocks = [Block(0, keccak(b"genesis"), timestamp)]
        self.pool: dict[bytes, PooledTx] = {}
        self.receipts: dict[bytes, dict[str, Any]] = {}
        self.nonces: dict[str, int] = {}
        self.broadcasts: list[bytes] = []
        self.min_tip = 0
        self.down = False
        self._salt = itertools.count(1)
        self._logs: list[Log] = []

    @property
    def head(self) -> Block:
        """The latest block."""
        return self.blocks[-1]

    # -- controlled by tests -----------------------------------------------------------

    def mine(self, count: int = 1) -> None:
        """Mine ``count`` blocks, each taking every pooled transaction it can, in nonce order."""
        for _ in range(count):
            block = Block(self.head.number + 1, keccak(b"block%d" % next(self._salt)),
                          self.head.timestamp + 12, before=snapshot(self.splitter.state))
            while (tx := self._next_minable()) is not None:
                self._include(block, tx)
            for log in self._logs:
                self._receipt_log(block, log)
            self._logs = []
            self.blocks.append(block)

    def reorg(self, depth: int) -> None:
        """Take the last ``depth`` blocks off the chain; their transactions go back to the pool."""
        for block in reversed(self.blocks[-depth:]):
            assert block.before is not None
            self.splitter.state = block.before
            for tx in block.txs:
                self.pool[tx.tx_hash] = tx
                self.nonces[tx.sender] -= 1
        del self.blocks[-depth:]
        self.receipts = {h: r for h, r in self.receipts.items()
                         if r["blockNumber"] <= self.head.number}

    def use_nonce(self, sender: str) -> None:
        """A transaction that is none of the sender's own takes its next nonce (another
        process with the same key): the pooled ones at that nonce can never be mined."""
        address = str(to_checksum_address(sender))
        self.nonces[address] = self.nonces.get(address, 0) + 1

    def emit(self, log: Log) -> None:
        """Put ``log`` in the next block (an event of a transaction we do not model)."""
        self._logs.append(log)

    # -- what the eth namespace answers ------------------------------------------------

    def send_raw(self, raw: bytes) -> bytes:
        """``eth_sendRawTransaction``: the pool keeps the highest tip per (sender, nonce)."""
        self.broadcasts.append(raw)
        fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        sender = str(Account.recover_transaction(raw))
        tx = PooledTx(keccak(raw), sender, int(fields["nonce"]),
                      str(to_checksum_address(fields["to"])) if fields.get("to") else None,
                      bytes(fields.get("data", b"")), int(fields["maxPriorityFeePerGas"]))
        if tx.tx_hash in self.pool or tx.tx_hash in self.receipts:
            raise _rpc_error("already known")
        if tx.nonce < self.nonces.get(sender, 0):
            raise _rpc_error("nonce too low")
        rival = next((p for p in self.pool.values()
                      if (p.sender, p.nonce) == (sender, tx.nonce)), None)
        if rival is not None:
            if tx.tip * 10 < rival.tip * 11:
                raise _rpc_error("replacement transaction underpriced")
            del self.pool[rival.tx_hash]
        self.pool[tx.tx_hash] = tx
        return tx.tx_hash

    def call(self, params: Mapping[str, Any]) -> bytes:
        """``eth_call`` and ``eth_estimateGas``: ContractLogicError carries the revert data."""
        if params.get("to") is None or str(to_checksum_address(params["to"])) != SPLITTER:
            return b""
        try:
            return self.splitter.view(bytes(HexBytes(params.get("data", b""))))
        except Revert as exc:
            raise ContractLogicError("execution reverted", data="0x" + exc.data.hex()) from exc

    def count(self, address: str, tag: str) -> int:
        """``eth_getTransactionCount`` at ``latest`` or ``pending``."""
        address = str(to_checksum_address(address))
        mined = self.nonces.get(address, 0)
        if tag != "pending":
            return mined
        nonces = {t.nonce for t in self.pool.values() if t.sender == address}
        while mined in nonces:
            mined += 1
        return mined

    def receipt(self, tx_hash: bytes) -> dict[str, Any]:
        """``eth_getTransactionReceipt``; TransactionNotFound when not mined."""
        found = self.receipts.get(bytes(tx_hash))
        if found is None:
            raise TransactionNotFound(f"transaction {bytes(tx_hash).hex()} not found")
        return found

    def block(self, ident: int | str) -> dict[str, Any]:
        """``eth_getBlockByNumber``."""
        number = self.head.number if ident == "latest" else int(ident)
        if number > self.head.number:
            raise _rpc_error("block not found")
        b = self.blocks[number]
        return {"number": b.number, "hash": HexBytes(b.hash), "timestamp": b.timestamp,
                "baseFeePerGas": BASE_FEE}

    def logs(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``eth_getLogs`` of the splitter, filtered by block range and first topic."""
        first = int(params.get("fromBlock", 0))
        last = self.head.number if params.get("toBlock") in (None, "latest") \
            else int(params["toBlock"])
        wanted = params.get("topics") or [None]
        topics = wanted[0] if isinstance(wanted[0], list) else [wanted[0]]
        return [log for r in self.receipts.values() for log in r["logs"]
                if first <= log["blockNumber"] <= last
                and (topics == [None] or bytes(log["topics"][0]) in map(bytes, topics))]

    # -- mining ------------------------------------------------------------------------

    def _next_minable(self) -> PooledTx | None:
        for tx in sorted(self.pool.values(), key=lambda t: (t.sender, t.nonce)):
            if tx.nonce == self.nonces.get(tx.sender, 0) and tx.tip >= self.min_tip:
                return tx
        return None

    def _include(self, block: Block, tx: PooledTx) -> None:
        slot = (tx.sender, tx.nonce)
        for other in [p for p in self.pool.values() if (p.sender, p.nonce) == slot]:
            del self.pool[other.tx_hash]
        self.nonces[tx.sender] = tx.nonce + 1
        block.txs.append(tx)
        logs: list[Log] = []
        status = 1
        if tx.to == SPLITTER:
            try:
                self.splitter.execute(tx.data, logs)
            except Revert:
                status = 0
        self.receipts[tx.tx_hash] = {
            "transactionHash": HexBytes(tx.tx_hash), "blockNumber": block.number,
            "blockHash": HexBytes(block.hash), "status": status, "gasUsed": GAS,
            "effectiveGasPrice": BASE_FEE + tx.tip, "logs": [],
        }
        for log in logs:
            self._receipt_log(block, log, tx.tx_hash)

    def _receipt_log(self, block: Block, log: Log, tx_hash: bytes | None = None) -> None:
        key = tx_hash or keccak(b"log%d" % next(self._salt))
        receipt = self.receipts.setdefault(key, {"blockNumber": block.number, "logs": []})
        receipt["logs"].append({
            "address": SPLITTER, "topics": [HexBytes(t) for t in log.topics],
            "data": HexBytes(log.data), "blockNumber": block.number,
        })


class _Eth:
    """The ``w3.eth`` namespace over a `FakeNode`; ``down`` makes every call fail."""

    def __init__(self, node: FakeNode) -> None:
        self._node = node

    def _up(self) -> FakeNode:
        if self._node.down:
            raise ConnectionError("the fake node is down")
        return self._node

    @property
    async def chain_id(self) -> int:
        self._up()
        return CHAIN_ID

    @property
    async def block_number(self) -> int:
        return self._up().head.number

    @property
    async def max_priority_fee(self) -> int:
        self._up()
        return 10**9

    async def get_transaction_count(self, address: str, tag: str = "latest") -> int:
        return self._up().count(address, tag)

    async def get_transaction_receipt(self, tx_hash: bytes) -> dict[str, Any]:
        return self._up().receipt(tx_hash)

    async def get_block(self, ident: int | str) -> dict[str, Any]:
        return self._up().block(ident)

    async def send_raw_transaction(self, raw: bytes) -> HexBytes:
        return HexBytes(self._up().send_raw(bytes(raw)))

    async def estimate_gas(self, params: Mapping[str, Any], block_identifier: Any = None) -> int:
        self._up().call(params)
        return GAS

    async def call(self, params: Mapping[str, Any], block_identifier: Any = None) -> HexBytes:
        return HexBytes(self._up().call(params))

    async def get_logs(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return self._up().logs(params)


class FakeWeb3:
    """Stands where the chain modules take an ``AsyncWeb3``: only ``.eth`` is used."""

    def __init__(self, node: FakeNode) -> None:
        self.node = node
        self.eth = _Eth(node)


def _rpc_error(message: str) -> Web3RPCError:
    return Web3RPCError(message, rpc_response={"jsonrpc": "2.0", "id": 1,
                                               "error": {"code": -32000, "message": message}})
