"""Checking one chunk of a 1.1 upload: the CPU-bound part, run in the `Verifier`'s workers.

A chunk body is parsed, every entry validated and hashed, the chunk's leaves and root
computed and its proof checked against the signed ``assetsRoot``, all from the raw
body and the header's facts: nothing here needs storage, so the workers import no
database code, and the event loop only hands the bytes over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.core.asset_tree import asset_leaves, entry_bytes, entry_hashes, verify_chunk
from ledger.core.canonical import parse_strict
from ledger.core.fields import Fields
from ledger.core.manifest import check_format_features
from ledger.core.merkle import MerkleTree
from ledger.errors import LedgerError, ValidationError, each_or_error

_HASH_PREFIX = len("sha256:")


@dataclass(frozen=True)
class ChunkJob:
    """One received chunk and what it must match: its upload's signed facts."""

    body: bytes
    digest: bytes
    assets_root: bytes
    asset_count: int
    chunk_size: int
    index: int
    first: int
    count: int
    manifest_version: str


@dataclass(frozen=True)
class CheckedChunk:
    """A chunk that leads to the signed root: its root, leaves and asset rows
    (manifest digest, index, asset id, content hash, canonical entry)."""

    index: int
    root: bytes
    leaves: bytes
    assets: tuple[tuple[bytes, int, str, bytes, bytes], ...]


def check_chunk(job: ChunkJob) -> CheckedChunk:
    """Check one chunk body against its upload; LedgerError names the field at fault."""
    obj = _parse(job.body)
    if not isinstance(obj, dict) or set(obj) != {"assets", "proof"}:
        raise ValidationError('body must be {"assets": [...], "proof": [...]}', field="assets")
    items = obj["assets"]
    if not isinstance(items, list) or len(items) != job.count:
        got = len(items) if isinstance(items, list) else "no array"
        last = job.first + job.count - 1
        raise ValidationError(
            f"chunk {job.index} holds {job.count} assets (indices {job.first}-{last}), "
            f"got {got}", field="assets")
    proof = _proof(obj)
    entries = [entry_bytes(item, f"assets[{k}]") for k, item in enumerate(items)]
    for k, item in enumerate(items):
        check_format_features(job.manifest_version, item, f"assets[{k}]")
    _unique_ids(items, job.first)
    leaves = asset_leaves(job.first, entry_hashes(entries))
    root = MerkleTree.from_leaf_hashes(leaves).root
    verify_chunk(job.assets_root, job.asset_count, job.chunk_size, job.index, root, proof)
    rows = tuple(
        (job.digest, job.first + k, item["id"], bytes.fromhex(item["hash"][_HASH_PREFIX:]),
         entry)
        for k, (item, entry) in enumerate(zip(items, entries, strict=True))
    )
    return CheckedChunk(job.index, root, leaves, rows)


def check_chunks(jobs: Sequence[ChunkJob]) -> list[CheckedChunk | LedgerError]:
    """`check_chunk` of each job, its LedgerError in its place when it fails."""
    return each_or_error(check_chunk, jobs)


def _parse(body: bytes) -> Any:
    # orjson parses a chunk several times faster than the strict reader; what it lets
    # through that the strict reader refuses (a repeated member: the last wins) cannot
    # matter, because each entry is stored as its canonical bytes only if they hash to
    # the leaf the creator signed. The strict reader names any problem orjson finds.
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return parse_strict(body)


def _proof(obj: dict[str, Any]) -> list[bytes]:
    proof = Fields(obj).array("proof", expected="an array of 0x-prefixed 32-byte hashes")
    return [proof.hex_bytes(k) for k in range(len(proof))]


def _unique_ids(items: Sequence[Any], first: int) -> None:
    seen: dict[str, int] = {}
    for k, item in enumerate(items):
        other = seen.setdefault(item["id"], k)
        if other != k:
            raise ValidationError(
                f"{item['id']} is already the id of assets[{other}] "
                f"(asset {first + other}) in this chunk", field=f"assets[{k}].id")
