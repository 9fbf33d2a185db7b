"""Published assets: only manifests whose batch is confirmed, filtered by creator,
manifest or asset index, in manifest then asset order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.core.records import NewManifest
from ledger.core.signing import EthSigningKey
from ledger.storage.published import PublishedAssets
from tests.fakes.world import CREATOR_KEY, World, priced_manifest


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    made = await World.open(tmp_path, prices=(10, 20))
    yield made
    await made.engine.dispose()


async def test_only_confirmed_manifests_are_published(world: World) -> None:
    # Storing a manifest stores its asset rows; World.open's is anchored, this one not.
    pending = priced_manifest((5,), unit="epoch")
    await world.manifests.add([NewManifest(pending.digest(), "creator:a",
                                           EthSigningKey.from_hex(CREATOR_KEY).public_id,
                                           pending.to_json(), 1)])
    published = PublishedAssets(world.engine)
    found = await published.assets()
    assert [(a.manifest_digest, a.asset_index) for a in found] == [
        (world.manifest.digest(), 0), (world.manifest.digest(), 1)]
    assert found[0].creator_id == "creator:a" and found[0].confirmed_at == 2
    assert len(await published.assets(creator_id="creator:a")) == 2
    assert await published.assets(creator_id="creator:b") == []
    assert await published.assets(manifest_digest=pending.digest()) == []
    assert len(await published.assets(limit=1)) == 1
    one = await published.assets(manifest_digest=world.manifest.digest(), asset_index=1)
    assert [a.asset_index for a in one] == [1]


async def test_the_version_moves_with_statements_and_anchors(world: World) -> None:
    """What an RSL document kept between requests is checked against (one read)."""
    published = PublishedAssets(world.engine)
    first = await published.version()
    assert await published.version() == first
    async with world.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO statements (digest, manifest_digest, type, body, accepted_at) "
            "VALUES (:digest, :manifest, 'withdraw-consent', :body, 3)"),
            {"digest": bytes(32), "manifest": world.manifest.digest(), "body": b"{}"})
    stated = await published.version()
    assert stated != first
    await world.manifests.mark_unanchored(1)  # a reorganisation undid the anchor
    assert await published.version() not in (first, stated)
