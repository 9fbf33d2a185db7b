"""A creator, a buyer, a meter and the fake chain, over a fresh SQLite database.

`World.open` signs and anchors a manifest of priced assets, registers their splits on
the fake splitter and funds the buyer; `meter` stores usage events and anchors them
as a usage batch; `settler` builds a settler and sender as a (re)started service
would, on the same database and journal.
"""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP, RoyaltySplitter, UsageItem
from ledger.chain.rpc import RevertDecoder
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SendPolicy
from ledger.core.manifest import Manifest
from ledger.core.merkle import MerkleTree, join_levels
from ledger.core.records import AnchorInfo, NewManifest
from ledger.core.royalty.events import NewUsage, UsageEvent, event_digest
from ledger.core.royalty.settlement import Proposal
from ledger.core.royalty.terms import ETH_TOKEN, AssetTerms, asset_terms
from ledger.core.signing import EthSigningKey, sign_manifest
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.schema import upgrade
from ledger.storage.txdocs import TxDocStore
from ledger.storage.usage import UsageStore
from ledger.workers.settler import Settler
from ledger.workers.tx_journal import DatabaseJournal
from tests.fakes.node import CHAIN_ID, SPLITTER, FakeNode, FakeWeb3

CREATOR_KEY = "0x" + "c1" * 32
BUYER_KEY = "0x" + "b1" * 32
BUYER = str(Account.from_key(BUYER_KEY).address)
OTHER_BUYER = str(Account.from_key("0x" + "b2" * 32).address)
METER_KEY = "0x" + "e1" * 32
#: Confirmed at one block, final two blocks deeper.
POLICY = SendPolicy(confirmations=1, reorg_window=2, poll_interval=0.01, max_backoff=0.01)


