"""A creator's anchored history: its accepted actions (creator records) with their proofs.

What ``GET /v1/creators/{id}/records`` shows and evidence packages carry
(docs/service.md, "Creator records").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ledger.core.proof import ProofBundle
from ledger.core.records import BatchRecord, CreatorRecord
from ledger.errors import NotFound
from ledger.storage.creator_records import CreatorRecordStore
from ledger.storage.creators import CreatorStore
from ledger.storage.manifests import ManifestStore

#: The bundle of leaf (digest, index) of a batch, anchored once its status is confirmed
#: (`ServiceContext`'s, which keeps the batches' trees).
LeafBundle = Callable[[bytes, int, str, BatchRecord], Awaitable[ProofBundle]]

# Later than any acceptance time: a creator's whole history.
_ALL_TIME = 2**63 - 1


class CreatorHistory:
    """Reads a creator's records with their bundles and batches."""

    def __init__(self, creators: CreatorStore, records: CreatorRecordStore,
                 manifests: ManifestStore, leaf_bundle: LeafBundle) -> None:
        self._creators = creators
        self._records = records
        self._manifests = manifests
        self._leaf_bundle = leaf_bundle

    async def of(
        self, creator_id: str, until_ms: int = _ALL_TIME
    ) -> list[tuple[CreatorRecord, ProofBundle | None, BatchRecord | None]]:
        """The creator's records accepted at or before `until_ms`, in acceptance order,
        each with its bundle (anchored once its batch is confirmed; None while it awaits
        a batch) and its batch; NotFound for an unknown creator."""
        if await self._creators.get(creator_id) is None:
            raise NotFound(f"no creator {creator_id}")
        batches: dict[int, BatchRecord | None] = {}
        out: list[tuple[CreatorRecord, ProofBundle | None, BatchRecord | None]] = []
        for record in await self._records.records_until(creator_id, until_ms):
            batch, bundle = None, None
            if record.batch_number is not None:
                if record.batch_number not in batches:
                    batches[record.batch_number] = await self._manifests.batch(
                        record.batch_number)
                batch = batches[record.batch_number]
            if batch is not None and record.leaf_index is not None:
                bundle = await self._leaf_bundle(record.digest, record.leaf_index,
                                                 batch.status, batch)
            out.append((record, bundle, batch))
        return out

    async def actions(
        self, creator_id: str, until_ms: int
    ) -> list[tuple[dict[str, Any], ProofBundle | None, int]]:
        """`of`, each record as its signed action's JSON object with its acceptance time
        (ms): evidence packages count the records in force at a time from one read."""
        history = await self.of(creator_id, until_ms)
        return [(orjson.loads(record.body), bundle, record.accepted_at)
                for record, bundle, _ in history]
