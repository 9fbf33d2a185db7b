"""Manifest checks off the event loop: the workers answer as the inline checks do."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import ledger
from ledger.app import intake
from ledger.app.intake import (
    Checked,
    CreatorKeys,
    Verifier,
    check_all,
    verify_for_intake,
    verify_many,
)
from ledger.core.manifest import Manifest
from ledger.core.receipt import ReceiptSigner
from ledger.core.records import NewManifest
from ledger.core.signing import P256SigningKey, sign_manifest
from ledger.errors import LedgerError, SignatureError, ValidationError
from ledger.keyfile import write_key
from ledger.storage.creators import Creator, CreatorKey

KEY = P256SigningKey.from_secret(0xC0FFEE)
OTHER = P256SigningKey.from_secret(0xBEEF)
SERVICE = P256SigningKey.from_secret(0x5E41CE)
CREATOR = "creator:alice"
NOW = 1_700_000_000_000


def signed(n: int, key: P256SigningKey = KEY, creator: str = CREATOR) -> dict[str, Any]:
    """A signed one-asset manifest, distinct for each `n`."""
    obj = {
        "manifestVersion": "1.0",
        "creator": {"id": creator, "wallet": "0x" + "11" * 20},
        "assets": [
            {
                "id": f"asset:{n}",
                "type": "image/jpeg",
                "hash": "sha256:" + f"{n:064x}",
                "licenses": ["non-exclusive-training"],
            }
        ],
    }
    return sign_manifest(obj, key)


def tampered(n: int) -> dict[str, Any]:
    obj = signed(n)
    obj["assets"][0]["id"] = "asset:changed"
    return obj


# One of each outcome: good, not a manifest, bad field, bad signature.
MIXED = [signed(1), [], {**signed(2), "manifestVersion": "0.9"}, tampered(3), signed(4)]


class FakeCreators:
    """The one call CreatorKeys makes of a CreatorStore."""

    def __init__(self, creators: dict[str, Creator]) -> None:
        self._creators = creators

    async def get(self, creator_id: str) -> Creator | None:
        return self._creators.get(creator_id)


def creator_keys() -> CreatorKeys:
    revoked = CreatorKey(OTHER.public_id, 0, NOW - 1)
    keys = (CreatorKey(KEY.public_id, 0, None), revoked)
    store = FakeCreators({CREATOR: Creator(CREATOR, 0, "operator", 0, "test", keys)})
    return CreatorKeys(store)  # type: ignore[arg-type]  # the fake has the one method used


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def verifier(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Verifier]:
    receipt_key = tmp_path_factory.mktemp("keys") / "service-key.pem"
    write_key(receipt_key, SERVICE)
    workers = Verifier(2, chunk=3, receipt_key=receipt_key)
    workers.start()
    try:
        yield workers
    finally:
        await workers.close()


def answers(results: list[Checked | LedgerError]) -> list[Any]:
    """Results comparable across processes: errors by type, message and field."""
    return [
        (type(r).__name__, r.message, r.field) if isinstance(r, LedgerError) else r
        for r in results
    ]


@pytest.mark.asyncio(loop_scope="module")
async def test_workers_answer_as_the_inline_check(verifier: Verifier) -> None:
    inline = check_all(MIXED)
    assert [type(r) for r in inline] == [
        Checked, ValidationError, ValidationError, SignatureError, Checked,
    ]
    assert answers(await verifier.check(MIXED)) == answers(inline)
    good = inline[0]
    assert isinstance(good, Checked)
    manifest = Manifest.from_obj(MIXED[0])
    assert good == Checked(manifest.digest(), CREATOR, KEY.public_id, manifest.to_json())


@pytest.mark.asyncio(loop_scope="module")
async def test_concurrent_calls_share_round_trips_and_keep_their_own_answers(
    verifier: Verifier,
) -> None:
    calls = [[signed(10 + i)] if i % 3 else [tampered(10 + i), signed(100 + i)] for i in range(20)]
    results = await asyncio.gather(*(verifier.check(objs) for objs in calls))
    assert [answers(r) for r in results] == [answers(check_all(objs)) for objs in calls]


class NotPicklable(dict[str, Any]):
    """Cannot reach a worker, and trips a bug (not a LedgerError) when checked."""

    def __reduce__(self) -> Any:
        raise TypeError("not picklable")

    def keys(self) -> Any:
        raise RuntimeError("a bug in the check")


@pytest.mark.asyncio(loop_scope="module")
async def test_a_bug_fails_only_its_own_call(verifier: Verifier) -> None:
    bad = NotPicklable(signed(30))
    good, failed, after = await asyncio.gather(
        verifier.check([signed(31)]),
        verifier.check([signed(32), bad]),
        verifier.check([tampered(33)]),
        return_exceptions=True,
    )
    assert isinstance(failed, RuntimeError) and str(failed) == "a bug in the check"
    assert isinstance(good, list) and answers(good) == answers(check_all([signed(31)]))
    assert isinstance(after, list) and isinstance(after[0], SignatureError)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_dead_worker_is_replaced(verifier: Verifier) -> None:
    pool = verifier._pool
    assert pool is not None
    pid = await asyncio.get_running_loop().run_in_executor(pool, os.getpid)
    os.kill(pid, signal.SIGKILL)
    objs = [signed(40 + i) for i in range(6)]
    # The pool learns of the death a moment later; every answer meanwhile is right.
    deadline = time.monotonic() + 10
    while verifier._pool is pool and time.monotonic() < deadline:
        assert answers(await verifier.check(objs)) == answers(check_all(objs))
        await asyncio.sleep(0.05)
    assert verifier._pool is not pool
    assert answers(await verifier.check(objs)) == answers(check_all(objs))


@pytest.mark.asyncio(loop_scope="module")
async def test_workers_sign_the_receipts_the_service_would(verifier: Verifier) -> None:
    assert verifier.signs_receipts
    calls = [[(bytes([i]) * 32, NOW + i, NOW + 5_000)] * (1 + i % 3) for i in range(9)]
    results = await asyncio.gather(*(verifier.sign(wanted) for wanted in calls))
    signer = ReceiptSigner(SERVICE)
    assert results == [[signer.sign(*w) for w in wanted] for wanted in calls]
    for receipts in results:
        for receipt in receipts:
            receipt.verify(SERVICE.public_id)


async def test_calls_below_inline_below_are_checked_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifier = Verifier(1, inline_below=2)
    verifier.start()
    sent: list[int] = []
    to_worker = intake._run_in

    async def spy(pool: Any, job: Any, items: list[Any]) -> list[Any]:
        sent.append(len(items))
        return await to_worker(pool, job, items)

    monkeypatch.setattr(intake, "_run_in", spy)
    try:
        assert answers(await verifier.check([signed(50)])) == answers(check_all([signed(50)]))
        assert sent == []  # one manifest: checked in this process
        objs = [signed(51), tampered(52)]
        assert answers(await verifier.check(objs)) == answers(check_all(objs))
        assert sent == [2]  # a batch: in the worker
    finally:
        await verifier.close()


async def test_without_workers_the_check_runs_here() -> None:
    idle = Verifier(1)
    assert answers(await idle.check(MIXED)) == answers(check_all(MIXED))
    assert not idle.signs_receipts
    await idle.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_verify_many_locates_errors_and_admits_registered_keys(verifier: Verifier) -> None:
    objs = [*MIXED, signed(5, OTHER), signed(6, creator="creator:nobody")]
    keys = creator_keys()
    results = await verify_many(objs, keys, verifier, field="manifests", clock=lambda: NOW)
    fields = [r.field if isinstance(r, LedgerError) else None for r in results]
    assert fields == [
        None,
        "manifests[1]",
        "manifests[2].manifestVersion",
        "manifests[3].signature",
        None,
        "manifests[5].creator.signingKey",  # revoked before NOW
        "manifests[6].creator.id",  # not registered
    ]
    first = results[0]
    assert isinstance(first, NewManifest) and first.accepted_at == NOW
    inline = await verify_many(objs, creator_keys(), None, field="manifests", clock=lambda: NOW)
    assert [str(r) if isinstance(r, LedgerError) else r for r in results] == [
        str(r) if isinstance(r, LedgerError) else r for r in inline
    ]


async def test_verify_many_answers_as_verify_for_intake() -> None:
    keys = creator_keys()
    many = await verify_many(MIXED, keys, None, clock=lambda: NOW)
    for obj, result in zip(MIXED, many, strict=True):
        try:
            one: NewManifest | LedgerError = await verify_for_intake(obj, keys, clock=lambda: NOW)
        except LedgerError as exc:
            one = exc
        assert type(one) is type(result) and str(one) == str(result)


ORPHAN_SCRIPT = """
import asyncio, os, sys, time
from ledger.app.intake import Verifier

async def main():
    verifier = Verifier(2)
    verifier.start()
    pool = verifier._pool
    pids = {await asyncio.get_running_loop().run_in_executor(pool, os.getpid) for _ in range(8)}
    print(" ".join(map(str, pids)), flush=True)
    time.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_workers_leave_when_the_service_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "service.py"
    script.write_text(ORPHAN_SCRIPT)
    root = Path(ledger.__file__).resolve().parents[1]  # the ledger under test, not another
    env = {**os.environ, "PYTHONPATH": str(root)}
    service = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert service.stdout is not None
        workers = [int(pid) for pid in service.stdout.readline().split()]
        assert workers and all(_alive(pid) for pid in workers)
    finally:
        service.kill()
        service.communicate()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left
