"""Manifest intake: verify (off the event loop), then store durably with group commit."""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ledger.app.chunks import CheckedChunk, ChunkJob, check_chunks
from ledger.app.clock import now_ms
from ledger.app.group_commit import GroupCommitWriter
from ledger.core.hashing import sha256
from ledger.core.manifest import (
    MANIFEST_VERSION,
    AnyManifest,
    Manifest,
    ManifestHeader,
    is_header_version,
)
from ledger.core.receipt import Receipt, ReceiptSigner
from ledger.core.records import ManifestRecord, NewManifest
from ledger.core.signing import verify_manifest
from ledger.errors import LedgerError, ValidationError, each_or_error
from ledger.keyfile import load_key

if TYPE_CHECKING:  # only types: the verifier's workers import this module, and need no storage
    from ledger.storage.creators import Creator, CreatorStore
    from ledger.storage.manifests import ManifestStore

log = logging.getLogger(__name__)

# Seconds `Verifier.close` waits for calls under way, then for the workers to exit.
_CLOSE_TIMEOUT_S = 10.0

IntakeWriter = GroupCommitWriter[NewManifest, tuple[ManifestRecord, bool]]


def intake_writer(store: ManifestStore) -> IntakeWriter:
    """The group-commit writer of accepted manifests."""
    return GroupCommitWriter(store.add, name="intake-writer", max_group=20_000)


class CreatorKeys:
    """Creators (their verification and keys) looked up and cached for a moment.

    Changes made through this process clear the entry at once; a change made
    by another replica is seen within `ttl_s` (a revoked key may sign for at
    most that long after its revocation reaches the database).
    """

    def __init__(self, store: CreatorStore, *, ttl_s: float = 2.0) -> None:
        self._store = store
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, Creator | None]] = {}
        self._loads: dict[str, asyncio.Task[Creator | None]] = {}

    async def get(self, creator_id: str) -> Creator | None:
        """The creator, or None if the creator is unknown."""
        cached = self._cache.get(creator_id)
        if cached is not None and time.monotonic() <= cached[0]:
            return cached[1]
        # Every request that finds the entry expired waits for one lookup: under
        # load, dozens arrive within one query's time and would each query.
        load = self._loads.get(creator_id)
        if load is None:
            load = asyncio.create_task(self._load(creator_id))
            load.add_done_callback(_retrieve)
            self._loads[creator_id] = load
        # Shielded: one waiter's cancellation must not cancel the others' lookup.
        return await asyncio.shield(load)

    async def _load(self, creator_id: str) -> Creator | None:
        expires = time.monotonic() + self._ttl
        try:
            creator = await self._store.get(creator_id)
        finally:
            current = self._loads.get(creator_id) is asyncio.current_task()
            if current:
                del self._loads[creator_id]
        if current:  # else `forget` ran meanwhile and this result may predate the change
            self._cache[creator_id] = (expires, creator)
        return creator

    def forget(self, creator_id: str) -> None:
        """Drop a cached entry after the creator's keys changed."""
        self._cache.pop(creator_id, None)
        self._loads.pop(creator_id, None)


def _retrieve(task: asyncio.Task[Any]) -> None:
    # A lookup whose waiters were all cancelled still has its error read, so
    # asyncio does not log it as never retrieved; the waiters saw it otherwise.
    if not task.cancelled():
        task.exception()


# -- checking: validation and signature, the CPU-bound part ---------------------------


@dataclass(frozen=True)
class Checked:
    """A manifest that is valid and carries a good signature of its `signing_key`."""

    digest: bytes
    creator_id: str
    signing_key: str
    body: bytes


def check_manifest(obj: Any) -> Checked:
    """Validate a parsed 1.0 manifest and verify its signature; LedgerError says what is
    wrong."""
    if isinstance(obj, dict) and is_header_version(obj.get("manifestVersion")):
        raise ValidationError(f"a {obj['manifestVersion']} manifest is registered through "
                              "POST /v1/uploads",
                              field="manifestVersion")
    return _verified(Manifest.from_obj(obj))


