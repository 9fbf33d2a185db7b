"""RSL documents kept between requests: served again while nothing they depend on has
changed, built again when a statement is stored or an anchor confirmed (the store's
version moves), and when a time is reached at which a statement about a listed asset
takes effect: a revoked asset still leaves at its effective millisecond."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ledger.app.rsl import RslPublisher
from ledger.core.manifest import Manifest
from ledger.storage.published import PublishedAsset
from tests.unit.app.licensing_world import BASE, NOTICE_MS, FakePublished, LicensingWorld

T = 1_800_000_000_000
A0 = b'url="https://cdn.example/a0.png"'


class CountedPublished(FakePublished):
    """The anchored assets, counting the reads, with a version the test moves."""

    def __init__(self, m: Manifest) -> None:
        super().__init__(m)
        self.reads = 0
        self.stamp = 1

    async def assets(self, *, creator_id: str | None = None,
                     manifest_digest: bytes | None = None, asset_index: int | None = None,
                     limit: int = 100_000) -> list[PublishedAsset]:
        self.reads += 1
        return await super().assets(creator_id=creator_id, manifest_digest=manifest_digest,
                                    asset_index=asset_index, limit=limit)

    async def version(self) -> tuple[int, ...]:
        return (self.stamp,)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[LicensingWorld]:
    made = await LicensingWorld.open(tmp_path)
    yield made
    await made.engine.dispose()


def _publisher(world: LicensingWorld, published: CountedPublished, *, kept: int = 256
               ) -> RslPublisher:
    return RslPublisher(published, world.held, base_url=BASE, chain_id=31337,
                        asset_url="https://cdn.example/by-hash/{sha256}", versions=published,
                        kept=kept)


async def test_a_document_is_built_once_while_nothing_changes(world: LicensingWorld) -> None:
    published = CountedPublished(world.manifest)
    publisher = _publisher(world, published)
    first = await publisher.document(T)
    assert [await publisher.document(t) for t in (T, T + 1, T + 86_400_000)] == [first] * 3
    assert published.reads == 1
    # Each filter is its own document.
    await publisher.document(T, creator_id="creator:a")
    assert published.reads == 2


async def test_a_stored_statement_builds_it_again(world: LicensingWorld) -> None:
    published = CountedPublished(world.manifest)
    publisher = _publisher(world, published)
    assert A0 in await publisher.document(T)
    world.statement("withdraw-consent", T - 1000)
    published.stamp += 1
    assert A0 not in await publisher.document(T)
    assert published.reads == 2


async def test_a_revoked_asset_leaves_at_its_effective_time_even_when_kept(
        world: LicensingWorld) -> None:
    published = CountedPublished(world.manifest)
    publisher = _publisher(world, published)
    world.statement("revoke", T - NOTICE_MS, effectiveAt=T)
    assert [A0 in await publisher.document(t) for t in (T - 1000, T - 1, T, T + 1000)] == [
        True, True, False, False]
    assert published.reads == 2  # built for T - 1000, kept until T, built for T


async def test_an_amendment_changes_the_document_from_its_effective_time(
        world: LicensingWorld) -> None:
    published = CountedPublished(world.manifest)
    publisher = _publisher(world, published)
    world.statement("amend", T - 5000, effectiveAt=T, terms={"licenses": ["exclusive"]})
    before, at, after = [await publisher.document(t) for t in (T - 1, T, T + 1)]
    permits = b'<permits type="usage">{}</permits>'
    assert permits.replace(b"{}", b"ai-train") in before
    assert permits.replace(b"{}", b"ai-all") in at and at == after


async def test_a_clock_set_back_builds_it_again(world: LicensingWorld) -> None:
    published = CountedPublished(world.manifest)
    publisher = _publisher(world, published)
    world.statement("withdraw-consent", T)
    assert A0 not in await publisher.document(T)
    assert A0 in await publisher.document(T - 1)


async def test_at_most_so_many_documents_are_kept(world: LicensingWorld) -> None:
    published = CountedPublished(world.manifest)
    publisher = _publisher(world, published, kept=2)
    for n in range(3):  # asked for three creators: the first is forgotten
        await publisher.document(T, creator_id=f"creator:{n}")
    await publisher.document(T, creator_id="creator:2")
    assert published.reads == 3
    await publisher.document(T, creator_id="creator:0")
    assert published.reads == 4
