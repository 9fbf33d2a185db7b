"""The service's records as plain values: what repositories return and handlers show."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BatchStatus(StrEnum):
    """Where a batch stands on its way to the chain. Manifests inherit it."""

    SEALED = "batched"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"


PENDING = "pending"


@dataclass(frozen=True)
class AnchorInfo:
    """Where a batch root was anchored."""

    tx_hash: bytes
    block_number: int
    block_hash: bytes
    block_timestamp: int
    gas_used: int


@dataclass(frozen=True)
class BatchRecord:
    """A sealed batch: its tree root, size, state, and anchor once mined."""

    number: int
    root: bytes
    leaf_count: int
    sealed_at: int
    status: BatchStatus
    anchor: AnchorInfo | None
    confirmed_at: int | None


@dataclass(frozen=True)
class ManifestRecord:
    """An accepted manifest and where it sits in the pipeline."""

    digest: bytes
    creator_id: str
    signing_key: str
    accepted_at: int
    batch_number: int | None
    leaf_index: int | None
    status: str


@dataclass(frozen=True)
class NewManifest:
    """A verified manifest ready to be stored."""

    digest: bytes
    creator_id: str
    signing_key: str
    body: bytes
    accepted_at: int