def check_header(obj: Any) -> tuple[Checked, ManifestHeader]:
    """Validate a parsed 1.1 header and verify its signature; LedgerError says what is
    wrong (a 1.0 manifest is refused naming ``manifestVersion``)."""
    if isinstance(obj, dict) and obj.get("manifestVersion") == MANIFEST_VERSION:
        raise ValidationError("a 1.0 manifest is registered through POST /v1/manifests",
                              field="manifestVersion")
    header = ManifestHeader.from_obj(obj)
    return _verified(header), header


def _verified(manifest: AnyManifest) -> Checked:
    verify_manifest(manifest)
    signing_key = manifest.creator.signing_key
    assert signing_key is not None  # verify_manifest refuses an unsigned draft
    body = manifest.to_json()
    return Checked(sha256(body), manifest.creator.id, signing_key, body)


def check_all(objs: Sequence[Any]) -> list[Checked | LedgerError]:
    """`check_manifest` of each object, its LedgerError in its place when it fails."""
    return each_or_error(check_manifest, objs)


Wanted = tuple[bytes, int, int]
"""A receipt to sign: manifest digest, accepted at, anchor by (ms)."""

In = TypeVar("In")
Out = TypeVar("Out")


class Verifier:
    """The intake's CPU-bound work, in worker processes: checks and receipt signatures.

    Validation, signature verification and receipt signing are most of a
    manifest's CPU time and need no I/O: in `workers` processes they use the
    cores that the one event loop cannot. Calls made while the loop was busy
    elsewhere are sent together in chunks of at most `chunk` items, so the
    many single-manifest requests of one moment share a round trip.

    Receipts are signed with the key in `receipt_key` (the one the service's
    `ReceiptSigner` has); deterministic signatures make them the same as the
    service would sign itself. A worker that dies is replaced, and what it had
    is done here instead, as is everything before `start` and after `close`.

    Calls of fewer than `inline_below` items are done here too: where several
    serving processes already keep every core busy with single-manifest requests,
    a round trip to a worker costs more than it saves, while a batch request still
    spreads over the cores instead of stalling this event loop.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        chunk: int = 125,
        receipt_key: Path | None = None,
        inline_below: int = 1,
    ) -> None:
        self._workers = workers or os.cpu_count() or 1
        self._chunk = chunk
        self._inline_below = max(1, inline_below)
        self._receipt_key = receipt_key
        self._signer: ReceiptSigner | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._queued: dict[Callable[[list[Any]], list[Any]], list[_Call]] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start the workers; they load their code now, not on the first request."""
        if self._receipt_key is not None:
            self._signer = ReceiptSigner(load_key(self._receipt_key))
        self._pool = self._new_pool()
        for _ in range(self._workers):
            self._pool.submit(check_all, [])

    async def close(self) -> None:
        """Stop the workers once the calls under way are answered (or after a bounded
        wait: shutting the service down must not hang on a stuck worker)."""
        if self._sending:
            _, late = await asyncio.wait(set(self._sending), timeout=_CLOSE_TIMEOUT_S)
            for task in late:
                task.cancel()
            if late:  # awaited too: none is left for the event loop's teardown to find
                await asyncio.wait(late, timeout=_CLOSE_TIMEOUT_S)
        pool, self._pool = self._pool, None
        if pool is not None:
            stop = asyncio.get_running_loop().run_in_executor(
                None, lambda: pool.shutdown(wait=True, cancel_futures=True)
            )
            try:
                await asyncio.wait_for(stop, _CLOSE_TIMEOUT_S)
            except TimeoutError:
                log.warning("verifier workers did not stop within %g s", _CLOSE_TIMEOUT_S)

    @property
    def signs_receipts(self) -> bool:
        """Whether `sign` can be called (a receipt key was given and the workers started)."""
        return self._signer is not None

    async def check(self, objs: Sequence[Any]) -> list[Checked | LedgerError]:
        """`check_all(objs)`, computed by the workers."""
        return await self._call(check_all, _check_here, objs)

    async def check_chunks(self, jobs: Sequence[ChunkJob]) -> list[CheckedChunk | LedgerError]:
        """`check_chunks(jobs)`, computed by the workers, one chunk a worker call."""
        return await self._call(check_chunks, _check_chunk_here, jobs)

    async def sign(self, wanted: Sequence[Wanted]) -> list[Receipt]:
        """The service's receipts for `wanted`, signed by the workers."""
        signer = self._signer
        assert signer is not None, "no receipt key, or not started"
        signatures = await self._call(
            sign_all, lambda item: signer.sign(*item).signature, wanted
        )
        key = signer.public_key
        return [Receipt(*item, key, sig) for item, sig in zip(wanted, signatures, strict=True)]

    async def _call(
        self,
        job: Callable[[list[In]], list[Out]],
        here: Callable[[In], Out],
        items: Sequence[In],
    ) -> list[Out]:
        if self._pool is None or len(items) < self._inline_below:
            return [here(item) for item in items]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Out]] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._send)
        self._queued.setdefault(job, []).append(_Call(items, here, future))
        return await future

    def _new_pool(self) -> ProcessPoolExecutor:
        # forkserver: each worker is a fork of a clean process that has loaded the
        # code once, never a fork of this threaded one.
        return ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_worker_started,
            initargs=(self._receipt_key,),
        )

    def _send(self) -> None:
        queued, self._queued = self._queued, {}
        for job, calls in queued.items():
            task = asyncio.create_task(self._answer(job, calls))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _answer(self, job: Callable[[list[Any]], list[Any]], calls: list[_Call]) -> None:
        try:
            outcomes = await self._outcomes(job, calls)
        except BaseException as exc:
            for call in calls:
                if not call.future.done():
                    call.future.set_exception(exc)
            raise
        start = 0
        for call in calls:
            mine = outcomes[start : start + len(call.items)]
            start += len(call.items)
            if call.future.done():  # its request was cancelled
                continue
            bug = next((o for o in mine if isinstance(o, _Bug)), None)
            if bug is not None:
                call.future.set_exception(bug.error)
            else:
                call.future.set_result(mine)

    async def _outcomes(
        self, job: Callable[[list[Any]], list[Any]], calls: list[_Call]
    ) -> list[Any]:
        items = [(item, call.here) for call in calls for item in call.items]
        pool = self._pool
        if pool is None:  # closed meanwhile
            return [_here(here, item) for item, here in items]
        chunks = math.ceil(len(items) / _PART_SIZE.get(job, self._chunk))
        size = math.ceil(len(items) / chunks)
        parts = [items[start : start + size] for start in range(0, len(items), size)]
        results = await asyncio.gather(
            *(_run_in(pool, job, [item for item, _ in part]) for part in parts),
            return_exceptions=True,
        )
        out: list[Any] = []
        for part, result in zip(parts, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, BrokenProcessPool) and self._pool is pool:
                    log.warning("a verifier worker died; starting new workers")
                    pool.shutdown(wait=False)
                    self._pool = self._new_pool()
                # Done here instead, where a bug fails only the request it came in.
                out.extend(_here(here, item) for item, here in part)
            else:
                out.extend(result)
        return out


