"""The database fails under a running service: writes are refused with a 503 that
says why, /healthz reports the database, and nothing accepted before is lost or
corrupted once the database is back.

- A full disk, on the SQLite default: the live service's file-size limit drops to
  zero (``prlimit``), so every write(2) of a database page fails with EFBIG the way
  it fails with ENOSPC on a full disk. That is SQLite's real write-error path
  through the service, unlike ``PRAGMA max_page_count``, which is per connection
  (the test could only set it on its own) and fails inside SQLite before any I/O.
  Then the limit is lifted: the same process recovers with no restart.
- The database file moved away, on SQLite: the file-level equivalent of a lost
  connection (there is no server). Permissions would not do: an open descriptor
  ignores them, and the suite may run as root.
- PostgreSQL: the service's backends killed (``pg_terminate_backend``) mid-load,
  then the whole cluster stopped and started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import resource
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ledger.cli.client import LedgerClient
from ledger.core.creators import sign_action
from ledger.core.manifest import Manifest
from ledger.core.signing import SigningKey
from tests.integration.faults.conftest import (
    Chain,
    check_anchored_once,
    check_proofs,
    db_rows,
    eventually,
    metric,
    new_creator,
    proofs,
)
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest, now_ms, p256
from tests.pg import ThrowawayPostgres

pytestmark = pytest.mark.chain

_DB_FILES = ("ledger.db", "ledger.db-wal", "ledger.db-shm")


@dataclass
class Intake:
    """Raw HTTP to the service, and what it answered for each manifest digest."""

    http: aiohttp.ClientSession
    url: str
    creator_id: str
    key: SigningKey
    #: digest -> the statuses it got, in order (None: no answer)
    answers: dict[str, list[int | None]] = field(default_factory=dict)
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def new(self) -> tuple[str, dict[str, Any]]:
        """A new signed manifest and its digest."""
        doc = manifest(self.creator_id, self.key, next(self._numbers))
        return "0x" + Manifest.from_obj(doc).digest().hex(), doc

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, parsed JSON body) of any request; raises on no answer."""
        data = None if body is None else json.dumps(body).encode()
        async with self.http.request(method, self.url + path, data=data) as response:
            return response.status, await response.json(content_type=None)

    async def submit(self) -> tuple[int | None, Any]:
        """POST a new manifest; its status (None: no answer) and body."""
        digest, doc = self.new()
        try:
            status, body = await self.request("POST", "/v1/manifests", doc)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.answers.setdefault(digest, []).append(None)
            return None, repr(exc)
        self.answers.setdefault(digest, []).append(status)
        return status, body

    @property
    def accepted(self) -> set[str]:
        """Digests answered 202 or 200 at least once."""
        return {d for d, statuses in self.answers.items() if {200, 202} & set(statuses)}

    def statuses(self) -> set[int | None]:
        """Every status answered so far."""
        return {s for statuses in self.answers.values() for s in statuses}


@contextlib.asynccontextmanager
async def intake(
    service: ServiceProcess, creator_id: str, *, timeout_s: float = 10.0
) -> AsyncIterator[Intake]:
    """A registered creator and an `Intake` on the service (``timeout_s`` a request)."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with (
        LedgerClient(service.url, timeout=10.0) as client,
        aiohttp.ClientSession(timeout=timeout, headers={"Content-Type": "application/json"})
        as http,
    ):
        key = await new_creator(client, creator_id)
        yield Intake(http, service.url, creator_id, key)


def assert_storage_503(status: int | None, body: Any, reason: str) -> None:
    """A 503 with the storage error body, whose message matches ``reason``."""
    assert status == 503, body
    error = body["error"]
    assert error["code"] == "storage_error", error
    assert reason in error["message"], error


async def healthz(item: Intake) -> tuple[int, Any]:
    """/healthz's status and report."""
    return await item.request("GET", "/healthz")


async def wait_accepting(item: Intake, timeout: float = 15.0) -> None:
    """Wait until a new manifest is answered 202 again."""

    async def accepting() -> bool:
        status, _ = await item.submit()
        return status == 202

    await eventually(accepting, "intake to accept again", timeout=timeout, every=0.2)


def registration(creator_id: str, deployment: str) -> dict[str, Any]:
    """A signed action registering ``creator_id`` with fresh keys on ``deployment``."""
    key, recovery = p256(), p256()
    return sign_action("register", creator_id, [key.public_id], now_ms(), [key, recovery],
                       deployment=deployment, recovery_key=recovery.public_id)


