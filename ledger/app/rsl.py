"""RSL documents of anchored assets, as their lifecycle stands at a time (issue 19).

An asset is offered when its manifest is confirmed on chain, it has a URL (its entry's
``url``, else the operator's pattern with ``{sha256}``), one of its licences in force
maps to an RSL usage (`ledger.core.rsl.LICENCE_USAGES`), it is free or priced per use,
and its history does not refuse usage at that time: a revoked, withdrawn or taken-down
asset leaves every document at its effective time. The same offers answer the licence
server's "which asset is this resource?".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ledger.app.histories import Histories
from ledger.core.assets import Asset
from ledger.core.hashing import to_hex
from ledger.core.licence_status import REVOKED, TAKEN_DOWN, WITHDRAWN, History
from ledger.core.royalty.terms import Price, price_of
from ledger.core.rsl import ContentEntry, document, payment_of, robots_line, usages_of
from ledger.errors import ValidationError
from ledger.storage.published import PublishedAsset

_GONE = (REVOKED, TAKEN_DOWN, WITHDRAWN)


class Published(Protocol):
    """Anchored assets (`ledger.storage.published.PublishedAssets`)."""

    async def assets(self, *, creator_id: str | None = None,
                     manifest_digest: bytes | None = None, asset_index: int | None = None,
                     limit: int = 100_000) -> list[PublishedAsset]:
        """Anchored assets, filtered as asked."""


@dataclass(frozen=True)
class Offer:
    """One asset as offered at a time: its row, its entry with the terms then in force,
    the URL it is fetched at, the RSL usages it grants, its per-use price (None: free)
    and when its licence last changed (ms)."""

    published: PublishedAsset
    asset: Asset
    url: str
    usages: frozenset[str]
    price: Price | None
    lastmod_ms: int

    @property
    def licence_ids(self) -> tuple[str, ...]:
        """The asset's licence ids in force, as written."""
        return _licence_ids(self.asset)


class RslPublisher:
    """RSL documents for a creator, a manifest or the whole marketplace."""

    def __init__(self, published: Published, histories: Histories, *, base_url: str,
                 chain_id: int, asset_url: str | None = None, refresh_s: float = 5.0) -> None:
        self._published = published
        self._histories = histories
        self.base_url = base_url.rstrip("/")
        self._chain_id = chain_id
        self._asset_url = asset_url
        self._refresh_s = refresh_s
        self._by_url: dict[str, PublishedAsset] = {}
        self._indexed = float("-inf")

    @property
    def server(self) -> str:
        """The licence server every document names (OLP endpoints under it)."""
        return f"{self.base_url}/olp"

    @property
    def marketplace_url(self) -> str:
        """Where the marketplace document is served."""
        return f"{self.base_url}/rsl.xml"

    def manifest_url(self, manifest_digest: bytes) -> str:
        """Where one manifest's document is served."""
        return f"{self.base_url}/rsl/manifests/{to_hex(manifest_digest)}.xml"

    def robots_txt(self) -> str:
        """A ``robots.txt`` that points crawlers at the marketplace document."""
        return f"User-agent: *\nAllow: /\n{robots_line(self.marketplace_url)}\n"

    async def document(self, at: int, *, creator_id: str | None = None,
                       manifest_digest: bytes | None = None) -> bytes:
        """The RSL document of what is offered at ``at`` (ms), filtered as asked."""
        offers = await self.offers(at, creator_id=creator_id, manifest_digest=manifest_digest)
        return document((self._entry(o) for o in offers), self.server)

    async def offers(self, at: int, *, creator_id: str | None = None,
                     manifest_digest: bytes | None = None) -> list[Offer]:
        """Every anchored asset offered at ``at``, filtered as asked."""
        rows = await self._published.assets(creator_id=creator_id,
                                            manifest_digest=manifest_digest)
        offers = [await self.offer(row, at) for row in rows]
        return [offer for offer in offers if offer is not None]

    async def offer(self, row: PublishedAsset, at: int) -> Offer | None:
        """The asset as offered at ``at``, or None when it is not (see the module)."""
        history = await self._histories.history(row.manifest_digest, row.asset_id)
        if history.status(at).state in _GONE:
            return None
        asset = _in_force(row.entry, history.terms_at(at))
        url = self._url_of(asset)
        usages = _usages(asset)
        if url is None or not usages:
            return None
        if asset.price_model is None:
            price = None
        else:
            try:
                price = price_of(asset)
            except ValidationError:
                return None  # sold otherwise (one-time, subscription): not through OLP
        return Offer(row, asset, url, usages, price, _lastmod(row, history, at))

    async def offered(self, manifest_digest: bytes, asset_index: int, at: int) -> bool:
        """Whether asset ``asset_index`` of the manifest is offered at ``at`` (licensable
        through the licence server)."""
        rows = await self._published.assets(manifest_digest=manifest_digest,
                                            asset_index=asset_index, limit=1)
        return bool(rows) and await self.offer(rows[0], at) is not None

    async def resolve(self, resource: str) -> PublishedAsset | None:
        """The anchored asset fetched at URL ``resource``, or None. The URL index is
        rebuilt at most every ``refresh_s`` (new anchors), and at once on a miss."""
        stale = time.monotonic() - self._indexed
        if stale >= self._refresh_s or (resource not in self._by_url
                                        and stale >= min(self._refresh_s, 1.0)):
            await self._reindex()
        return self._by_url.get(resource)

    async def _reindex(self) -> None:
        index: dict[str, PublishedAsset] = {}
        for row in await self._published.assets():
            asset = Asset.from_obj(orjson.loads(row.entry))
            url = self._url_of(asset)
            if url is not None and _usages(asset):
                index.setdefault(url, row)
        self._by_url = index
        self._indexed = time.monotonic()

    def _url_of(self, asset: Asset) -> str | None:
        if asset.url is not None:
            return asset.url
        if self._asset_url is None:
            return None
        return self._asset_url.replace("{sha256}", asset.hash[len("sha256:"):])

    def _entry(self, offer: Offer) -> ContentEntry:
        row = offer.published
        terms = (f"{self.base_url}/v1/manifests/{to_hex(row.manifest_digest)}/assets/"
                 f"{row.asset_index}/status")
        return ContentEntry(offer.url, offer.usages, payment_of(offer.price, self._chain_id),
                            offer.asset.attribution or row.creator_id, terms, offer.lastmod_ms)


def _licence_ids(asset: Asset) -> tuple[str, ...]:
    return tuple(lic if isinstance(lic, str) else lic.id for lic in asset.licenses)


def _usages(asset: Asset) -> frozenset[str]:
    return usages_of(_licence_ids(asset))


def _in_force(entry: bytes, amended: dict[str, Any]) -> Asset:
    """The asset entry with the amended terms in force laid over it."""
    obj = orjson.loads(entry)
    obj.update(amended)
    return Asset.from_obj(obj)


def _lastmod(row: PublishedAsset, history: History, at: int) -> int:
    """When the asset's licence last changed by ``at``: its anchoring or a statement."""
    times = [row.confirmed_at]
    for statement in history.valid:
        if statement.issued_at <= at:
            times.append(statement.issued_at)
        if statement.effective_at is not None and statement.effective_at <= at:
            times.append(statement.effective_at)
    return max(times)