async def _run_in(
    pool: ProcessPoolExecutor, job: Callable[[list[Any]], list[Any]], items: list[Any]
) -> list[Any]:
    # A coroutine, so that a pool found broken when the job is handed over fails
    # this part like one that breaks while working, instead of every part at once.
    return await asyncio.get_running_loop().run_in_executor(pool, job, items)


@dataclass(frozen=True)
class _Call:
    """One caller's items, how to do one here, and where its answer goes."""

    items: Sequence[Any]
    here: Callable[[Any], Any]
    future: asyncio.Future[Any]


@dataclass(frozen=True)
class _Bug:
    """An unexpected exception in place of an item's outcome."""

    error: Exception


def _here(here: Callable[[Any], Any], item: Any) -> Any:
    try:
        return here(item)
    except Exception as exc:  # a bug: its request must answer 500, not the others
        return _Bug(exc)


def _check_here(obj: Any) -> Checked | LedgerError:
    return check_all([obj])[0]


def _check_chunk_here(job: ChunkJob) -> CheckedChunk | LedgerError:
    return check_chunks([job])[0]


#: Items a worker call takes, where not `Verifier`'s `chunk`: a chunk of assets is
#: milliseconds of work, so chunks sent together spread over the workers one each.
_PART_SIZE: dict[Callable[[list[Any]], list[Any]], int] = {check_chunks: 1}


