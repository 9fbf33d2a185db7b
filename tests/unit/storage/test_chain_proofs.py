"""The chain-proof cache: a block's proofs come back as stored, only when every root
asked for is there, and a row once kept never changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.storage import schema
from ledger.storage.chain_proofs import BlockProofRows, ChainProofStore
from ledger.storage.engine import open_engine

BLOCK, ROOT, OTHER = b"\xbb" * 32, b"\x11" * 32, b"\x22" * 32
PROOFS = BlockProofRows(42, b"\xf9header", (b"\xf8a", b"\xf8b"),
                        {ROOT: (b"\xe2r1",), OTHER: (b"\xe2o1", b"\xe2o2")})


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await schema.upgrade(made)
    yield made
    await made.dispose()


async def test_proofs_round_trip_per_block_and_root(engine: AsyncEngine) -> None:
    store = ChainProofStore(engine)
    assert await store.get(BLOCK, [ROOT]) is None
    await store.put(BLOCK, PROOFS)
    assert await store.get(BLOCK, [ROOT, OTHER]) == PROOFS
    assert await store.get(BLOCK, [OTHER]) == BlockProofRows(
        42, PROOFS.header, PROOFS.account_proof, {OTHER: PROOFS.storage_proofs[OTHER]})
    assert await store.get(b"\xcc" * 32, [ROOT]) is None  # another block: nothing


async def test_a_root_missing_at_the_block_misses_the_whole_request(engine: AsyncEngine) -> None:
    store = ChainProofStore(engine)
    await store.put(BLOCK, BlockProofRows(42, b"h", (b"a",), {ROOT: (b"r",)}))
    assert await store.get(BLOCK, [ROOT, OTHER]) is None


async def test_a_row_kept_is_never_replaced(engine: AsyncEngine) -> None:
    store = ChainProofStore(engine)
    await store.put(BLOCK, PROOFS)
    await store.put(BLOCK, BlockProofRows(42, b"other", (b"x",), {ROOT: (b"y",)}))
    assert await store.get(BLOCK, [ROOT, OTHER]) == PROOFS
