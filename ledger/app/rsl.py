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
from collections import OrderedDict
from collections.abc import Sequence
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
#: Later than any time a statement names: a document nothing will change by time alone.
_NEVER = 2**63


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


class Versions(Protocol):
    """What moves whenever the published assets or the statements about them may have
    changed (`ledger.storage.published.PublishedAssets.version`)."""

    async def version(self) -> tuple[int, ...]:
        """The current version."""


@dataclass(frozen=True)
class _Kept:
    """A document as built at ``since`` (ms) under ``version``; the same until ``until``,
    the first time after ``since`` at which a statement about a listed asset (or one
    left out) takes effect."""

    body: bytes
    version: tuple[int, ...]
    since: int
    until: int


class RslPublisher:
    """RSL documents for a creator, a manifest or the whole marketplace. Given
    ``versions``, the last ``kept`` documents asked for are kept and served again while
    the version stands and no statement about their assets has taken effect since: a
    document costs one small read, not a replay of every listed asset, however often it
    is fetched."""

    def __init__(self, published: Published, histories: Histories, *, base_url: str,
                 chain_id: int, asset_url: str | None = None, refresh_s: float = 5.0,
                 versions: Versions | None = None, kept: int = 256) -> None:
        self._published = published
        self._versions = versions
        self._kept_most = kept
        self._kept: OrderedDict[tuple[str | None, bytes | None], _Kept] = OrderedDict()
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
        if self._versions is None:
            return (await self._build(at, creator_id, manifest_digest)).body
        key = (creator_id, manifest_digest)
        # Read before building: a change racing the build moves it, and the next
        # request builds again.
        version = await self._versions.version()
        kept = self._kept.get(key)
        if kept is not None and kept.version == version and kept.since <= at < kept.until:
            self._kept.move_to_end(key)
            return kept.body
        kept = await self._build(at, creator_id, manifest_digest, version)
        self._kept[key] = kept
        self._kept.move_to_end(key)
        if len(self._kept) > self._kept_most:
            self._kept.popitem(last=False)
        return kept.body

    async def _build(self, at: int, creator_id: str | None, manifest_digest: bytes | None,
                     version: tuple[int, ...] = ()) -> _Kept:
        rows, histories = await self._histories_of(creator_id, manifest_digest)
        offers = self._offers(rows, histories, at)
        body = document((self._entry(o) for o in offers), self.server)
        return _Kept(body, version, at, _next_change(histories, at))

    async def offers(self, at: int, *, creator_id: str | None = None,
                     manifest_digest: bytes | None = None) -> list[Offer]:
        """Every anchored asset offered at ``at``, filtered as asked."""
        rows, histories = await self._histories_of(creator_id, manifest_digest)
        return self._offers(rows, histories, at)

    async def _histories_of(self, creator_id: str | None, manifest_digest: bytes | None
                            ) -> tuple[list[PublishedAsset], list[History]]:
        rows = await self._published.assets(creator_id=creator_id,
                                            manifest_digest=manifest_digest)
        # Every history read at once: one asset at a time, a marketplace document read
        # the statements of each manifest and each entry's notice one query after another.
        histories = await self._histories.histories(
            [(row.manifest_digest, row.asset_id, row.entry) for row in rows])
        return rows, histories

    def _offers(self, rows: Sequence[PublishedAsset], histories: Sequence[History], at: int
                ) -> list[Offer]:
        offers = (self._offer(row, history, at)
                  for row, history in zip(rows, histories, strict=True))
        return [offer for offer in offers if offer is not None]

    async def offer(self, row: PublishedAsset, at: int) -> Offer | None:
        """The asset as offered at ``at``, or None when it is not (see the module)."""
        history = await self._histories.history(row.manifest_digest, row.asset_id)
        return self._offer(row, history, at)

    def _offer(self, row: PublishedAsset, history: History, at: int) -> Offer | None:
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


def _next_change(histories: Sequence[History], at: int) -> int:
    """The first time after ``at`` at which what these assets' statements say may change
    what is offered: a statement's issue or effect, an exclusivity's start or end (a
    revocation's, withdrawal's or decision's, an amendment's). Until then every asset's
    status, terms and ``lastmod`` are as at ``at``."""
    times = (t for history in histories for s in history.valid
             for t in (s.issued_at, s.effective_at, s.start, s.end)
             if t is not None and t > at)
    return min(times, default=_NEVER)


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
