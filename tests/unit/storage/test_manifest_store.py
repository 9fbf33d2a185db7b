"""ManifestStore on a real SQLite file: the point-read path answers like the engine, and
a manifest's receipt is stored once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger.core.merkle import MerkleTree, join_levels
from ledger.core.receipt import ReceiptSigner
from ledger.core.records import PENDING, BatchStatus, NewManifest
from ledger.core.signing import P256SigningKey
from ledger.errors import StorageError
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


async def test_a_receipt_is_stored_once_and_read_on_both_paths(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await upgrade(engine)
    store = ManifestStore(engine)
    signer = ReceiptSigner(P256SigningKey.from_secret(7))
    given, old = os.urandom(32), os.urandom(32)
    receipt = signer.sign(given, 7, 1_007)
    await store.add([NewManifest(given, "creator:a", "p256:k", b"{}", 7, receipt),
                     NewManifest(old, "creator:a", "p256:k", b"{}", 8)])
    # A resubmission (accepted later, promising more) answers the stored record.
    again = NewManifest(given, "creator:a", "p256:k", b"{}", 9, signer.sign(given, 9, 9_999))
    for fast in (True, False):
        if not fast:
            store.close()
            store._fast = None  # the engine's path, as on PostgreSQL
        ((record, created),) = await store.add([again])
        assert not created and record.receipt == receipt
        found = await store.get_with_batch(given)
        assert found is not None and found[0].receipt == receipt
    unsigned = await store.get(old)
    assert unsigned is not None and unsigned.receipt is None
    first = signer.sign(old, 8, 1_008)
    assert await store.keep_receipt(first) == first
    # Another replica signing later (other settings) finds the first one kept.
    assert await store.keep_receipt(signer.sign(old, 8, 5_008)) == first
    kept = await store.get(old)
    assert kept is not None and kept.receipt == first
    with pytest.raises(StorageError):
        await store.keep_receipt(signer.sign(b"\1" * 32, 8, 1_008))
    await engine.dispose()
