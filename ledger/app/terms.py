"""The asset terms of stored manifests, computed once per process.

Usage intake, the split-relay and settlement views, and the settler all need
the terms (price, unit, split owner, asset key, split) of an asset named by a
manifest digest. A digest names one manifest forever, so its parsed form and
its assets' terms never go stale: one `TermsBook` per process keeps both.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

import orjson

from ledger.core.assets import Asset
from ledger.core.fields import path
from ledger.core.manifest import AnyManifest, Manifest, ManifestHeader, parse_manifest_json
from ledger.core.royalty.terms import AssetTerms, amended_terms, asset_terms
from ledger.errors import ValidationError

_K = TypeVar("_K")
_V = TypeVar("_V")

CACHE_SIZE = 4096
"""Manifests, and asset terms, kept in memory; the oldest go first."""


class ManifestBodies(Protocol):
    """Where stored manifests are read (`ledger.storage.manifests.ManifestStore`)."""

    async def body(self, digest: bytes) -> bytes | None:
        """The stored JSON of the manifest with this digest, or None."""


class AssetEntries(Protocol):
    """Where a 1.1 manifest's asset entries are read (`ledger.storage.assets.AssetStore`)."""

    async def entry_by_id(self, manifest_digest: bytes, asset_id: str) -> bytes | None:
        """The stored canonical entry of this asset, or None."""


class TermsBook:
    """Stored manifests and their assets' terms, parsed and computed once.

    A 1.1 manifest's assets are not in its stored body (the signed header): the one
    asked about is read from `assets`, which a book without it cannot do.
    """

    def __init__(self, manifests: ManifestBodies, *, assets: AssetEntries | None = None,
                 size: int = CACHE_SIZE) -> None:
        self._manifests = manifests
        self._assets = assets
        self._size = size
        self._parsed: OrderedDict[bytes, AnyManifest] = OrderedDict()
        self._terms: OrderedDict[tuple[bytes, str], AssetTerms] = OrderedDict()

    async def manifest(self, digest: bytes) -> AnyManifest | None:
        """The stored manifest (1.0) or header (1.1) with this digest, or None."""
        manifest = self._parsed.get(digest)
        if manifest is None:
            body = await self._manifests.body(digest)
            if body is None:
                return None
            manifest = parse_manifest_json(body)
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
        if isinstance(manifest, ManifestHeader):
            manifest = await self._disclosed(manifest, digest, asset_id, where)
        terms = asset_terms(manifest, digest, asset_id, where)
        _keep(self._terms, (digest, asset_id), terms, self._size)
        return terms

    async def amended_terms(self, digest: bytes, asset_id: str, source: bytes,
                            terms: Mapping[str, Any]) -> AssetTerms:
        """The terms of asset ``asset_id`` of the stored manifest ``digest`` under the
        amended members ``terms``, as the split version naming the amend statement
        ``source`` carries them (`ledger.core.royalty.terms.amended_terms`)."""
        manifest = await self.manifest(digest)
        if manifest is None:
            raise ValidationError("no manifest with this digest was accepted here",
                                  field="manifestDigest")
        if isinstance(manifest, ManifestHeader):
            manifest = await self._disclosed(manifest, digest, asset_id, "asset")
        return amended_terms(manifest, source, asset_id, terms)


    async def _disclosed(self, header: ManifestHeader, digest: bytes, asset_id: str,
                         where: str) -> Manifest:
        """The one asset's terms need of a 1.1 manifest: its creator and that entry, as a
        manifest of one asset (`asset_terms` reads nothing else of a manifest)."""
        entry = None if self._assets is None else await self._assets.entry_by_id(
            digest, asset_id)
        if entry is None:
            raise ValidationError(f"the manifest has no asset {asset_id}",
                                  field=path(where, "assetId"))
        return Manifest(header.manifest_version, header.creator,
                        (Asset.from_obj(orjson.loads(entry)),))


def _keep(cache: OrderedDict[_K, _V], key: _K, value: _V, size: int) -> None:
    cache[key] = value
    if len(cache) > size:
        cache.popitem(last=False)
