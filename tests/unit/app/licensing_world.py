"""A small world for the RSL publisher and the OLP licence server: one creator's
anchored manifest of three assets (priced, free, priced with no RSL licence), the
statements about them held in memory, a buyer wallet with a fake splitter account,
and the licence server's tables on a fresh SQLite database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app.histories import HeldHistories
from ledger.app.licence_server import LicenceServer
from ledger.app.olp_funds import SplitterFunds
from ledger.app.olp_keys import OlpKeys
from ledger.app.rsl import RslPublisher
from ledger.chain.contracts.splitter import BuyerAccount
from ledger.core.canonical import canonicalize
from ledger.core.manifest import Manifest
from ledger.core.royalty.terms import AssetTerms, asset_terms
from ledger.core.rsl import REGISTER_TAG
from ledger.core.signing import EthSigningKey, P256SigningKey, sign_manifest, sign_message
from ledger.core.statements import Statement, sign_statement
from ledger.storage.engine import open_engine
from ledger.storage.licence_server import LicenceServerStore
from ledger.storage.models import Base
from ledger.storage.published import PublishedAsset
from ledger.storage.usage import UsageStore

CREATOR_KEY = "0x" + "c1" * 32
BUYER_KEY = "0x" + "b1" * 32
BUYER = str(Account.from_key(BUYER_KEY).address)
OTHER_BUYER = str(Account.from_key("0x" + "b2" * 32).address)
STATEMENT_KEY = P256SigningKey.from_secret(0x6F6C70_31)
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
BASE = "https://ledger.example"
#: The licence server the world's RSL documents name, which registrations are for.
SERVER = BASE + "/olp"
NOTICE_MS = 60_000
CONFIRMED_AT = 1_700_000_000_000
PRICE = 1_000


def manifest() -> Manifest:
    """``creator:a``'s manifest: a priced training asset with a url, a free cc-by one
    fetched through the url pattern, and a priced one under an id RSL does not know."""
    assets = [
        {"id": "asset:a-0", "type": "image/png", "hash": "sha256:" + "0a" * 32,
         "url": "https://cdn.example/a0.png", "licenses": ["non-exclusive-training"],
         "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH", "unit": "sample",
                        "amount": str(PRICE)}},
        {"id": "asset:a-1", "type": "image/png", "hash": "sha256:" + "1b" * 32,
         "licenses": ["cc-by-4.0"], "attribution": "A. Person"},
        {"id": "asset:a-2", "type": "image/png", "hash": "sha256:" + "2c" * 32,
         "url": "https://cdn.example/a2.png", "licenses": ["house-licence-7"],
         "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH", "unit": "sample",
                        "amount": "5"}},
    ]
    doc = sign_manifest({"manifestVersion": "1.0", "creator": {
        "id": "creator:a", "wallet": str(Account.from_key(CREATOR_KEY).address)},
        "assets": assets}, EthSigningKey.from_hex(CREATOR_KEY))
    return Manifest.from_obj(doc)


class FakePublished:
    """The anchored assets of one manifest."""

    def __init__(self, m: Manifest) -> None:
        self.rows = [PublishedAsset(m.digest(), i, a.id, canonicalize(a.to_obj()),
                                    "creator:a", CONFIRMED_AT) for i, a in enumerate(m.assets)]

    async def assets(self, *, creator_id: str | None = None,
                     manifest_digest: bytes | None = None, asset_index: int | None = None,
                     limit: int = 100_000) -> list[PublishedAsset]:
        return [r for r in self.rows if creator_id in (None, r.creator_id)
                and manifest_digest in (None, r.manifest_digest)
                and asset_index in (None, r.asset_index)][:limit]


class FakeTerms:
    """`TermsBook.asset_terms` over the one manifest."""

    def __init__(self, m: Manifest) -> None:
        self._m = m

    async def asset_terms(self, digest: bytes, asset_id: str, where: str = "asset"
                          ) -> AssetTerms:
        return asset_terms(self._m, digest, asset_id, where)


@dataclass
class FakeSplitter:
    """The two splitter reads the funds check makes."""

    accounts: dict[str, BuyerAccount] = field(default_factory=dict)
    max_price: int = 2**96 - 1

    async def account(self, buyer: str, token: str) -> BuyerAccount:
        return self.accounts.get(buyer, BuyerAccount(0, 0, 0, 0, 0, 0, 0, False, 0))

    async def max_price_per_unit(self, buyer: str, token: str, asset_key: bytes) -> int:
        return self.max_price

    def fund(self, buyer: str, deposit: int, *, cap: int = 2**128 - 1, spent: int = 0) -> None:
        self.accounts[buyer] = BuyerAccount(deposit, spent, cap, 0, 0, 0, 0, False, 0)


@dataclass
class LicensingWorld:
    """Everything the licensing tests touch."""

    engine: AsyncEngine
    manifest: Manifest
    held: HeldHistories
    splitter: FakeSplitter
    publisher: RslPublisher
    server: LicenceServer
    keys: OlpKeys

    @classmethod
    async def open(cls, tmp_path: Path, *, lifetime_s: int = 300,
                   rotation_s: int = 86_400) -> LicensingWorld:
        engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        m = manifest()
        held = HeldHistories(notice_ms=NOTICE_MS)
        publisher = RslPublisher(FakePublished(m), held, base_url=BASE, chain_id=31337,
                                 asset_url="https://cdn.example/by-hash/{sha256}",
                                 refresh_s=0)
        store = LicenceServerStore(engine)
        keys = OlpKeys(store, lifetime_ms=lifetime_s * 1000, rotation_ms=rotation_s * 1000,
                       reload_s=0)
        splitter = FakeSplitter()
        splitter.fund(BUYER, 10 * PRICE)
        funds = SplitterFunds(splitter, UsageStore(engine))  # type: ignore[arg-type]
        server = LicenceServer(store, keys, publisher, held, FakeTerms(m),  # type: ignore[arg-type]
                               funds, lifetime_s=lifetime_s)
        return cls(engine, m, held, splitter, publisher, server, keys)

    def statement(self, kind: str, at: int, assets: Sequence[int] = (0,), **members: Any
                  ) -> Statement:
        """A signed statement about assets of the manifest, held at once."""
        obj = {"type": kind, "deployment": DEPLOYMENT, "issuedAt": at,
               "target": {"manifestDigest": self.manifest.digest_hex(),
                          "assetIds": [self.manifest.assets[i].id for i in assets]},
               **members}
        statement = Statement.from_obj(sign_statement(obj, STATEMENT_KEY))
        self.held.add(statement)
        return statement


def registration(at: int, *, key: str = BUYER_KEY, name: str = "crawler",
                 server: str | None = SERVER, tag: str = REGISTER_TAG) -> dict[str, Any]:
    """A registration body for licence server ``server`` (None: the retired form that
    names none) signed by the wallet of ``key`` under ``tag``."""
    wallet = str(Account.from_key(key).address)
    body: dict[str, Any] = {"wallet": wallet, "name": name, "issuedAt": at}
    if server is not None:
        body["server"] = server
    body["signature"] = sign_message(tag, canonicalize(body), EthSigningKey.from_hex(key))
    return body


LICENCE = ('<license xmlns="https://rslstandard.org/rsl">'
           '<permits type="usage">{}</permits></license>')
