"""Manifest intake: verify, then store durably with group commit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ledger.core.manifest import Manifest
from ledger.core.records import ManifestRecord, NewManifest
from ledger.core.signing import verify_manifest
from ledger.errors import LedgerError, ValidationError
from ledger.service.group_commit import GroupCommitWriter
from ledger.storage.creators import CreatorKey, CreatorStore
from ledger.storage.manifests import ManifestStore

IntakeWriter = GroupCommitWriter[NewManifest, tuple[ManifestRecord, bool]]


def intake_writer(store: ManifestStore) -> IntakeWriter:
    """The group-commit writer of accepted manifests."""
    return GroupCommitWriter(store.add, name="intake-writer", max_group=20_000)


class CreatorKeys:
    """Creator keys looked up and cached for a moment.

    Changes made through this process clear the entry at once; a change made
    by another replica is seen within `ttl_s` (a revoked key may sign for at
    most that long after its revocation reaches the database).
    """

    def __init__(self, store: CreatorStore, *, ttl_s: float = 2.0) -> None:
        self._store = store
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, list[CreatorKey] | None]] = {}
        self._loads: dict[str, asyncio.Task[list[CreatorKey] | None]] = {}

    async def get(self, creator_id: str) -> list[CreatorKey] | None:
        """The creator's keys, or None if the creator is unknown."""
        cached = self._cache.get(creator_id)
        if cached is not None and time.monotonic() <= cached[0]:
            return cached[1]
        # Every request that finds the entry expired waits for one lookup: under
        # load, dozens arrive within one query's time and would each query.
        load = self._loads.get(creator_id)
        if load is None:
            load = asyncio.create_task(self._load(creator_id))
            load.add_done_callback(_retrieve)
            self._loads[creator_id] = load
        # Shielded: one waiter's cancellation must not cancel the others' lookup.
        return await asyncio.shield(load)

    async def _load(self, creator_id: str) -> list[CreatorKey] | None:
        expires = time.monotonic() + self._ttl
        try:
            keys = await self._store.keys(creator_id)
        finally:
            current = self._loads.get(creator_id) is asyncio.current_task()
            if current:
                del self._loads[creator_id]
        if current:  # else `forget` ran meanwhile and this result may predate the change
            self._cache[creator_id] = (expires, keys)
        return keys

    def forget(self, creator_id: str) -> None:
        """Drop a cached entry after the creator's keys changed."""
        self._cache.pop(creator_id, None)
        self._loads.pop(creator_id, None)


def _retrieve(task: asyncio.Task[Any]) -> None:
    # A lookup whose waiters were all cancelled still has its error read, so
    # asyncio does not log it as never retrieved; the waiters saw it otherwise.
    if not task.cancelled():
        task.exception()


def now_ms() -> int:
    """Wall-clock time in integer milliseconds."""
    return time.time_ns() // 1_000_000


async def verify_for_intake(
    obj: Any, keys: CreatorKeys, *, field: str = "", clock: Callable[[], int] = now_ms
) -> NewManifest:
    """Validate and verify one parsed manifest; raise LedgerError naming the problem."""
    try:
        manifest = Manifest.from_obj(obj)
        verify_manifest(manifest)
    except LedgerError as exc:
        if field:
            exc.field = f"{field}.{exc.field}" if exc.field else field
        raise
    creator_id = manifest.creator.id
    now = clock()
    creator_keys = await keys.get(creator_id)
    if creator_keys is None:
        raise ValidationError(
            f"creator {creator_id} is not registered (POST /v1/creators first)",
            field=_join(field, "creator.id"),
        )
    signing_key = manifest.creator.signing_key
    assert signing_key is not None  # verify_manifest refuses an unsigned draft
    if not any(k.public_key == signing_key and k.valid_at(now) for k in creator_keys):
        raise ValidationError(
            f"signing key is not a valid key of {creator_id} (unknown or revoked)",
            field=_join(field, "creator.signingKey"),
        )
    return NewManifest(
        digest=manifest.digest(),
        creator_id=creator_id,
        signing_key=signing_key,
        body=manifest.to_json(),
        accepted_at=now,
    )


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
