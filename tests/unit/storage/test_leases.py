"""Leases and fencing on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.errors import LeaseLostError
from ledger.storage.leases import Fence, LeaseStore, check_fence
from ledger.storage.txdocs import TxDocStore

NAME = "sender:31337:0xabc"


async def test_first_taker_gets_token_one_and_renews_it(engine: AsyncEngine) -> None:
    leases = LeaseStore(engine)
    fence = await leases.acquire(NAME, "a/1", 10_000, None)
    assert fence == Fence(NAME, "a/1", 1)
    assert await leases.acquire(NAME, "b/1", 10_000, None) is None
    assert await leases.acquire(NAME, "a/1", 10_000, fence) == fence
    assert await leases.holder(NAME) == ("a/1", 1, True)


async def test_an_expired_lease_is_taken_with_a_higher_token(engine: AsyncEngine) -> None:
    leases = LeaseStore(engine)
    old = await leases.acquire(NAME, "a/1", 50, None)
    assert old is not None
    await asyncio.sleep(0.1)
    new = await leases.acquire(NAME, "b/1", 10_000, None)
    assert new == Fence(NAME, "b/1", 2)
    # The deposed holder can neither renew nor write under its old fence.
    assert await leases.acquire(NAME, "a/1", 10_000, old) is None
    async with engine.begin() as conn:
        with pytest.raises(LeaseLostError):
            await check_fence(conn, old)
        await check_fence(conn, new)


async def test_a_restarted_replica_takes_its_own_lease_back(engine: AsyncEngine) -> None:
    leases = LeaseStore(engine)
    first = await leases.acquire(NAME, "a/pid1", 60_000, None)
    assert first is not None
    again = await leases.acquire(NAME, "a/pid2", 60_000, None)
    assert again == Fence(NAME, "a/pid2", 2)
    # Only the replica's own: "a" must not match "ab/..." or wildcard characters.
    assert await leases.acquire(NAME, "ab/1", 60_000, None) is None
    assert await leases.acquire(NAME, "%/1", 60_000, None) is None


async def test_release_lets_another_take_it_at_once(engine: AsyncEngine) -> None:
    leases = LeaseStore(engine)
    fence = await leases.acquire(NAME, "a/1", 60_000, None)
    assert fence is not None
    await leases.release(fence)
    assert await leases.acquire(NAME, "b/1", 60_000, None) == Fence(NAME, "b/1", 2)


async def test_the_journal_refuses_a_deposed_leaders_write(engine: AsyncEngine) -> None:
    leases = LeaseStore(engine)
    docs = TxDocStore(engine)
    old = await leases.acquire(NAME, "a/1", 50, None)
    assert old is not None
    await docs.put("anchor:1#1", "0xabc", 0, "pending", "{}", fence=old)
    await asyncio.sleep(0.1)
    assert await leases.acquire(NAME, "b/1", 10_000, None) is not None
    with pytest.raises(LeaseLostError):
        await docs.put("anchor:2#1", "0xabc", 1, "pending", "{}", fence=old)
    assert await docs.get("anchor:2#1") is None
    assert await docs.get("anchor:1#1") == "{}"


async def test_only_one_of_many_concurrent_takers_wins(engine: AsyncEngine) -> None:
    leases = LeaseStore(engine)
    results = await asyncio.gather(
        *(leases.acquire(NAME, f"r{i}/1", 60_000, None) for i in range(8))
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, results
