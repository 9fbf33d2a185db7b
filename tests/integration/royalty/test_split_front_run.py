"""A split owner front-runs a settlement with a new split version (issue 11): the chain
skips that item and charges the rest; the settler frees the skipped usage and settles it
again at the new version, so nothing is charged twice and nothing escapes settlement."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ledger.app.payments import address_of
from ledger.core.manifest import Manifest
from ledger.core.royalty.settlement import SettlementStatus
from ledger.core.royalty.terms import asset_terms
from ledger.storage.manifests import ManifestStore
from ledger.storage.usage import UsageStore
from tests.integration.chain.conftest import rpc
from tests.integration.royalty.test_settler_crash import (
    BUYER,
    CREATOR,
    PRICE,
    Setup,
    _settle_all,
    _settler,
    _wait_confirmed,
    setup,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.chain


async def test_front_run_item_is_skipped_then_settled_at_the_new_version(
    setup: Setup,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = UsageStore(setup.engine)
    splitter = setup.chain.splitter
    (group, *_) = await store.unsettled_groups()
    body = await ManifestStore(setup.engine).body(group.manifest_digest)
    assert body is not None
    manifest = Manifest.from_json(body)
    terms = asset_terms(manifest, manifest.digest(), group.asset_id)
    settler = _settler(setup)
    sender = settler._sender
    submit = sender.submit

    async def front_run(key: str, to: str, data: bytes, **kw: Any) -> Any:
        # The owner's new version (same terms as its anchored manifest) lands first.
        await setup.chain.send(CREATOR, splitter.address, splitter.set_split_data(terms.split, 2))
        monkeypatch.setattr(sender, "submit", submit)
        return await submit(key, to, data, **kw)
    monkeypatch.setattr(sender, "submit", front_run)

    await _wait_confirmed(settler, store)
    # Confirmed, the skip could still be undone by a reorg: the usage stays claimed.
    first = (await store.settlements())[0]
    assert first.status is SettlementStatus.CONFIRMED and first.total == setup.expected
    await rpc(setup.w3, "anvil_mine", 10)  # past FAST_POLICY's reorg window

    async def final() -> bool:
        await settler.step()
        return (await store.settlements())[0].status is SettlementStatus.FINAL
    for _ in range(200):
        if await final():
            break
        await asyncio.sleep(0.02)
    first = (await store.settlements())[0]
    assert first.status is SettlementStatus.FINAL
    assert [i.asset_key for i in await store.settlement_items(first.id)
            if i.asset_key == group.asset_key] == []
    assert first.total == setup.expected - group.units * PRICE
    assert (await splitter.split_version(group.asset_key, 1)).total_received == 0

    await _settle_all(setup)
    buyer = address_of(BUYER)
    assert (await splitter.account(buyer, "ETH")).spent == setup.expected
    assert (await splitter.split_version(group.asset_key, 2)).total_received == \
        group.units * PRICE
    settlements = await store.settlements()
    assert len(settlements) == 2 and settlements[1].part != first.part
    assert sum(s.total for s in settlements) == setup.expected
    assert await store.unsettled_groups() == []
