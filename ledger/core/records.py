"""The service's records as plain values: what repositories return and handlers show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ledger.core.receipt import Receipt


class BatchStatus(StrEnum):
    """Where a batch stands on its way to the chain. Manifests inherit it."""

    SEALED = "batched"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"


PENDING = "pending"


class BatchKind(StrEnum):
    """What a batch's leaves are the digests of (every kind shares one number sequence)."""

    MANIFESTS = "manifests"
    USAGE_EVENTS = "usage-events"
    CREATOR_RECORDS = "creator-records"
    STATEMENTS = "statements"
    LICENCE_SNAPSHOTS = "licence-snapshots"


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
    #: The intake receipt, signed once and stored with the manifest; None for a
    #: manifest stored before receipts were, until it is first read.
    receipt: Receipt | None = None


@dataclass(frozen=True)
class NewManifest:
    """A verified manifest ready to be stored, with its receipt when already signed."""

    digest: bytes
    creator_id: str
    signing_key: str
    body: bytes
    accepted_at: int
    receipt: Receipt | None = None


def stored_answers(
    manifests: Sequence[NewManifest], created: set[bytes], known: dict[bytes, ManifestRecord]
) -> list[tuple[ManifestRecord, bool]]:
    """Each manifest's record after one intake write, and whether that write created it.

    `created` holds the digests the write inserted, `known` the records of those
    stored before; a digest repeated within `manifests` is created once.
    """
    new: dict[bytes, ManifestRecord] = {}
    out = []
    for m in manifests:
        if m.digest in created and m.digest not in new:
            new[m.digest] = ManifestRecord(
                m.digest, m.creator_id, m.signing_key, m.accepted_at, None, None, PENDING,
                m.receipt,
            )
            out.append((new[m.digest], True))
        else:
            out.append((new.get(m.digest) or known[m.digest], False))
    return out


@dataclass(frozen=True)
class NewCreatorRecord:
    """An accepted creator action as it is stored and anchored: its name, canonical
    JSON (``body``) and record digest (`ledger.core.creators.record_digest`)."""

    action: str
    digest: bytes
    body: bytes


@dataclass(frozen=True)
class CreatorRecord:
    """A stored creator record and where it sits in the pipeline (``status`` as a
    manifest's: pending until batched, then its batch's)."""

    digest: bytes
    creator_id: str
    body: bytes
    accepted_at: int
    batch_number: int | None
    leaf_index: int | None
    status: str


@dataclass(frozen=True)
class StatementRecord:
    """A stored lifecycle statement (`ledger.core.statements`) and where it sits in the
    pipeline (``status`` as a manifest's: pending until batched, then its batch's)."""

    digest: bytes
    manifest_digest: bytes
    type: str
    body: bytes
    accepted_at: int
    batch_number: int | None
    leaf_index: int | None
    status: str
