"""`ledger export proofs DIR`: every final proof bundle and evidence package as static
files, so any static host or CDN can serve them without the service.

Layout (docs/service.md, "Exporting proofs"), digests and hashes in lower-case hex:

    DIR/manifests/<digest>/proof.json                    the manifest's ledger-proof/1
    DIR/manifests/<digest>/assets/<index>/evidence.json  one asset's ledger-evidence/1
    DIR/by-hash/<sha256>.json                            every exported registration of
                                                         those bytes, with its evidence
    DIR/_headers                                         the cache rules, for static hosts

A proof or package is written once its anchors are final, and never again: a file
present is skipped, so a second run writes nothing new. A by-hash file grows as
registrations of its bytes are exported; it is rewritten only when it gains one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ledger.app.evidence import Pending
from ledger.app.provenance import ServiceContext
from ledger.core.canonical import canonicalize
from ledger.core.records import BatchRecord, BatchStatus
from ledger.files import replace_file
from ledger.storage.exports import ExportStore

#: The cache rules of the export for static hosts that read a `_headers` file (Netlify,
#: Cloudflare Pages): proofs and packages never change; a by-hash index may grow.
HEADERS = """\
/manifests/*
  Cache-Control: public, max-age=31536000, immutable
  Content-Type: application/json
/by-hash/*
  Cache-Control: public, max-age=300
  Content-Type: application/json
"""

_BATCH_PAGE = 100


@dataclass
class ExportReport:
    """What one export did."""

    written: int = 0
    present: int = 0
    #: Manifests or assets whose proof is not final yet (the next run may write them).
    pending: int = 0
    #: The registrations of the batch being exported, by content hash.
    by_hash: dict[bytes, list[dict[str, Any]]] = field(default_factory=dict, repr=False)


async def export_proofs(ctx: ServiceContext, store: ExportStore, out: Path) -> ExportReport:
    """Write every final proof and evidence package under `out` (made if missing)."""
    report = ExportReport()
    out.mkdir(parents=True, exist_ok=True)
    after = 0
    while batches := await ctx.manifests.batches(after=after, limit=_BATCH_PAGE):
        for batch in batches:
            await _export_batch(ctx, store, out, batch, report)
            # A batch at a time: a library's million registrations are not all held.
            for content_hash, found in report.by_hash.items():
                _merge_by_hash(out / "by-hash" / f"{content_hash.hex()}.json", content_hash,
                               found, report)
            report.by_hash.clear()
        after = batches[-1].number
    _write_if_changed(out / "_headers", HEADERS.encode(), report)
    return report


async def _export_batch(ctx: ServiceContext, store: ExportStore, out: Path,
                        batch: BatchRecord, report: ExportReport) -> None:
    digests = await store.manifests_in(batch.number)
    anchor = batch.anchor
    if not digests:
        return
    if batch.status != BatchStatus.CONFIRMED or anchor is None or not (
        await ctx.evidence.finality.is_final(anchor.block_number, anchor.block_hash)
    ):
        report.pending += len(digests)
        return
    for digest in digests:
        folder = out / "manifests" / digest.hex()
        await _export_proof(ctx, digest, folder / "proof.json", report)
        after = -1
        while assets := await store.assets(digest, after=after):
            for index, content_hash in assets:
                await _export_evidence(ctx, digest, index, content_hash, out, report)
            after = assets[-1][0]


async def _export_proof(ctx: ServiceContext, digest: bytes, path: Path,
                        report: ExportReport) -> None:
    if path.exists():
        report.present += 1
        return
    found = await ctx.manifests.get_with_batch(digest)
    bundle = None if found is None else await ctx.proof_bundle(*found)
    if bundle is None:
        report.pending += 1
        return
    _write(path, bundle.to_json(), report)


async def _export_evidence(ctx: ServiceContext, digest: bytes, index: int, content_hash: bytes,
                           out: Path, report: ExportReport) -> None:
    relative = f"manifests/{digest.hex()}/assets/{index}/evidence.json"
    path = out / relative
    if path.exists():
        report.present += 1
    else:
        package = await ctx.evidence.evidence(digest, index)
        if isinstance(package, Pending):
            report.pending += 1
            return
        _write(path, package.to_json(), report)
    report.by_hash.setdefault(content_hash, []).append({
        "manifestDigest": "0x" + digest.hex(),
        "assetIndex": index,
        "evidence": relative,
    })


def _merge_by_hash(path: Path, content_hash: bytes, found: list[dict[str, Any]],
                   report: ExportReport) -> None:
    """The by-hash index of these bytes: the registrations it listed, then the new ones."""
    listed: list[dict[str, Any]] = []
    if path.exists():
        listed = orjson.loads(path.read_bytes())["registrations"]
    listed += [item for item in found if item not in listed]
    body = canonicalize({"sha256": content_hash.hex(), "registrations": listed})
    _write_if_changed(path, body, report)


def _write_if_changed(path: Path, body: bytes, report: ExportReport) -> None:
    if path.exists() and path.read_bytes() == body:
        report.present += 1
        return
    _write(path, body, report)


def _write(path: Path, body: bytes, report: ExportReport) -> None:
    """Write through a temporary file, so a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, body)
    report.written += 1