@contextlib.contextmanager
def disk_full(pid: int) -> Iterator[None]:
    """Make every file write of process ``pid`` fail with EFBIG, for the block.

    CPython ignores SIGXFSZ, so the service sees the error instead of dying.
    """
    old = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, old[1]))
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            resource.prlimit(pid, resource.RLIMIT_FSIZE, old)


def stored_digests(data_dir: Path) -> set[str]:
    """Every manifest digest in the service's SQLite database."""
    return {"0x" + bytes(d).hex() for (d,) in db_rows(data_dir, "SELECT digest FROM manifests")}


async def anchor_first(item: Intake, client: LedgerClient, count: int) -> set[str]:
    """Submit ``count`` manifests and wait until each is anchored; their digests."""
    for _ in range(count):
        status, body = await item.submit()
        assert status == 202, body
    await proofs(client, item.accepted)
    return set(item.accepted)


async def test_full_disk_refuses_writes_keeps_reads_and_loses_nothing(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain)
    await service.start()
    async with intake(service, "creator:disk") as item, LedgerClient(service.url) as client:
        anchored = await anchor_first(item, client, 10)
        pending = [(await item.submit())[1]["manifestDigest"] for _ in range(5)]

        with disk_full(service.pid):
            for _ in range(5):
                status, body = await item.submit()
                assert_storage_503(status, body, "could not store manifests")
                assert "disk" in body["error"]["message"], body
            batch = [item.new() for _ in range(3)]
            status, body = await item.request(
                "POST", "/v1/manifests:batch", {"manifests": [doc for _, doc in batch]}
            )
            assert_storage_503(status, body, "could not store manifests")
            # A creator's registration writes too; no raw database error leaks as a 500.
            action = registration("creator:disk-2", await client.deployment())
            status, body = await item.request("POST", "/v1/creators", action)
            assert_storage_503(status, body, "the database")

            status, health = await healthz(item)
            assert status == 503, health
            assert health["database"].startswith("unavailable: writes failing:"), health
            assert health["chain"] == "ok"
            status, ready = await item.request("GET", "/readyz")
            assert status == 503 and ready["database"] == health["database"], ready
            assert await metric(service.url, "ledger_storage_errors_total") >= 7
            # Reads need no write: records, proofs and batch pages are all served.
            for digest in anchored:
                status, bundle = await client.proof(digest)
                assert status == 200 and bundle["manifestDigest"] == digest
            for digest in pending:
                assert (await client.manifest(digest))["manifestDigest"] == digest
            assert await client.batches()
            # The workers meet the full disk too (their log as well): they fail, retry
            # and the process lives on.
            await asyncio.sleep(1.0)
            assert service.running

        # Space is back: the same process takes writes again, no restart needed.
        await wait_accepting(item)
        assert (await healthz(item))[0] == 200
        assert (await item.request("GET", "/readyz"))[0] == 200
        for _ in range(5):
            assert (await item.submit())[0] == 202
        bundles = await proofs(client, item.accepted)
    await check_proofs(chain, bundles.values())
    assert service.stop() == 0
    await check_anchored_once(chain, service.data_dir)
    assert db_rows(service.data_dir, "PRAGMA integrity_check") == [("ok",)]
    stored = stored_digests(service.data_dir)
    assert item.accepted <= stored
    refused = {d for d, statuses in item.answers.items() if statuses == [503]}
    refused |= {digest for digest, _ in batch}
    assert len(refused) >= 8
    assert not stored & refused, "a manifest refused with 503 was stored"


async def test_database_file_moved_away_refuses_writes_until_back(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain)
    await service.start()
    async with intake(service, "creator:moved") as item, LedgerClient(service.url) as client:
        await anchor_first(item, client, 5)
        data = service.data_dir
        for name in _DB_FILES:
            (data / name).rename(data / f"{name}.away")
        try:
            status, body = await item.submit()
            # The service must not answer 202 for a write into a file that is gone.
            assert_storage_503(status, body, "")
            status, health = await healthz(item)
            assert status == 503 and health["database"].startswith("unavailable"), health
        finally:
            for name in _DB_FILES:
                (data / f"{name}.away").replace(data / name)
        await wait_accepting(item)
        bundles = await proofs(client, item.accepted)
    await check_proofs(chain, bundles.values())
    assert service.stop() == 0
    await check_anchored_once(chain, service.data_dir)
    assert db_rows(service.data_dir, "PRAGMA integrity_check") == [("ok",)]
    assert item.accepted <= stored_digests(service.data_dir)


