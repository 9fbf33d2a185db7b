"""The asset terms of stored manifests, computed once per process.

Usage intake, the split-relay and settlement views, and the settler all need
the terms (price, unit, split owner, asset key, split) of an asset named by a
manifest digest. A digest names one manifest forever, so its parsed form and
its assets' terms never go stale: one `TermsBook` per process keeps both.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol, TypeVar

from ledger.core.manifest import Manifest
from ledger.core.royalty.terms import AssetTerms, asset_terms
from ledger.errors import ValidationError

_K = TypeVar("_K")
_V = TypeVar("_V")

CACHE_SIZE = 4096
"""Manifests, and asset terms, kept in memory; the oldest go first."""


class ManifestBodies(Protocol):
    """Where stored manifests are read (`ledger.storage.manifests.ManifestStore`)."""

    async def body(self, digest: bytes) -> bytes | None:
        """The stored JSON of the manifest with this digest, or None."""


class TermsBook:
    """Stored manifests and their assets' terms, parsed and computed once."""

    def __init__(self, manifests: ManifestBodies, *, size: int = CACHE_SIZE) -> None:
        self._manifests = manifests
        self._size = size
        self._parsed: OrderedDict[bytes, Manifest] = OrderedDict()
        self._terms: OrderedDict[tuple[bytes, str], AssetTerms] = OrderedDict()

    async def manifest(self, digest: bytes) -> Manifest | None:
        """The stored manifest with this digest, or None."""
        manifest = self._parsed.get(digest)
        if manifest is None:
            body = await self._manifests.body(digest)
            if body is None:
                return None
            manifest = Manifest.from_json(body)
            _keep(self._parsed, digest, manifest, self._size)
        return manifest

    async def asset_terms(self, digest: bytes, asset_id: str, where: str = "asset"
                          ) -> AssetTerms:
        """The terms of asset ``asset_id`` of the stored manifest ``digest``.

        ValidationError naming ``where.manifestDigest`` when no such manifest is
        stored, or as `ledger.core.royalty.terms.asset_terms` when the asset cannot be
        metered and settled.
        """
        cached = self._terms.get((digest, asset_id))
        if cached is not None:
            return cached
        manifest = await self.manifest(digest)
        if manifest is None:
            raise ValidationError("no manifest with this digest was accepted here",
                                  field=f"{where}.manifestDigest" if where else "manifestDigest")
        terms = asset_terms(manifest, digest, asset_id, where)
        _keep(self._terms, (digest, asset_id), terms, self._size)
        return terms


def _keep(cache: OrderedDict[_K, _V], key: _K, value: _V, size: int) -> None:
    cache[key] = value
    if len(cache) > size:
        cache.popitem(last=False)
