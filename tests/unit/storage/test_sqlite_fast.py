"""The SQLite fast path: its intake writes answer as ManifestStore.add through the engine,
fail cleanly, refuse a moved file; every store of an engine shares one."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from ledger.core.merkle import MerkleTree, join_levels
from ledger.core.records import ManifestRecord, NewManifest
from ledger.errors import StorageError
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.schema import upgrade
from ledger.storage.sqlite_fast import fast_path


def new(digest: bytes, accepted_at: int) -> NewManifest:
    return NewManifest(digest, "creator:a", "p256:k", b'{"m":1}', accepted_at)


Add = Callable[[Sequence[NewManifest]], Awaitable[list[tuple[ManifestRecord, bool]]]]


async def scenario(store: ManifestStore, add: Add) -> list[list[tuple[ManifestRecord, bool]]]:
    """New manifests, a repeat within one group, and resubmissions before and after sealing."""
    a, b, c = (bytes([n]) * 32 for n in (1, 2, 3))
    answers = [await add([new(a, 10), new(b, 10), new(a, 11)])]
    tree = MerkleTree([a])
    pending = await store.pending(1)
    assert await store.seal([pending[0][0]], tree.root, join_levels(tree), 12) is not None
    answers.append(await add([new(c, 13), new(a, 13), new(b, 13)]))
    return answers


async def test_answers_as_the_engine(tmp_path: Path) -> None:
    results = []
    for name in ("engine.db", "plain.db"):
        path = tmp_path / name
        engine = open_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        store = ManifestStore(engine)
        if name == "engine.db":
            store.close()
            store._fast = None  # the engine's path, as on PostgreSQL
        results.append(await scenario(store, store.add))
        store.close()
        await engine.dispose()
    engine_answers, plain_answers = results
    assert plain_answers == engine_answers
    first, second = plain_answers
    assert [created for _, created in first] == [True, True, False]
    assert first[2][0] == first[0][0]  # the repeat gets the first record
    assert [created for _, created in second] == [True, False, False]
    assert second[1][0].status == "batched" and second[1][0].accepted_at == 10
    assert second[2][0].status == "pending" and second[2][0].accepted_at == 10


async def test_a_failed_write_is_a_storage_error_and_the_next_one_works(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    engine = open_engine(f"sqlite+aiosqlite:///{path}")
    store = ManifestStore(engine)
    with pytest.raises(StorageError, match="could not store manifests: no such table"):
        await store.add([new(os.urandom(32), 1)])
    await upgrade(engine)
    digest = os.urandom(32)
    assert [created for _, created in await store.add([new(digest, 2)])] == [True]
    record = await store.get(digest)
    assert record is not None and record.accepted_at == 2
    store.close()
    await engine.dispose()


async def test_no_commit_once_the_file_is_moved_away(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    engine = open_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade(engine)
    store = ManifestStore(engine)
    await store.add([new(os.urandom(32), 1)])
    path.rename(tmp_path / "away.db")
    refused = os.urandom(32)
    with pytest.raises(StorageError, match="moved or deleted"):
        await store.add([new(refused, 2)])
    (tmp_path / "away.db").rename(path)
    assert [created for _, created in await store.add([new(refused, 3)])] == [True]
    store.close()
    await engine.dispose()


async def test_every_store_of_an_engine_shares_one_fast_path(tmp_path: Path) -> None:
    file_engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    memory_engine = open_engine("sqlite+aiosqlite://")
    assert fast_path(file_engine) is fast_path(file_engine) is not None
    assert fast_path(memory_engine) is None
    await file_engine.dispose()
    await memory_engine.dispose()
