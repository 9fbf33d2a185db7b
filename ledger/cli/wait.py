"""Waiting for proofs on the command line (``ledger submit --wait``, ``ledger proof --wait``).

Reports each batch's way to the chain on stderr (batched → anchored in block B →
confirmed k/n), and says so when the chain stops making blocks, since anchors then
never reach their confirmations. Progress comes from the service (manifest and batch
status, ``/v1/service``) and, when the chain is known (``/v1/service``'s ``rpcUrl``, a
local service's endpoint.json, or ``--rpc-url``), from the chain itself: the block of
each anchor (its ``Anchored`` log) and the chain head. Standard-library JSON-RPC only:
no web3.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ledger.core.hashing import keccak256
from ledger.errors import LedgerError

Say = Callable[[str], None]

#: topic0 of `IAnchorRegistry.Anchored(bytes32 indexed root, uint64 indexed batchNumber,
#: uint32 leafCount)`; the root is topic1.
ANCHORED_TOPIC = "0x" + keccak256(b"Anchored(bytes32,uint64,uint32)").hex()
# Blocks searched back from the head for an anchor's log (public nodes cap the range).
_LOG_WINDOW = 5_000


@dataclass
class _Batch:
    """What is known of one batch the wait follows."""

    number: int
    digests: set[str]
    root: str | None = None
    block: int | None = None
    submitted: bool = False
    done: bool = False
    reported: str = ""


class ProofWaiter:
    """Polls until every digest has its proof bundle, reporting progress through `say`.

    ``timeout`` bounds the whole wait (LedgerError when it passes); ``stall_after`` is how
    long the chain head (or, without a known chain, every status) may stay still before
    the wait says so, once.
    """

    def __init__(
        self,
        client: Any,
        say: Say,
        *,
        timeout: float = 600.0,
        stall_after: float = 30.0,
        interval: float = 0.5,
        rpc_url: str | None = None,
    ) -> None:
        self._client = client
        self._say = say
        self._timeout = timeout
        self._stall_after = stall_after
        self._interval = interval
        self._rpc_url = rpc_url
        self._registry: str | None = None
        self._confirmations: int | None = None
        self._batches: dict[int, _Batch] = {}
        self._head: int | None = None
        self._progress_at = self._head_at = time.monotonic()
        self._warned = False

    async def wait(self, digests: Iterable[str]) -> dict[str, Any]:
        """Every digest's proof bundle (parsed JSON), once all are confirmed."""
        waiting = set(digests)
        bundles: dict[str, Any] = {}
        await self._learn_service()
        deadline = time.monotonic() + self._timeout
        while True:
            before = self._state(waiting)
            await self._poll(waiting, bundles)
            if not waiting:
                return bundles
            await self._follow_chain()
            if self._state(waiting) != before:
                self._progress_at = time.monotonic()
            self._check_stall(waiting)
            if time.monotonic() > deadline:
                raise LedgerError(self._timeout_message(waiting))
            await asyncio.sleep(self._interval)

    # -- service side ------------------------------------------------------------------

    async def _learn_service(self) -> None:
        service = await self._client.service()
        self._registry = service.get("registry")
        confirmations = service.get("confirmations")
        self._confirmations = confirmations if isinstance(confirmations, int) else None
        self._rpc_url = self._rpc_url or service.get("rpcUrl")

    async def _poll(self, waiting: set[str], bundles: dict[str, Any]) -> None:
        """Ask for the proof of each manifest not yet in a batch, and of one manifest
        per batch (all of a batch's manifests move together)."""
        known = {d for batch in self._batches.values() for d in batch.digests}
        probes = [d for d in waiting if d not in known]
        probes += [min(b.digests & waiting) for b in self._batches.values() if b.digests & waiting]
        for digest in probes:
            status, body = await self._client.proof(digest)
            if status == 200:
                await self._collect(body["anchor"]["batchNumber"], digest, body, waiting, bundles)
            elif body.get("batchNumber") is not None:
                batch = self._batch(body["batchNumber"], digest)
                if body.get("status") == "submitted" and not batch.submitted:
                    batch.submitted = True
                    self._report(batch, "submitted to the chain")

    def _batch(self, number: int, digest: str) -> _Batch:
        batch = self._batches.get(number)
        if batch is None:
            batch = self._batches[number] = _Batch(number, set())
            self._report(batch, "batched")
        batch.digests.add(digest)
        return batch

    async def _collect(
        self, number: int, first: str, body: Any, waiting: set[str], bundles: dict[str, Any]
    ) -> None:
        batch = self._batch(number, first)
        batch.done = True
        bundles[first] = body
        waiting.discard(first)
        for digest in sorted(batch.digests & waiting):
            status, other = await self._client.proof(digest)
            if status == 200:
                bundles[digest] = other
                waiting.discard(digest)
        block = body["anchor"]["blockNumber"]
        want = self._confirmations
        depth = f" {want}/{want}" if want else ""
        self._report(batch, f"anchored in block {block}, confirmed{depth}: proofs ready")

    # -- chain side --------------------------------------------------------------------

    async def _follow_chain(self) -> None:
        """Read the head, find the block of each submitted batch's anchor, report depth."""
        if self._rpc_url is None:
            return
        try:
            head = int(await self._rpc("eth_blockNumber", []), 16)
        except LedgerError:
            return  # the chain is out of reach: the stall check reports lack of progress
        if head != self._head:
            self._head = head
            self._progress_at = self._head_at = time.monotonic()
        for batch in self._batches.values():
            if batch.done:
                continue
            if batch.block is None and batch.submitted:
                batch.block = await self._anchor_block(batch, head)
            if batch.block is not None:
                depth = head - batch.block + 1
                want = self._confirmations
                if want and depth >= want:
                    continue  # deep enough: "proofs ready" follows once the service agrees
                shown = f"{depth}/{want}" if want else f"{depth} deep"
                self._report(batch, f"anchored in block {batch.block}, confirmed {shown}")

    async def _anchor_block(self, batch: _Batch, head: int) -> int | None:
        if self._registry is None:
            return None
        if batch.root is None:
            batch.root = (await self._client.batch(batch.number))["root"]
        query = {"address": self._registry, "fromBlock": hex(max(0, head - _LOG_WINDOW)),
                 "toBlock": "latest", "topics": [ANCHORED_TOPIC, batch.root]}
        try:
            logs = await self._rpc("eth_getLogs", [query])
        except LedgerError:
            return None
        return int(logs[-1]["blockNumber"], 16) if logs else None

    async def _rpc(self, method: str, params: list[object]) -> Any:
        from ledger.chain.anvil import json_rpc

        assert self._rpc_url is not None
        return await asyncio.to_thread(json_rpc, self._rpc_url, method, params, 5.0)

    # -- reporting ---------------------------------------------------------------------

    def _report(self, batch: _Batch, what: str) -> None:
        if what != batch.reported:
            batch.reported = what
            self._say(f"batch {batch.number}: {what}")

    def _state(self, waiting: set[str]) -> tuple[object, ...]:
        return (len(waiting), tuple(sorted((n, b.reported) for n, b in self._batches.items())))

    def _check_stall(self, waiting: set[str]) -> None:
        now = time.monotonic()
        still = now - self._progress_at
        if self._warned or still < self._stall_after:
            return
        self._warned = True
        if self._head is not None and now - self._head_at >= self._stall_after:
            self._say(
                f"the chain at {self._rpc_url} has made no block for {still:.0f} s (head "
                f"{self._head}): anchors wait for {self._confirmations or 'their'} "
                "confirmations and cannot reach them. A local anvil that mines only on "
                "transactions needs --block-time (the embedded default mines a block a "
                f"second), or mine by hand: cast rpc evm_mine --rpc-url {self._rpc_url}"
            )
        else:
            self._say(
                f"no progress for {still:.0f} s ({len(waiting)} proofs outstanding): "
                "check the service's workers and chain with `ledger status` and its log"
            )

    def _timeout_message(self, waiting: set[str]) -> str:
        stages = sorted({b.reported for b in self._batches.values() if b.digests & waiting})
        unbatched = len(waiting - {d for b in self._batches.values() for d in b.digests})
        where = "; ".join(stages + ([f"{unbatched} not batched yet"] if unbatched else []))
        return (f"{len(waiting)} manifest(s) without a proof after {self._timeout:g} s "
                f"({where or 'no status'})")
