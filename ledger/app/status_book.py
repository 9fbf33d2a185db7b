"""The lifecycle history of any asset, from the stored statements: what usage intake, the
dataset check and the status routes ask "may this asset be used at that time?".

Statements are read once per manifest and kept, with each asset's replayed history. A
statement accepted in this process forgets its manifest at once (`forget`); one accepted
by another replica is noticed within `refresh_s`: the book asks the database, at most
that often and only when asked for a history, which statements are new since it last
looked. Manifests nothing was said about cost one indexed read, then nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence

import orjson

from ledger.core.licence_status import DEFAULT_NOTICE_MS, AssetRef, History, notice_ms
from ledger.core.statements import Statement
from ledger.storage.assets import AssetStore
from ledger.storage.statements import StatementStore

#: How many manifests' statements (and their assets' histories) are kept.
DEFAULT_CAPACITY = 4096
# How many replayed histories are kept of one manifest (a library has millions of assets).
_HISTORIES = 65536


class StatusBook:
    """Histories of assets over the stored statements, cached (a `Histories`)."""

    def __init__(self, store: StatementStore, assets: AssetStore, *, refresh_s: float = 1.0,
                 capacity: int = DEFAULT_CAPACITY) -> None:
        self._store = store
        self._assets = assets
        self._refresh_s = refresh_s
        self._capacity = capacity
        self._manifests: OrderedDict[bytes, _Manifest] = OrderedDict()
        # Counts `forget`s: a load that overlapped one may predate its statement.
        self._forgotten = 0
        self._seen: int | None = None
        self._checked = float("-inf")
        self._refreshing = asyncio.Lock()

    async def history(self, manifest_digest: bytes, asset_id: str) -> History:
        """The asset's history: every stored statement about it, replayed (an empty
        history when nothing was said about it)."""
        held = await self._manifest(manifest_digest)
        found = held.histories.get(asset_id)
        if found is None:
            covering = held.said.about(asset_id)
            notice = await self._notice(manifest_digest, asset_id) if covering else 0
            found = History(AssetRef(manifest_digest, asset_id, notice), covering)
            if len(held.histories) >= _HISTORIES:
                held.histories.clear()
            held.histories[asset_id] = found
        return found

    async def histories(self, assets: Sequence[tuple[bytes, str, bytes]]) -> list[History]:
        """The histories of many assets, each given as (manifest digest, asset id, stored
        entry), in their order. What is kept answers for its manifests; the statements
        about the other assets are read at once (`StatementStore.bodies_about`) and each
        notice taken from the entry given: an RSL document of a whole marketplace costs a
        few reads, not one per manifest and asset. Nothing read here is kept (it holds
        only the statements about the assets asked)."""
        await self._refresh()
        kept = {digest: held for digest, _, _ in assets
                if (held := self._manifests.get(digest)) is not None}
        missing = [(digest, asset_id) for digest, asset_id, _ in assets if digest not in kept]
        read = await self._store.bodies_about(missing) if missing else {}
        said = {digest: Said(read.get(digest, ())) for digest in dict(missing)}
        out = []
        for digest, asset_id, entry in assets:
            held = kept.get(digest)
            found = None if held is None else held.histories.get(asset_id)
            if found is None:
                covering = (said[digest] if held is None else held.said).about(asset_id)
                notice = notice_ms(orjson.loads(entry)) if covering else 0
                found = History(AssetRef(digest, asset_id, notice), covering)
            out.append(found)
        return out

    def forget(self, manifest_digest: bytes) -> None:
        """Drop what is kept of a manifest: a statement about it was just stored."""
        self._manifests.pop(manifest_digest, None)
        self._forgotten += 1

    async def _manifest(self, manifest_digest: bytes) -> _Manifest:
        await self._refresh()
        held = self._manifests.get(manifest_digest)
        if held is not None:
            self._manifests.move_to_end(manifest_digest)
            return held
        forgotten = self._forgotten
        held = _Manifest(Said(await self._store.bodies(manifest_digest)))
        if forgotten != self._forgotten:
            return held  # answer with it, but keep nothing that may be stale
        self._manifests[manifest_digest] = held
        if len(self._manifests) > self._capacity:
            self._manifests.popitem(last=False)
        return held

    async def _notice(self, manifest_digest: bytes, asset_id: str) -> int:
        entry = await self._assets.entry_by_id(manifest_digest, asset_id)
        return DEFAULT_NOTICE_MS if entry is None else notice_ms(orjson.loads(entry))

    async def _refresh(self) -> None:
        """Forget the manifests other replicas stored statements about since the last look."""
        if time.monotonic() - self._checked < self._refresh_s:
            return
        async with self._refreshing:
            if time.monotonic() - self._checked < self._refresh_s:
                return
            if self._seen is None:
                self._seen = await self._store.latest_seq()
            else:
                self._seen, changed = await self._store.changed_since(self._seen)
                for digest in changed:
                    self.forget(digest)
            self._checked = time.monotonic()


class Said:
    """One manifest's stored statements, by the assets they target. Each is parsed the
    first time an asset it targets is asked about: a manifest with many statements about
    other assets costs reading their targets, not parsing them."""

    def __init__(self, bodies: Sequence[bytes]) -> None:
        self._bodies = bodies
        self._whole: list[int] = []
        self._by_asset: dict[str, list[int]] = {}
        self._parsed: dict[int, Statement] = {}
        for n, body in enumerate(bodies):
            ids: list[str] | None = orjson.loads(body)["target"].get("assetIds")
            if ids is None:
                self._whole.append(n)
            for asset_id in ids or ():
                self._by_asset.setdefault(asset_id, []).append(n)

    def about(self, asset_id: str) -> list[Statement]:
        """The statements that target this asset, in acceptance order."""
        named = self._by_asset.get(asset_id)
        if named is None:
            picked = self._whole
        elif not self._whole:
            picked = named
        else:
            picked = sorted((*self._whole, *named))
        return [self._parse(n) for n in picked]

    def _parse(self, n: int) -> Statement:
        found = self._parsed.get(n)
        if found is None:
            found = self._parsed[n] = Statement.from_stored(self._bodies[n])
        return found


class _Manifest:
    """One manifest's statements, and its assets' histories as replayed so far."""

    def __init__(self, said: Said) -> None:
        self.said = said
        self.histories: dict[str, History] = {}