def priced_manifest(prices: Sequence[int], *, unit: str = "sample") -> Manifest:
    """A manifest of ``creator:a`` signed with its Ethereum key, one asset per price."""
    key = EthSigningKey.from_hex(CREATOR_KEY)
    doc = sign_manifest({
        "manifestVersion": "1.0",
        "creator": {"id": "creator:a", "wallet": str(Account.from_key(CREATOR_KEY).address)},
        "assets": [{"id": f"asset:a-{i}", "type": "image/png", "hash": "sha256:" + f"{i:064x}",
                    "licenses": ["x"],
                    "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                                   "unit": unit, "amount": str(price)}}
                   for i, price in enumerate(prices)],
    }, key)
    return Manifest.from_obj(doc)


@dataclass
class World:
    """Everything a money-path test touches."""

    engine: AsyncEngine
    node: FakeNode
    manifest: Manifest
    terms: list[AssetTerms]
    store: UsageStore
    manifests: ManifestStore
    clock: list[float] = field(default_factory=lambda: [1_800_000_000.0])
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    async def open(cls, tmp_path: Path, prices: Sequence[int] = (1_000, 7, 3 * 10**18), *,
                   unit: str = "sample") -> World:
        """A funded buyer (1,000 ETH, no cap, any price) and the manifest's splits set."""
        engine = await migrated_sqlite(tmp_path / "ledger.db")
        manifest = priced_manifest(prices, unit=unit)
        manifests = ManifestStore(engine)
        await manifests.add([NewManifest(manifest.digest(), "creator:a",
                                         EthSigningKey.from_hex(CREATOR_KEY).public_id,
                                         manifest.to_json(), 1)])
        await _anchor(manifests, await manifests.pending(10), manifests.seal)
        terms = [asset_terms(manifest, manifest.digest(), a.id) for a in manifest.assets]
        world = cls(engine, FakeNode(), manifest, terms, UsageStore(engine), manifests)
        for t in terms:
            world.node.splitter.set_split(t.owner, t.split)
        world.fund(BUYER, 1_000 * 10**18)
        return world

    def fund(self, buyer: str, deposit: int, *, cap: int = NO_CAP,
             max_price: int = ANY_PRICE) -> None:
        """Set the buyer's ETH deposit, spending cap and maximum price of every asset."""
        acct = self.node.splitter.account(buyer, ETH_TOKEN)
        acct.deposit, acct.cap = deposit, cap
        for t in self.terms:
            self.node.splitter.set_max_price(buyer, ETH_TOKEN, t.asset_key, max_price)

    @cached_property
    def splitter(self) -> RoyaltySplitter:
        """The real splitter client, over the fake node."""
        return RoyaltySplitter(FakeWeb3(self.node), SPLITTER,  # type: ignore[arg-type]
                               load_artifact("RoyaltySplitter"))

    def event(self, asset: int, units: int, *, buyer: str = BUYER, source: str = "edge",
              event_id: str | None = None) -> NewUsage:
        """A verified usage event of asset number ``asset``."""
        t = self.terms[asset]
        event = UsageEvent.from_obj({
            "eventId": event_id or f"e:{next(self._ids)}", "buyer": buyer, "units": units,
            "asset": {"manifestDigest": self.manifest.digest_hex(), "assetId": t.asset_id},
            "time": "2026-01-01T00:00:00Z", "source": source})
        body = event.canonical()
        return NewUsage(event.event_id, event_digest(body), body, source, event.buyer,
                        t.creator_id, t.manifest_digest, t.asset_id, t.asset_key,
                        t.price.token, event.units, 0, 1)

    async def meter(self, events: Sequence[NewUsage]) -> int:
        """Store ``events`` and anchor them in one usage batch; returns its number."""
        await self.store.add(events)
        return await _anchor(self.manifests, await self.store.pending(100_000), self.store.seal)

    def settler(self, **options: Any) -> Settler:
        """A fresh settler and sender on the same database: a (re)started service."""
        w3 = FakeWeb3(self.node)
        sender = Sender(w3, Account.from_key(METER_KEY),  # type: ignore[arg-type]
                        DatabaseJournal(TxDocStore(self.engine)), policy=POLICY,
                        decoder=RevertDecoder([load_artifact("RoyaltySplitter").abi]),
                        clock=lambda: self.clock[0])
        return Settler(self.store, self.manifests, self.splitter, sender,
                       key_scope="test", drive_sender=True,
                       clock=lambda: self.clock[0], **options)

    def signature(self, proposal: Proposal) -> bytes:
        """The buyer's EIP-712 signature of ``proposal``, as ``ledger buyer cosign`` makes it."""
        typed = self.splitter.settlement_typed_data(
            CHAIN_ID, proposal.buyer, proposal.token, proposal.usage_root,
            [UsageItem(i.asset_key, i.version, i.units) for i in proposal.items],
            proposal.total, proposal.deadline)
        return bytes(Account.sign_message(encode_typed_data(full_message=typed),
                                          BUYER_KEY).signature)

    def price(self, asset: int) -> int:
        """The per-unit price of asset number ``asset``."""
        return self.terms[asset].price.per_unit

    def spent(self, buyer: str = BUYER) -> int:
        """What the chain charged ``buyer`` in ETH."""
        return self.node.splitter.account(buyer, ETH_TOKEN).spent


async def migrated_sqlite(path: Path) -> AsyncEngine:
    """An engine on a migrated SQLite database at ``path``: a copy of one migrated once
    per test process (the migrations take longer than most of these tests)."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="ledger-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = open_engine(f"sqlite+aiosqlite:///{folder / 'template.db'}")
        await upgrade(template)
        await template.dispose()
        _TEMPLATE.append(folder / "template.db")
    shutil.copyfile(_TEMPLATE[0], path)
    return open_engine(f"sqlite+aiosqlite:///{path}")


_TEMPLATE: list[Path] = []


async def _anchor(manifests: ManifestStore, pending: list[tuple[int, bytes]], seal: Any) -> int:
    tree = MerkleTree([d for _, d in pending])
    batch = await seal([s for s, _ in pending], tree.root, join_levels(tree), 1)
    assert batch is not None
    await manifests.mark_anchored(batch.number, AnchorInfo(bytes(32), 1, bytes(32), 1, 1),
                                  confirmed_at=2)
    return int(batch.number)
