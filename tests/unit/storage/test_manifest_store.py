"""ManifestStore on a real SQLite file: the point-read path answers like the engine."""

from __future__ import annotations

import os
from pathlib import Path

from ledger.core.merkle import MerkleTree, join_levels
from ledger.core.records import PENDING, BatchStatus, NewManifest
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.schema import upgrade


async def test_point_read_matches_the_engine(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await upgrade(engine)
    store = ManifestStore(engine)
    digests = [os.urandom(32) for _ in range(5)]
    created = await store.add([NewManifest(d, "creator:a", "p256:k", b"{}", 7) for d in digests])
    assert [c for _, c in created] == [True] * 5
    tree = MerkleTree(digests[:3])
    pending = await store.pending(3)
    batch = await store.seal([seq for seq, _ in pending], tree.root, join_levels(tree), 9)
    assert batch is not None and batch.status is BatchStatus.SEALED

    fast = [await store.get_with_batch(d) for d in digests]
    store.close()
    store._fast = None  # the engine's path, as on PostgreSQL
    slow = [await store.get_with_batch(d) for d in digests]
    assert fast == slow
    assert fast[0] is not None and fast[0][1] == batch and fast[0][0].leaf_index == 0
    assert fast[4] is not None and fast[4][1] is None and fast[4][0].status == PENDING
    assert await store.get_with_batch(b"\0" * 32) is None
    await engine.dispose()