@pytest.fixture
def cluster() -> Iterator[ThrowawayPostgres]:
    """A cluster of this test's own: stopping the session's would break other tests."""
    pg = ThrowawayPostgres()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


async def pg_execute(db_url: str, query: str) -> list[Any]:
    """Rows of ``query`` on the service's PostgreSQL database, from an engine of our own."""
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            return list((await conn.execute(text(query))).all())
    finally:
        await engine.dispose()


async def pg_digests(db_url: str) -> set[str]:
    """Every manifest digest in the service's PostgreSQL database."""
    rows = await pg_execute(db_url, "SELECT digest FROM manifests")
    return {"0x" + bytes(digest).hex() for (digest,) in rows}


TERMINATE_OTHERS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@contextlib.asynccontextmanager
async def loaded(item: Intake, clients: int = 3, pause: float = 0.03) -> AsyncIterator[None]:
    """``clients`` concurrent submitters for the block, ``pause`` between requests
    (each accepted manifest costs a proof check at the end)."""
    stop = asyncio.Event()

    async def submitter() -> None:
        while not stop.is_set():
            await item.submit()
            await asyncio.sleep(pause)

    tasks = [asyncio.create_task(submitter()) for _ in range(clients)]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_postgres_backends_killed_mid_load_lose_nothing(
    chain: Chain, services: Callable[..., ServiceProcess], postgres: ThrowawayPostgres
) -> None:
    db_url = postgres.new_database()
    service = services(chain, {"LEDGER_DB_URL": db_url})
    await service.start()
    async with intake(service, "creator:pg-kill") as item, LedgerClient(service.url) as client:
        async with loaded(item):
            await asyncio.sleep(0.5)
            # Every backend of the service killed, three times, while it takes writes.
            for _ in range(3):
                assert await pg_execute(db_url, TERMINATE_OTHERS)
                await asyncio.sleep(0.3)
            # The pool's pre-ping finds the dead connections and opens new ones.
            await wait_accepting(item)
        # A write on a killed connection may fail (503); none leaks a raw error (500).
        assert item.statuses() <= {202, 503}, item.statuses()
        bundles = await proofs(client, item.accepted)
    await check_proofs(chain, bundles.values())
    assert service.stop() == 0
    await check_anchored_once(chain, db_url)
    # A commit can succeed while its answer is lost with the connection: such a
    # manifest is stored but was answered 503 (a retry would get 200).
    assert item.accepted <= await pg_digests(db_url)


async def test_postgres_stopped_answers_503_and_recovers_by_itself(
    chain: Chain, services: Callable[..., ServiceProcess], cluster: ThrowawayPostgres
) -> None:
    db_url = cluster.new_database()
    service = services(chain, {"LEDGER_DB_URL": db_url})
    await service.start()
    try:
        async with (
            intake(service, "creator:pg-down", timeout_s=3.0) as item,
            LedgerClient(service.url) as client,
        ):
            async with loaded(item):
                await asyncio.sleep(0.5)
                cluster.halt()
                try:
                    await _check_down(item, service)
                finally:
                    cluster.resume()
                # The pool's pre-ping finds the dead connections and opens new ones.
                await wait_accepting(item)
                assert (await healthz(item))[0] == 200
            assert item.statuses() <= {202, 503}, item.statuses()
            bundles = await proofs(client, item.accepted)
    except BaseException:
        service.kill()  # it may be stuck: no point waiting for a clean stop
        raise
    await check_proofs(chain, bundles.values())
    assert service.stop() == 0
    await check_anchored_once(chain, db_url)
    assert item.accepted <= await pg_digests(db_url)


async def _check_down(item: Intake, service: ServiceProcess) -> None:
    """While the database is down: 503 for writes, /healthz naming the database."""
    await asyncio.sleep(0.5)
    for _ in range(3):
        status, body = await item.submit()
        assert_storage_503(status, body, "")
    status, health = await healthz(item)
    assert status == 503 and health["database"].startswith("unavailable"), health
    assert health["chain"] == "ok"
    assert service.running
