"""The licence server's key set as each replica holds it: a token naming a kid not held
re-reads the set from storage at most once per cooldown, however many such tokens
arrive (a stranger cannot make every introspection a database read), and a key made
by another replica is still seen: at once when the set was not read recently, else
once the cooldown has passed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app.olp_keys import OlpKeys
from ledger.storage.engine import open_engine
from ledger.storage.licence_server import LicenceServerStore, OlpKey
from ledger.storage.models import Base

NOW = 1_800_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class CountedStore(LicenceServerStore):
    """The store, counting how often the key set is read."""

    reads = 0

    async def keys(self) -> list[OlpKey]:
        self.reads += 1
        return await super().keys()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    async with made.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield made
    await made.dispose()


def _keys(store: LicenceServerStore, clock: Clock) -> OlpKeys:
    return OlpKeys(store, lifetime_ms=300_000, rotation_ms=86_400_000, reload_s=3_600,
                   kid_cooldown_s=1.0, clock=clock)


def _kids(keys: KeySet) -> set[str]:
    return {str(key.kid) for key in keys.keys}


async def test_unknown_kids_read_the_key_set_once_per_cooldown(engine: AsyncEngine) -> None:
    store, clock = CountedStore(engine), Clock()
    keys = _keys(store, clock)
    await keys.signing_key(NOW)
    before = store.reads
    await keys.verification_keys(NOW, "forged")
    assert store.reads == before  # the set was read just now
    clock.now += 5.0
    for n in range(50):
        await keys.verification_keys(NOW, f"forged-{n}")
    assert store.reads == before + 1  # the first of them: the last read was not recent
    clock.now += 0.5
    await keys.verification_keys(NOW, "forged-again")
    assert store.reads == before + 1
    clock.now += 0.5
    await keys.verification_keys(NOW, "forged-later")
    assert store.reads == before + 2


async def test_a_key_another_replica_made_is_seen_once_the_cooldown_passed(
        engine: AsyncEngine) -> None:
    clock = Clock()
    here, there = _keys(CountedStore(engine), clock), _keys(LicenceServerStore(engine), clock)
    first = (await here.signing_key(NOW)).kid
    new = await there.rotate(NOW)
    # Read just now: within the cooldown the new kid is not looked for yet.
    assert _kids(await here.verification_keys(NOW, new)) == {first}
    clock.now += 1.0
    assert _kids(await here.verification_keys(NOW, new)) == {first, new}


async def test_a_key_another_replica_made_is_seen_at_once_when_not_read_recently(
        engine: AsyncEngine) -> None:
    clock = Clock()
    here, there = _keys(CountedStore(engine), clock), _keys(LicenceServerStore(engine), clock)
    first = (await here.signing_key(NOW)).kid
    clock.now += 5.0
    new = await there.rotate(NOW)
    assert _kids(await here.verification_keys(NOW, new)) == {first, new}


async def test_concurrent_unknown_kids_share_one_read(engine: AsyncEngine) -> None:
    store, clock = CountedStore(engine), Clock()
    keys = _keys(store, clock)
    await keys.signing_key(NOW)
    clock.now += 5.0
    before = store.reads
    await asyncio.gather(*(keys.verification_keys(NOW, f"forged-{n}") for n in range(20)))
    assert store.reads == before + 1

