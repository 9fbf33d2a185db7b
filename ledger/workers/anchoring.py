"""Background workers: the batcher seals pending manifests into Merkle trees, the
anchorer puts each tree's root on chain and follows it to confirmation.

Both are restartable at any instant: everything they decide is in the database
(batches) or the sender's journal (signed transactions) before it takes effect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from hexbytes import HexBytes

from ledger.chain.contracts.registry import AnchorRecord, AnchorRegistry
from ledger.chain.tx.keys import TxKey, TxKind
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SentTx, TxEvent, TxEventKind, TxStatus
from ledger.core.merkle import MerkleTree, join_levels
from ledger.core.records import AnchorInfo, BatchRecord, BatchStatus
from ledger.errors import ChainError, LedgerError
from ledger.metrics import Metrics
from ledger.storage.manifests import ManifestStore

log = logging.getLogger(__name__)

# An anchor costs about 51k gas whatever the batch size (docs/benchmarks.md).
ANCHOR_GAS_LIMIT = 120_000

# Seconds between anchoring attempts while the registry disagrees with the database.
_BLOCKED_DELAY_S = 30.0

# Trees this large are hashed off the event loop so intake keeps answering.
_THREAD_THRESHOLD = 2_000


class SealableStore(Protocol):
    """What the batcher needs of a store of pending leaves (manifests, usage events)."""

    async def pending_stats(self) -> tuple[int, int | None]:
        """How many leaves wait, and when the oldest was accepted (ms)."""
        ...

    async def pending(self, limit: int) -> list[tuple[int, bytes]]:
        """Up to `limit` waiting leaves, oldest first, as (seq, digest)."""
        ...

    async def seal(
        self, seqs: Sequence[int], root: bytes, levels: bytes, sealed_at: int
    ) -> BatchRecord | None:
        """Put `seqs` into the next batch; None if another batcher took any of them."""
        ...


class Batcher:
    """Seals a batch when enough leaves wait or the oldest has waited long enough."""

    def __init__(
        self,
        store: SealableStore,
        metrics: Metrics | None,
        *,
        max_size: int,
        max_age_s: float,
        kind: str = "manifests",
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._max_size = max_size
        self._max_age_ms = int(max_age_s * 1000)
        self._kind = kind

    async def step(self, now_ms: int) -> BatchRecord | None:
        """Seal at most one batch; return it, or None when none is due."""
        count, oldest = await self._store.pending_stats()
        if count == 0 or oldest is None:
            return None
        if count < self._max_size and now_ms - oldest < self._max_age_ms:
            return None
        pending = await self._store.pending(self._max_size)
        digests = [digest for _, digest in pending]
        if len(digests) >= _THREAD_THRESHOLD:
            tree = await asyncio.to_thread(MerkleTree, digests)
        else:
            tree = MerkleTree(digests)
        batch = await self._store.seal(
            [seq for seq, _ in pending], tree.root, join_levels(tree), now_ms
        )
        if batch is not None:
            if self._metrics is not None:
                self._metrics.batches.inc()
                self._metrics.batched.inc(batch.leaf_count)
            log.info("sealed batch %d with %d %s", batch.number, batch.leaf_count, self._kind)
        return batch


class Anchorer:
    """Anchors sealed batches in order and records each anchor once confirmed.

    A purpose key per batch (`TxKey.anchor`, scoped to the deployment by ``key_scope``
    so a redeployed registry starts afresh) makes submission idempotent across restarts;
    the registry's sequential batch-number fence makes a second anchor of a number
    impossible.
    """

    def __init__(
        self,
        store: ManifestStore,
        sender: Sender,
        registry: AnchorRegistry,
        metrics: Metrics,
        *,
        key_scope: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._sender = sender
        self._registry = registry
        self._metrics = metrics
        self._clock = clock
        self._scope = key_scope
        # False until batches were checked against the sender's journal (see `_reconcile`).
        self._reconciled = False
        # True while the registry disagrees with the database (see `_check_registry`).
        self._blocked = False

    @property
    def delay(self) -> float:
        """Seconds until the next step (backs off while the node is unreachable, and
        while anchoring is blocked: an operator must act, and the log says so)."""
        return max(self._sender.delay, _BLOCKED_DELAY_S) if self._blocked else self._sender.delay

    async def step(self) -> None:
        """Submit every sealed batch, then apply what the chain did since last time."""
        if not self._reconciled:
            await self._reconcile()
            self._reconciled = True
        for batch in await self._store.batches_in([BatchStatus.SEALED]):
            try:
                await self._submit(batch)
            except LedgerError as exc:
                # Later batches would fail the sequential fence: try again next step,
                # but still follow what is in flight below.
                log.warning("could not submit the anchor of batch %d: %s", batch.number, exc)
                break
        events = await self._sender.poll()
        try:
            for event in events:
                await self._apply(event)
        except BaseException:
            # The sender reports each event once: the unapplied ones are only in its
            # journal now.
            self._reconciled = False
            raise

    async def _reconcile(self) -> None:
        """Bring batches in line with the sender's journal.

        The sender journals a transaction's new state before it reports the event,
        and reports it once: a crash (or a failure in `_apply`) in between would
        leave a batch submitted for ever although its anchor confirmed or failed,
        or confirmed with an anchor that a reorg removed.
        """
        await self._sender.start()
        on_chain = await self._check_registry()
        for sealed in await self._store.batches_in([BatchStatus.SEALED]):
            # Sealed here, yet its number is used on chain: anchored by a transaction
            # a restored journal lost. Record it rather than send a doomed anchor.
            if sealed.number > on_chain:
                break
            record = await self._registry.anchored_at(sealed.root)
            if record is not None and record.batch_number == sealed.number:
                await self._landed_elsewhere(sealed, record)
        numbers = {batch.number for batch in await self._store.batches_in([BatchStatus.SUBMITTED])}
        for tx in self._sender.open_transactions():
            number = self._batch_number(tx.key)
            if number is not None:
                numbers.add(number)
        for number in sorted(numbers):
            batch = await self._store.batch(number)
            latest = await self._latest_tx(number)
            if batch is not None and latest is not None:
                await self._settle(batch, latest)

    async def _check_registry(self) -> int:
        """Refuse to anchor when the registry holds batch numbers the database never sealed.

        The database seals a batch before anchoring it, so it is never behind the
        registry unless it was restored from an old backup or shares the registry
        with another database. Every anchor would then revert on the batch-number
        fence and burn gas; stop instead, loudly (docs/operations.md, backups).
        Returns the last batch number anchored on the registry.
        """
        on_chain = await self._registry.next_batch_number() - 1
        known = await self._store.last_batch_number()
        self._blocked = on_chain > known
        if self._blocked:
            raise ChainError(
                f"the registry has batches up to {on_chain} but the database only up to "
                f"{known}: it was restored from an older backup or another database anchors "
                "to this registry; not anchoring (see docs/operations.md)"
            )
        return on_chain

    async def _latest_tx(self, number: int) -> SentTx | None:
        """The transaction of the batch's newest purpose key, or None."""
        latest: SentTx | None = None
        attempt = 1
        while (tx := await self._sender.get(self._key(number, attempt))) is not None:
            latest, attempt = tx, attempt + 1
        return latest

    async def _settle(self, batch: BatchRecord, tx: SentTx) -> None:
        """Apply to ``batch`` the event that ``tx``'s journaled state implies."""
        inclusion = tx.inclusion
        confirmed = tx.status in (TxStatus.CONFIRMED, TxStatus.FINAL)
        if confirmed and inclusion is not None and inclusion.succeeded:
            anchor = batch.anchor
            recorded = anchor is not None and (
                "0x" + anchor.tx_hash.hex(), "0x" + anchor.block_hash.hex()
            ) == (inclusion.tx_hash, inclusion.block_hash)
            if batch.status is not BatchStatus.CONFIRMED or not recorded:
                await self._confirmed(batch.number, tx)
        elif tx.status in (TxStatus.PENDING, TxStatus.MINED):
            if batch.status is BatchStatus.CONFIRMED:
                log.warning("anchor of batch %d left the canonical chain; following it",
                            batch.number)
                await self._store.mark_submitted(batch.number)
                self._metrics.reorgs.inc()
        elif batch.status is BatchStatus.SUBMITTED:
            await self._failed(batch.number, tx.status.value, "found in the journal")

    async def _submit(self, batch: BatchRecord) -> None:
        key = await self._live_key(batch.number)
        data = self._registry.anchor_data(batch.number, batch.root, batch.leaf_count)
        # A fixed limit: estimating against a pending block may not yet see the
        # previous batch's anchor and would revert on the sequential fence.
        await self._sender.submit(key, self._registry.address, data, gas_limit=ANCHOR_GAS_LIMIT)
        await self._store.mark_submitted(batch.number)

    async def _live_key(self, number: int) -> str:
        """The purpose key to use: the first whose transaction can still land.

        A key whose transaction was dropped (its nonce taken by another) or
        reverted for a reason other than "already anchored" is spent for good.
        """
        attempt = 1
        while True:
            key = self._key(number, attempt)
            tx = await self._sender.get(key)
            if tx is None or not _spent(tx):
                return key
            attempt += 1

    async def _apply(self, event: TxEvent) -> None:
        number = self._batch_number(event.key)
        if number is None:
            return
        if event.kind is TxEventKind.CONFIRMED and event.tx.inclusion is not None:
            await self._confirmed(number, event.tx)
        elif event.kind is TxEventKind.REORGED:
            log.warning("anchor of batch %d left the canonical chain; following it", number)
            # Counted once the batch is back to submitted: who sees the count sees that.
            await self._store.mark_submitted(number)
            self._metrics.reorgs.inc()
        elif event.kind in (TxEventKind.FAILED, TxEventKind.DROPPED):
            await self._failed(number, event.kind.value, event.detail)

    async def _confirmed(self, number: int, tx: SentTx) -> None:
        inclusion = tx.inclusion
        assert inclusion is not None
        batch = await self._store.batch(number)
        if batch is None:
            return
        anchor = AnchorInfo(
            tx_hash=bytes.fromhex(inclusion.tx_hash[2:]),
            block_number=inclusion.block_number,
            block_hash=bytes.fromhex(inclusion.block_hash[2:]),
            block_timestamp=inclusion.block_timestamp,
            gas_used=inclusion.gas_used,
        )
        now = self._clock()
        await self._store.mark_anchored(number, anchor, confirmed_at=int(now * 1000))
        self._metrics.anchored.inc()
        self._metrics.gas.inc(inclusion.gas_used)
        self._metrics.anchor_latency.observe(max(0.0, now - batch.sealed_at / 1000))
        log.info("batch %d anchored in block %d", number, inclusion.block_number)

    async def _failed(self, number: int, what: str, detail: str | None) -> None:
        batch = await self._store.batch(number)
        if batch is None:
            return
        record = await self._registry.anchored_at(batch.root)
        if record is not None and record.batch_number == number:
            await self._landed_elsewhere(batch, record)
            return
        expected = await self._registry.next_batch_number()
        if expected > number:
            self._blocked = True
            raise ChainError(
                f"batch number {number} is taken on the registry by another root: the "
                "database is behind the chain (restored from an older backup?) or shares "
                "the registry with another database; not anchoring (see docs/operations.md)"
            )
        previous = await self._store.batch(expected) if expected < number else None
        if previous is not None and previous.status is BatchStatus.CONFIRMED:
            self._blocked = True
            raise ChainError(
                f"the registry expects batch {expected}, which the database holds as "
                "anchored: these batches were anchored on another registry (a new "
                "deployment with an old database?); not anchoring (see docs/operations.md)"
            )
        log.error("anchor of batch %d %s: %s; retrying", number, what, detail)
        await self._store.mark_unanchored(number)

    async def _landed_elsewhere(self, batch: BatchRecord, record: AnchorRecord) -> None:
        """Record the anchor of ``batch`` that the registry holds although this attempt
        failed: another of its transactions landed. If the journal knows that one, its
        confirmed event records the same anchor; if not (a database restored from a
        backup older than the anchor), only the chain can tell, so read it there.
        """
        depth = await self._registry.w3.eth.block_number - record.block_number + 1
        if depth < max(self._sender.policy.confirmations, 1):
            raise ChainError(
                f"batch {batch.number} is anchored in block {record.block_number} by a "
                "transaction the journal does not follow; waiting for its confirmations"
            )
        events = await self._registry.anchored_logs(record.block_number, record.block_number)
        event = next(e for e in events if e.root == batch.root)
        receipt = await self._registry.w3.eth.get_transaction_receipt(HexBytes(event.tx_hash))
        anchor = AnchorInfo(
            tx_hash=bytes.fromhex(event.tx_hash[2:]),
            block_number=event.block_number,
            block_hash=bytes.fromhex(event.block_hash[2:]),
            block_timestamp=record.timestamp,
            gas_used=int(receipt["gasUsed"]),
        )
        confirmed_at = int(self._clock() * 1000)
        await self._store.mark_anchored(batch.number, anchor, confirmed_at=confirmed_at)
        log.info("batch %d anchored in block %d (found on chain)", batch.number,
                 event.block_number)

    def _key(self, number: int, attempt: int) -> str:
        return TxKey.anchor(self._scope, number, attempt).encode()

    def _batch_number(self, key: str) -> int | None:
        parsed = TxKey.parse_or_none(key)
        if parsed is None or (parsed.kind, parsed.scope) != (TxKind.ANCHOR, self._scope):
            return None
        return parsed.number


def _spent(tx: SentTx) -> bool:
    if tx.status is TxStatus.DROPPED:
        return True
    inclusion = tx.inclusion
    return (
        tx.status in (TxStatus.CONFIRMED, TxStatus.FINAL)
        and inclusion is not None
        and not inclusion.succeeded
    )
