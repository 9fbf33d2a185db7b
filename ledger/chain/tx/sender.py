"""Sending transactions that must land exactly once: nonces, fees, receipts, reorgs.

`Sender` signs EIP-1559 transactions locally (eth-account), journals each signed one
before broadcasting it, and is driven by its owner's worker loop::

    sent = await sender.submit("anchor:7", registry.address, registry.anchor_data(7, root, n))
    while True:
        for event in await sender.poll():
            ...  # TxEventKind.CONFIRMED / FAILED / REORGED / DROPPED / ...
        await asyncio.sleep(sender.delay)

Guarantees: a purpose key maps to at most one transaction (one nonce) for ever; the
nonce after a restart comes from the journal and the node, so none is burnt or reused;
a transaction not mined after ``stuck_after`` is re-signed at the same nonce with fees
up by ``fee_bump_bps`` and every hash ever signed is watched; one that leaves the
canonical chain is reported ``REORGED`` and broadcast again, signed bytes unchanged;
connection errors never escape `poll` (they are counted and slow the loop down).
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from eth_typing import ChecksumAddress
from web3 import AsyncWeb3
from web3.exceptions import (
    BadResponseFormat,
    ContractLogicError,
    Web3RPCError,
)

from ledger.chain.rpc import (
    TRANSIENT_ERRORS,
    ChainRevertError,
    ChainUnavailableError,
    RevertDecoder,
    Web3Client,
    rpc_message,
)
from ledger.chain.tx.journal import TxJournal
from ledger.chain.tx.receipts import InclusionFinder, call_params, hex0x
from ledger.chain.tx.signers import TxSigner
from ledger.chain.tx.state import (
    Action,
    Fees,
    Observation,
    SendOutcome,
    SendPolicy,
    SentTx,
    Step,
    TxAttempt,
    TxEvent,
    TxEventKind,
    TxStatus,
    bumped_fees,
    classify_send_error,
    first_nonce,
    initial_fees,
    step,
)
from ledger.errors import ChainError

# Every read of a poll is idempotent: an odd answer is retried like an outage.
_POLL_RETRYABLE: tuple[type[BaseException], ...] = (
    *TRANSIENT_ERRORS, Web3RPCError, BadResponseFormat,
)


class SenderMetrics(Protocol):
    """Counters the sender bumps; the service maps them onto its /metrics."""

    def count(self, name: str, value: float = 1) -> None:
        """Add ``value`` to counter ``name`` (see `Sender` for the names)."""
        ...


class CounterMetrics:
    """`SenderMetrics` kept in a `collections.Counter` (``metrics.counts["rpc_errors"]``)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()

    def count(self, name: str, value: float = 1) -> None:
        """Add ``value`` to counter ``name``."""
        self.counts[name] += value  # type: ignore[assignment]


