"""Where the lifecycle histories of assets come from, for the use cases that ask
"may this asset be used at that time?" (usage intake).

The statements service's `StatusBook` is the one the service runs with; `HeldHistories`
replays statements held in memory (tests, benchmarks, a verifier's own replay).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

from ledger.core.licence_status import DEFAULT_NOTICE_MS, AssetRef, History
from ledger.core.statements import Statement


class Histories(Protocol):
    """The anchored (or accepted) statements about one asset, replayed."""

    async def history(self, manifest_digest: bytes, asset_id: str) -> History:
        """The asset's history; an empty one when nothing was said about it."""

    async def histories(self, assets: Sequence[tuple[bytes, str, bytes]]) -> list[History]:
        """The histories of many assets at once, in their order, each asset given as
        (manifest digest, asset id, its stored canonical entry)."""


class HeldHistories:
    """Histories over statements held in memory, each asset with the same notice."""

    def __init__(self, statements: Iterable[Statement] = (), *,
                 notice_ms: int = DEFAULT_NOTICE_MS) -> None:
        self._notice_ms = notice_ms
        self._by_manifest: dict[bytes, list[Statement]] = defaultdict(list)
        for statement in statements:
            self.add(statement)

    def add(self, statement: Statement) -> None:
        """Hold one more statement."""
        self._by_manifest[statement.target.manifest_digest].append(statement)

    async def history(self, manifest_digest: bytes, asset_id: str) -> History:
        """The asset's history from the statements held about its manifest."""
        return History(AssetRef(manifest_digest, asset_id, self._notice_ms),
                       self._by_manifest.get(manifest_digest, ()))

    async def histories(self, assets: Sequence[tuple[bytes, str, bytes]]) -> list[History]:
        """Each asset's `history` (the entries are not needed: one notice for all)."""
        return [await self.history(digest, asset_id) for digest, asset_id, _ in assets]