# Set in each worker process by `_worker_started`.
_worker_signer: ReceiptSigner | None = None


def _worker_started(receipt_key: Path | None) -> None:
    global _worker_signer
    # Ctrl-C reaches the whole process group; the service stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    service = multiprocessing.parent_process()
    if service is not None:
        threading.Thread(target=_exit_with, args=(service.sentinel,), daemon=True).start()
    _worker_signer = None if receipt_key is None else ReceiptSigner(load_key(receipt_key))


def _exit_with(service: int) -> None:
    # A service killed outright (SIGKILL, OOM) cannot stop its workers: they see
    # its sentinel close and leave, rather than wait for work for ever.
    multiprocessing.connection.wait([service])
    os._exit(0)


def sign_all(wanted: Sequence[Wanted]) -> list[str]:
    """In a worker: the receipt signature of each of `wanted`."""
    signer = _worker_signer
    assert signer is not None, "this worker has no receipt key"
    return [signer.sign(*item).signature for item in wanted]


# -- admitting: the creator and key checks, and the acceptance time ---------------------


async def verify_many(
    objs: Sequence[Any],
    keys: CreatorKeys,
    verifier: Verifier | None,
    *,
    field: str | None = None,
    clock: Callable[[], int] = now_ms,
) -> list[NewManifest | LedgerError]:
    """Check every manifest (in `verifier`'s workers when given) and admit the good ones.

    Returns, in order, each manifest ready to store or the LedgerError that
    `verify_for_intake` would raise for it; with `field`, item i's errors are
    located under ``field[i]``.
    """
    checked = check_all(objs) if verifier is None else await verifier.check(objs)
    now = clock()
    out: list[NewManifest | LedgerError] = []
    for index, item in enumerate(checked):
        where = "" if field is None else f"{field}[{index}]"
        if isinstance(item, LedgerError):
            out.append(_located(item, where))
            continue
        try:
            out.append(await admit(item, keys, now, field=where))
        except LedgerError as exc:
            out.append(exc)
    return out


async def verify_for_intake(
    obj: Any, keys: CreatorKeys, *, field: str = "", clock: Callable[[], int] = now_ms
) -> NewManifest:
    """Validate and verify one parsed manifest; raise LedgerError naming the problem."""
    try:
        checked = check_manifest(obj)
    except LedgerError as exc:
        _located(exc, field)
        raise
    return await admit(checked, keys, clock(), field=field)


async def admit(checked: Checked, keys: CreatorKeys, now: int, *, field: str = "") -> NewManifest:
    """The manifest to store, accepted at `now`, if its creator is verified and its key
    is a valid signing key of that creator."""
    creator = await keys.get(checked.creator_id)
    if creator is None:
        raise ValidationError(
            f"creator {checked.creator_id} is not registered (POST /v1/creators first)",
            field=_join(field, "creator.id"),
        )
    if not creator.verified:
        raise ValidationError(
            f"creator {checked.creator_id} is not verified ({creator.detail}); its "
            "manifests are refused until it is",
            field=_join(field, "creator.id"),
        )
    if not creator.can_sign(checked.signing_key, now):
        raise ValidationError(
            f"signing key is not a valid key of {checked.creator_id} (unknown or revoked)",
            field=_join(field, "creator.signingKey"),
        )
    return NewManifest(
        digest=checked.digest,
        creator_id=checked.creator_id,
        signing_key=checked.signing_key,
        body=checked.body,
        accepted_at=now,
    )


def _located(exc: LedgerError, field: str) -> LedgerError:
    if field:
        exc.field = _join(field, exc.field) if exc.field else field
    return exc


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