class Sender:
    """Signs, journals, broadcasts and follows the transactions of one account.

    Counters (`SenderMetrics`): ``rpc_errors``, ``broadcasts``, ``replacements``,
    ``rejected``, ``reorgs``, ``dropped``, ``gas_used`` and ``fees_wei`` (of confirmed
    or failed txs). One Sender per account: two would hand out the same nonces.
    """

    def __init__(
        self,
        w3: Web3Client,
        account: TxSigner,
        journal: TxJournal,
        *,
        policy: SendPolicy | None = None,
        decoder: RevertDecoder | None = None,
        metrics: SenderMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.w3 = w3
        self.policy = policy or SendPolicy()
        self.metrics: SenderMetrics = metrics or CounterMetrics()
        self._account = account
        self._journal = journal
        self._decoder = decoder or RevertDecoder()
        self._finder = InclusionFinder(w3, account.address, self._decoder)
        self._clock = clock
        self._lock = asyncio.Lock()
        self._started = False
        self._chain_id = 0
        self._next_nonce = 0
        self._open: dict[str, SentTx] = {}
        self._broadcast_at: dict[str, float] = {}
        self._queued: list[TxEvent] = []
        self._failures = 0
        self._drop_suspects: set[str] = set()
        #: The last RPC failure of `poll`/`submit`, None after a clean poll (for health).
        self.last_error: str | None = None

    @property
    def address(self) -> ChecksumAddress:
        """The checksummed address transactions are sent from."""
        return self._account.address

    @property
    def delay(self) -> float:
        """Seconds the worker should wait before the next `poll`: the poll interval,
        doubled for each consecutive RPC failure up to ``max_backoff``."""
        if self._failures == 0:
            return self.policy.poll_interval
        backoff = self.policy.poll_interval * 2.0**self._failures
        return min(self.policy.max_backoff, backoff)

    @property
    def next_nonce(self) -> int:
        """The nonce the next new transaction will get (valid once started)."""
        return self._next_nonce

    def open_transactions(self) -> list[SentTx]:
        """Transactions still watched (pending, mined, or confirmed but not final)."""
        return sorted(self._open.values(), key=lambda t: t.nonce)

    async def start(self) -> None:
        """Recover from the journal and the node: chain id, open txs and the next nonce.

        Called by `submit` and `poll` when needed; call it first to fail early.
        Raises ChainUnavailableError when the node cannot be reached, ChainError when
        the journal's open txs belong to another chain.
        """
        async with self._lock:
            try:
                await self._start()
            except TRANSIENT_ERRORS as exc:
                raise self._unavailable(exc) from exc

    async def get(self, key: str) -> SentTx | None:
        """The transaction with this purpose key, open or not, or None."""
        return self._open.get(key) or await self._journal.get(key)

    async def submit(
        self,
        key: str,
        to: str | None,
        data: bytes = b"",
        *,
        value: int = 0,
        gas_limit: int | None = None,
    ) -> SentTx:
        """Sign, journal and broadcast a transaction for purpose ``key``; return it.

        Idempotent: if ``key`` was ever submitted, returns that transaction (in whatever
        status) and sends nothing; retry a dropped or failed purpose under a new key.
        ``to=None`` deploys ``data`` as creation code. Without ``gas_limit`` the gas is
        estimated against the pending block, plus ``gas_headroom_bps``.

        Raises ChainRevertError when the estimate reverts (nothing is signed),
        ChainUnavailableError when the node is unreachable before the tx is journaled.
        A failed broadcast after journaling is not an error: `poll` rebroadcasts.
        """
        async with self._lock:
            try:
                await self._start()
                existing = await self.get(key)
                if existing is not None:
                    return existing
                gas = gas_limit or await self._estimate(to, data, value)
                fees = await self._market_fees()
            except TRANSIENT_ERRORS as exc:
                raise self._unavailable(exc) from exc
            attempt = self._sign(self._next_nonce, to, data, value, gas, fees)
            tx = SentTx(
                key=key, sender=self.address, chain_id=self._chain_id, nonce=self._next_nonce,
                to=to, data=data, value=value, gas_limit=gas, attempts=(attempt,),
            )
            await self._journal.record_attempt(tx, attempt)
            self._next_nonce += 1
            self._open[key] = tx
            await self._broadcast(tx, attempt, self._queued, swallow_outage=True)
            return tx

    async def poll(self) -> list[TxEvent]:
        """Look at every open transaction once; return what happened since the last poll.

        Never raises for an unreachable or misbehaving node: it counts ``rpc_errors``,
        sets `last_error`, raises `delay` and returns the events gathered so far.
        Journal errors and a journal of another chain (ChainError) do propagate.
        """
        async with self._lock:
            events, self._queued = self._queued, []
            if self._failures:
                # The node was unreachable: it may have restarted with an empty pool.
                self._broadcast_at.clear()
            try:
                await self._start()
                await self._poll_open(events)
            except _POLL_RETRYABLE as exc:
                self._rpc_failed(exc)
            else:
                self._failures = 0
                self.last_error = None
            return events

    async def wait_for(self, key: str, *, timeout: float = 60.0) -> SentTx:
        """Poll until ``key`` is confirmed; return it.

        For one-shot use (deployment, scripts): events of other keys polled meanwhile
        are discarded, so do not call it on a sender a worker loop drives.
        Raises ChainRevertError if it reverted, ChainError if dropped or on timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            await self.poll()
            tx = await self.get(key)
            if tx is None:
                raise ChainError(f"no transaction was submitted under key {key!r}")
            if tx.status in (TxStatus.CONFIRMED, TxStatus.FINAL) and tx.inclusion is not None:
                if not tx.inclusion.succeeded:
                    reason = tx.inclusion.revert_reason or "reverted"
                    raise ChainRevertError(f"transaction {key!r} reverted: {reason}",
                                           reason=reason)
                return tx
            if tx.status is TxStatus.DROPPED:
                raise ChainError(f"transaction {key!r} was dropped: its nonce was used by another")
            if time.monotonic() > deadline:
                raise ChainError(f"transaction {key!r} not confirmed within {timeout:g}s "
                                 f"(status {tx.status.value})")
            await asyncio.sleep(self.delay)

    async def transact(
        self, key: str, to: str | None, data: bytes = b"", *, value: int = 0,
        gas_limit: int | None = None, timeout: float = 60.0,
    ) -> SentTx:
        """`submit` then `wait_for`: for one-shot use only (see `wait_for`)."""
        await self.submit(key, to, data, value=value, gas_limit=gas_limit)
        return await self.wait_for(key, timeout=timeout)

    # -- recovery ------------------------------------------------------------------

    async def _start(self) -> None:
        if self._started:
            return
        eth = self.w3.eth
        chain_id = await eth.chain_id
        open_txs = await self._journal.load_open(self.address)
        foreign = [t for t in open_txs if t.chain_id != chain_id]
        if foreign:
            raise ChainError(
                f"the journal holds open transactions of {self.address} on chain "
                f"{foreign[0].chain_id}, but the node is chain {chain_id}"
            )
        # Mined count first: a tx mined between the two reads then only raises `pending`.
        latest = await eth.get_transaction_count(self._account.address, "latest")
        pending = await eth.get_transaction_count(self._account.address, "pending")
        journal_max = await self._journal.max_nonce(self.address)
        self._next_nonce = first_nonce(latest, pending, journal_max)
        self._open = {t.key: t for t in open_txs}
        self._chain_id = chain_id
        self._started = True

    # -- polling -------------------------------------------------------------------

    async def _poll_open(self, events: list[TxEvent]) -> None:
        if not self._open:
            return
        eth = self.w3.eth
        # The nonce is read before any receipt (see Observation), the head after them
        # all, so that anything found is at most `head` deep.
        account_nonce = await eth.get_transaction_count(self._account.address, "latest")
        # Nonces below the mined count are spent, by us or by another user of the key.
        self._next_nonce = max(self._next_nonce, account_nonce)
        txs = self.open_transactions()
        inclusions = await self._finder.find_all(txs, account_nonce)
        head = await eth.block_number
        for tx, inclusion in zip(txs, inclusions, strict=True):
            now = self._clock()
            since = now - self._broadcast_at.get(tx.key, -math.inf)
            result = step(tx, Observation(head, account_nonce, inclusion, now, since), self.policy)
            if result.tx.status is TxStatus.DROPPED and tx.key not in self._drop_suspects:
                # A node can count a nonce as mined a moment before it serves the
                # receipt or its block: judge "dropped" only if the next poll agrees.
                self._drop_suspects.add(tx.key)
                continue
            self._drop_suspects.discard(tx.key)
            await self._apply(tx, result, events)

    async def _apply(self, before: SentTx, result: Step, events: list[TxEvent]) -> None:
        tx = result.tx
        if tx != before:
            await self._journal.update(tx)
            self._remember(tx)
        for event in result.events:
            self._count_event(event)
        events.extend(result.events)
        if result.action is Action.REBROADCAST:
            await self._broadcast(tx, tx.latest, events)
        elif result.action is Action.BUMP:
            await self._bump(tx, events)

    def _remember(self, tx: SentTx) -> None:
        if tx.status.is_open:
            self._open[tx.key] = tx
        else:
            self._open.pop(tx.key, None)
            self._broadcast_at.pop(tx.key, None)

    def _count_event(self, event: TxEvent) -> None:
        if event.kind in (TxEventKind.CONFIRMED, TxEventKind.FAILED) and event.tx.inclusion:
            inc = event.tx.inclusion
            self.metrics.count("gas_used", inc.gas_used)
            self.metrics.count("fees_wei", inc.gas_used * inc.effective_gas_price)
        elif event.kind is TxEventKind.REORGED:
            self.metrics.count("reorgs")
        elif event.kind is TxEventKind.DROPPED:
            self.metrics.count("dropped")

    # -- signing and broadcasting --------------------------------------------------

    async def _bump(self, tx: SentTx, events: list[TxEvent]) -> None:
        fees = bumped_fees(tx.latest.fees, await self._market_fees(), self.policy)
        if fees is None:
            since = self._clock() - self._broadcast_at.get(tx.key, -math.inf)
            if since >= self.policy.rebroadcast_every:
                await self._broadcast(tx, tx.latest, events)
            return
        attempt = self._sign(tx.nonce, tx.to, tx.data, tx.value, tx.gas_limit, fees)
        bumped = replace(tx, attempts=(*tx.attempts, attempt))
        await self._journal.record_attempt(bumped, attempt)
        self._open[tx.key] = bumped
        self.metrics.count("replacements")
        detail = (f"fees {tx.latest.fees.max_fee_per_gas}/{tx.latest.fees.max_priority_fee_per_gas}"
                  f" -> {fees.max_fee_per_gas}/{fees.max_priority_fee_per_gas} wei")
        events.append(TxEvent(TxEventKind.REPLACED, bumped, attempt.tx_hash, detail))
        await self._broadcast(bumped, attempt, events)

    def _sign(
        self, nonce: int, to: str | None, data: bytes, value: int, gas: int, fees: Fees
    ) -> TxAttempt:
        fields: dict[str, Any] = {
            "type": 2,
            "chainId": self._chain_id,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            "value": value,
            "data": data,
        }
        if to is not None:
            fields["to"] = AsyncWeb3.to_checksum_address(to)
        signed = self._account.sign_transaction(fields)
        return TxAttempt(
            tx_hash=hex0x(signed.hash),
            raw=bytes(signed.raw_transaction),
            fees=fees,
            signed_at=self._clock(),
        )

    async def _broadcast(
        self, tx: SentTx, attempt: TxAttempt, events: list[TxEvent], *,
        swallow_outage: bool = False,
    ) -> None:
        """Send ``attempt``; every answer except an outage counts as delivered."""
        try:
            await self.w3.eth.send_raw_transaction(attempt.raw)
        except TRANSIENT_ERRORS as exc:
            if not swallow_outage:
                raise
            self._rpc_failed(exc)
            return  # never broadcast: the next poll tries again at once
        except Web3RPCError as exc:
            message = rpc_message(exc)
            if classify_send_error(message) is SendOutcome.REJECTED:
                self.metrics.count("rejected")
                events.append(TxEvent(TxEventKind.REJECTED, tx, attempt.tx_hash, message))
        self.metrics.count("broadcasts")
        self._broadcast_at[tx.key] = self._clock()

    async def _estimate(self, to: str | None, data: bytes, value: int) -> int:
        try:
            params = call_params(self._account.address, to, data, value, None)
            estimate = await self.w3.eth.estimate_gas(params, block_identifier="pending")
        except ContractLogicError as exc:
            reason = self._decoder.from_exception(exc)
            raise ChainRevertError(f"the transaction would revert: {reason}",
                                   reason=reason) from exc
        except Web3RPCError as exc:
            raise ChainError(f"gas estimate failed: {rpc_message(exc)}") from exc
        return estimate + -(-estimate * self.policy.gas_headroom_bps // 10_000)

    async def _market_fees(self) -> Fees:
        block = await self.w3.eth.get_block("latest")
        base_fee = int(block.get("baseFeePerGas", 0))
        try:
            tip = int(await self.w3.eth.max_priority_fee)
        except Web3RPCError:
            tip = self.policy.min_priority_fee
        return initial_fees(base_fee, tip, self.policy)

    # -- outages -------------------------------------------------------------------

    def _rpc_failed(self, exc: BaseException) -> None:
        self._failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.metrics.count("rpc_errors")

    def _unavailable(self, exc: BaseException) -> ChainUnavailableError:
        self._rpc_failed(exc)
        return ChainUnavailableError(f"the chain node is unreachable: {type(exc).__name__}: {exc}")

