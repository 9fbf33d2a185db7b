"""`kill -9` of the service at random instants while clients submit: after the last
restart every accepted manifest has a proof valid offline and on chain, none is
lost, and no batch is anchored twice."""

from __future__ import annotations

import asyncio
import collections
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account

from ledger.cli.client import LedgerClient, ServiceError
from ledger.core.manifest import Manifest
from ledger.core.signing import SigningKey
from tests.integration.faults.conftest import (
    ANCHORER_KEY,
    Chain,
    anchor_txs,
    check_anchored_once,
    check_proofs,
    db_rows,
    new_creator,
    proofs,
)
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest

pytestmark = pytest.mark.chain

# Fixed for the suite; a soak run can vary them: FAULTS_SEED=7 FAULTS_CYCLES=30 pytest ...
SEED = int(os.environ.get("FAULTS_SEED", "20240604"))
CYCLES = int(os.environ.get("FAULTS_CYCLES", "10"))
#: Seconds the service runs before each kill (drawn uniformly).
UPTIME = (0.1, 1.6)


@dataclass
class Book:
    """What the clients know: accepted digests, and those whose POST got no answer."""

    creator_id: str
    key: SigningKey
    next_n: int = 0
    accepted: set[str] = field(default_factory=set)
    unanswered: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Sent again after no answer and found already stored: the dead service had
    #: committed them but not answered.
    stored_unanswered: int = 0
    errors: list[str] = field(default_factory=list)

    def new_manifests(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for _ in range(count):
            doc = manifest(self.creator_id, self.key, self.next_n)
            self.next_n += 1
            out.append(("0x" + Manifest.from_obj(doc).digest().hex(), doc))
        return out

    def answered(self, digest: str, status: int) -> None:
        assert status in (200, 202), status
        self.accepted.add(digest)
        if self.unanswered.pop(digest, None) is not None and status == 200:
            self.stored_unanswered += 1


async def _submit(client: LedgerClient, book: Book, items: list[tuple[str, Any]]) -> bool:
    """POST ``items`` (one: the single endpoint; more: the batch endpoint); False
    when the service did not answer (it died, or is not up yet)."""
    try:
        if len(items) == 1:
            status, body = await client.submit(items[0][1])
            assert body["manifestDigest"] == items[0][0]
            book.answered(items[0][0], status)
            return True
        results = await client.submit_many([doc for _, doc in items])
    except ServiceError as exc:
        if exc.status is not None:
            book.errors.append(str(exc))
            return True
        # The service may or may not have stored them before it died.
        book.unanswered.update(items)
        return False
    for (digest, _), result in zip(items, results, strict=True):
        assert result["manifestDigest"] == digest
        book.answered(digest, result["httpStatus"])
    return True


async def _client_loop(
    url: str, book: Book, stop: asyncio.Event, size: Callable[[], int], pause: float
) -> None:
    """Submit new manifests until ``stop``; what got no answer is sent again, like a
    real client would, once the service is back."""
    async with LedgerClient(url, timeout=10.0) as client:
        while not stop.is_set():
            items = book.new_manifests(size())
            while not await _submit(client, book, items) and not stop.is_set():
                await asyncio.sleep(0.2)
            await asyncio.sleep(pause)


def _phase(service: ServiceProcess) -> str:
    """What the dead service was in the middle of, judged from its database."""
    ((pending,),) = db_rows(
        service.data_dir, "SELECT count(*) FROM manifests WHERE batch_number IS NULL"
    )
    in_flight = db_rows(service.data_dir, "SELECT status FROM batches WHERE status != 'confirmed'")
    if any(status == "submitted" for (status,) in in_flight):
        return "anchoring"
    if in_flight:
        return "sealed"
    return "batching" if pending else "idle"


async def test_kill_9_at_random_points_loses_nothing_and_anchors_once(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    rng = random.Random(SEED)
    service = services(chain)
    await service.start()
    async with LedgerClient(service.url, timeout=10.0) as client:
        book = Book("creator:crash", await new_creator(client, "creator:crash"))
    stop = asyncio.Event()
    sizes = random.Random(SEED + 1)
    # Two clients of the single endpoint and one of the batch endpoint, paced so
    # that a run makes one or two thousand manifests (each is checked on chain at the end).
    clients = [
        asyncio.create_task(_client_loop(service.url, book, stop, lambda: 1, 0.02)),
        asyncio.create_task(_client_loop(service.url, book, stop, lambda: 1, 0.02)),
        asyncio.create_task(
            _client_loop(service.url, book, stop, lambda: sizes.randint(2, 20), 0.1)
        ),
    ]
    phases: collections.Counter[str] = collections.Counter()
    try:
        for _ in range(CYCLES):
            await asyncio.sleep(rng.uniform(*UPTIME))
            service.kill()
            phases[_phase(service)] += 1
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            await service.start()
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*clients, return_exceptions=True)
    for task in clients:
        task.result()  # a failed assertion in a client fails the test

    assert book.errors == []
    async with LedgerClient(service.url, timeout=30.0) as client:
        # What was in flight when the clients stopped: each is stored now (200 if
        # the service had stored it, 202 if not), so every manifest made is accepted.
        left = list(book.unanswered.items())
        for start in range(0, len(left), 500):
            assert await _submit(client, book, left[start : start + 500])
        assert book.errors == [] and not book.unanswered
        bundles = await proofs(client, book.accepted, timeout=90.0)
    await check_proofs(chain, bundles.values())
    assert service.stop() == 0
    batches = await check_anchored_once(chain, service.data_dir)
    stored = {"0x" + bytes(d).hex() for (d,) in db_rows(service.data_dir,
                                                         "SELECT digest FROM manifests")}
    # Every manifest made was sent and, in the end, accepted: no more, no fewer stored.
    assert stored == book.accepted and len(stored) == book.next_n
    # One transaction per batch, nonces 0..N-1: none burnt, none reused, none failed.
    txs = anchor_txs(service.data_dir)
    assert [tx["nonce"] for tx in txs] == list(range(batches))
    assert all(tx["inclusion"]["succeeded"] for tx in txs)
    anchorer = Account.from_key(ANCHORER_KEY).address
    assert await chain.w3.eth.get_transaction_count(anchorer) == batches
    print(f"{book.next_n} manifests ({book.stored_unanswered} stored by a service killed "
          f"before it answered), {batches} batches, {service.starts} starts; "
          f"kills by phase {dict(phases)}")
