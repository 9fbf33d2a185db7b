"""A settler that dies at any point of a settlement neither loses usage nor charges twice.

Real anvil, real SQLite, the sender's database journal; the "crash" throws away every
in-memory object (settler, sender) at a chosen point and starts fresh ones on the same
database, as a restarted service would.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app.payments import Chain, address_of, deposit, register_splits, set_limits
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP
from ledger.chain.deploy import Deployment
from ledger.chain.rpc import RevertDecoder, Web3Client
from ledger.chain.tx.sender import Sender
from ledger.core.manifest import Manifest
from ledger.core.merkle import MerkleTree, join_levels
from ledger.core.records import AnchorInfo, NewManifest
from ledger.core.royalty.events import NewUsage, UsageEvent, event_digest
from ledger.core.royalty.settlement import SettlementStatus
from ledger.core.royalty.terms import ETH_TOKEN, asset_terms
from ledger.core.signing import EthSigningKey, sign_manifest
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.schema import upgrade
from ledger.storage.txdocs import TxDocStore
from ledger.storage.usage import UsageStore
from ledger.workers.settler import Settler
from ledger.workers.tx_journal import DatabaseJournal
from tests.integration.chain.conftest import FAST_POLICY

pytestmark = pytest.mark.chain

CREATOR, BUYER, METER = DEV_KEYS[5], DEV_KEYS[1], DEV_KEYS[4]
PRICE = 1_000


class Crash(Exception):
    """The process died here."""


@dataclass
class Setup:
    engine: AsyncEngine
    chain: Chain
    w3: Web3Client
    expected: int


@pytest.fixture
async def setup(tmp_path: Path, w3: Web3Client, deployment: Deployment) -> AsyncIterator[Setup]:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await upgrade(engine)
    chain = Chain.open(w3, deployment, FAST_POLICY)
    key = EthSigningKey.from_hex(CREATOR)
    owner = address_of(CREATOR)
    doc = sign_manifest({"manifestVersion": "1.0", "creator": {"id": "creator:a", "wallet": owner},
                         "assets": [{"id": f"asset:a-{i}", "type": "image/png",
                                     "hash": "sha256:" + f"{i:064x}", "licenses": ["x"],
                                     "priceModel": {"type": "per-unit", "rate": 1,
                                                    "currency": "ETH", "unit": "sample",
                                                    "amount": str(PRICE)}}
                                    for i in range(3)]}, key)
    manifest = Manifest.from_obj(doc)
    manifests = ManifestStore(engine)
    await manifests.add([NewManifest(manifest.digest(), "creator:a", key.public_id,
                                     manifest.to_json(), 1)])
    await _anchor(manifests, [(s, d) for s, d in await manifests.pending(10)], manifests.seal)
    await register_splits(chain, CREATOR, manifest)
    keys = [asset_terms(manifest, manifest.digest(), a.id).asset_key for a in manifest.assets]
    await deposit(chain, BUYER, "ETH", 10**18)
    await set_limits(chain, BUYER, "ETH", spending_cap=NO_CAP,
                     max_prices=dict.fromkeys(keys, ANY_PRICE))
    store = UsageStore(engine)
    expected = await _usage(store, manifest)
    await _anchor(manifests, await store.pending(1000), store.seal)
    yield Setup(engine, chain, w3, expected)
    await engine.dispose()


async def _anchor(manifests: ManifestStore, pending: list[tuple[int, bytes]], seal: Any) -> None:
    tree = MerkleTree([d for _, d in pending])
    batch = await seal([s for s, _ in pending], tree.root, join_levels(tree), 1)
    await manifests.mark_anchored(batch.number, AnchorInfo(bytes(32), 1, bytes(32), 1, 1),
                                  confirmed_at=2)


async def _usage(store: UsageStore, manifest: Manifest) -> int:
    events, total = [], 0
    for i in range(60):
        asset = manifest.assets[i % 3]
        event = UsageEvent.from_obj({
            "eventId": f"e:{i}", "buyer": address_of(BUYER),
            "asset": {"manifestDigest": manifest.digest_hex(), "assetId": asset.id},
            "units": i + 1, "time": "2026-01-01T00:00:00Z", "source": "edge"})
        terms = asset_terms(manifest, manifest.digest(), asset.id)
        events.append(NewUsage(event.event_id, event_digest(event.canonical()), event.canonical(),
                               "edge", event.buyer, "creator:a", manifest.digest(), asset.id,
                               terms.asset_key, ETH_TOKEN, event.units, 0, 1))
        total += event.units * PRICE
    await store.add(events)
    return total


def _settler(s: Setup) -> Settler:
    """A fresh settler and sender over the same database: a restarted service."""
    artifact = load_artifact("RoyaltySplitter")
    sender = Sender(s.w3, Account.from_key(METER), DatabaseJournal(TxDocStore(s.engine)),
                    policy=FAST_POLICY, decoder=RevertDecoder([artifact.abi]))
    return Settler(UsageStore(s.engine), ManifestStore(s.engine), s.chain.splitter, sender,
                   key_scope="test", drive_sender=True)


async def _settle_all(s: Setup) -> None:
    store = UsageStore(s.engine)
    settler = _settler(s)
    for _ in range(200):
        await settler.step()
        await asyncio.sleep(0.02)
        done = await store.settlements([SettlementStatus.CONFIRMED, SettlementStatus.FINAL])
        if done and not await store.unsettled_groups():
            return
    raise AssertionError("not settled")


@pytest.mark.parametrize("point", ["before-submit", "after-submit", "before-confirmation"])
async def test_crash_neither_loses_nor_double_pays(setup: Setup, point: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = UsageStore(setup.engine)
    first = _settler(setup)
    if point == "before-submit":
        async def crash(*_: Any, **__: Any) -> None:
            raise Crash
        monkeypatch.setattr(first, "_submit", crash)
    elif point == "after-submit":
        original = store.mark_settlement

        async def crash_on_mark(settlement_id: int, status: SettlementStatus, **v: Any) -> None:
            if status is SettlementStatus.SUBMITTED:
                raise Crash
            await original(settlement_id, status, **v)
        monkeypatch.setattr(UsageStore, "mark_settlement",
                            lambda self, *a, **k: crash_on_mark(*a, **k))
    if point == "before-confirmation":
        await first.step()  # submits; the crash comes before any poll saw it mined
    else:
        with pytest.raises(Crash):
            await first.step()
        monkeypatch.undo()
    (settlement,) = await store.settlements()
    assert settlement.status in (SettlementStatus.PREPARED, SettlementStatus.SUBMITTED)

    await _settle_all(setup)
    account = await setup.chain.splitter.account(address_of(BUYER), "ETH")
    assert account.spent == setup.expected
    settlements = await store.settlements()
    assert [s.status for s in settlements] == [SettlementStatus.CONFIRMED]
    assert await setup.chain.splitter.is_settled(settlements[0].usage_root, address_of(BUYER),
                                                 ETH_TOKEN)
    # Nothing is left to charge, and another restart charges nothing more.
    await _settler(setup).step()
    assert (await setup.chain.splitter.account(address_of(BUYER), "ETH")).spent == setup.expected
    assert await store.unsettled_groups() == []


async def test_a_split_that_differs_from_its_manifest_is_held(setup: Setup) -> None:
    """The owner registers terms its anchored manifest does not state: nothing is charged."""
    store = UsageStore(setup.engine)
    splitter = setup.chain.splitter
    (group, *_) = await store.unsettled_groups()
    body = await ManifestStore(setup.engine).body(group.manifest_digest)
    assert body is not None
    manifest = Manifest.from_json(body)
    terms = asset_terms(manifest, manifest.digest(), group.asset_id)
    dearer = dataclasses.replace(terms.split, price_per_unit=PRICE * 10)
    await setup.chain.send(CREATOR, splitter.address, splitter.set_split_data(dearer, 2))
    settler = _settler(setup)
    await settler.step()
    holds = await store.holds(buyer=address_of(BUYER))
    assert [h.asset_key for h in holds] == [group.asset_key]
    assert "does not carry the terms" in holds[0].reason
    await _wait_confirmed(settler, store)
    # The other assets settle; the changed one is not charged at the new price.
    spent = (await splitter.account(address_of(BUYER), "ETH")).spent
    assert spent == setup.expected - group.units * PRICE


async def _wait_confirmed(settler: Settler, store: UsageStore) -> None:
    for _ in range(200):
        await settler.step()
        if not await store.settlements([SettlementStatus.PREPARED, SettlementStatus.SUBMITTED]):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not confirmed")
