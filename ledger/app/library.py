"""Asset-level use cases: 1.1 uploads in chunks, one asset's proof, lookup by content hash.

An upload starts from a signed 1.1 header, checked and admitted as a 1.0 manifest is;
its assets then arrive in chunks, each checked alone against the signed ``assetsRoot``
(in the `Verifier`'s workers) before anything of it is stored. The chunk that
completes the upload writes the manifest's row in its transaction: from then on the
manifest is batched and anchored like any other, and never before.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.app.chunks import CheckedChunk, ChunkJob, check_chunks
from ledger.app.clock import now_ms
from ledger.app.intake import CreatorKeys, Verifier, admit, check_header
from ledger.core.asset_tree import (
    DEFAULT_CHUNK_SIZE,
    AssetProof,
    asset_proof,
    check_chunk_size,
    chunk_count,
    chunk_proof,
    chunk_span,
)
from ledger.core.lookups import lookup_hashes
from ledger.core.manifest import ManifestHeader
from ledger.core.proof import ProofBundle
from ledger.core.receipt import Receipt
from ledger.core.records import BatchRecord, ManifestRecord
from ledger.errors import Conflict, LedgerError, NotFound, StorageError, ValidationError
from ledger.storage.assets import AssetStore
from ledger.storage.assets import Registration as Registration  # the lookup's answer, for api/
from ledger.storage.manifests import ManifestStore
from ledger.storage.uploads import NewChunk, NewUpload, Upload, UploadStore

#: How many missing chunk indices an upload's view lists.
MISSING_SHOWN = 1000

BatchBundle = Callable[[ManifestRecord, BatchRecord | None], Awaitable[ProofBundle | None]]


@dataclass(frozen=True)
class UploadView:
    """An upload as clients see it, with the receipt once it is complete."""

    upload: Upload
    receipt: Receipt | None

    @property
    def chunk_count(self) -> int:
        """How many chunks the upload takes."""
        return chunk_count(self.upload.asset_count, self.upload.chunk_size)

    def to_obj(self) -> dict[str, Any]:
        """The Upload JSON view (docs/service.md, "Uploads")."""
        up = self.upload
        missing = list(itertools.islice(
            (i for i in range(self.chunk_count) if i not in up.received), MISSING_SHOWN))
        return {
            "digest": "0x" + up.digest.hex(),
            "creatorId": up.creator_id,
            "assetCount": up.asset_count,
            "assetsRoot": "0x" + up.assets_root.hex(),
            "chunkSize": up.chunk_size,
            "chunkCount": self.chunk_count,
            "chunksReceived": len(up.received),
            "missingChunks": missing,
            "status": "uploading" if up.completed_at is None else "complete",
            "receipt": None if self.receipt is None else self.receipt.to_obj(),
        }


@dataclass(frozen=True)
class ChunkAnswer:
    """What a chunk PUT did, and the upload after it."""

    index: int
    stored: bool
    view: UploadView


class Library:
    """Uploads, asset proofs and lookups over the stores."""

    def __init__(
        self,
        uploads: UploadStore,
        assets: AssetStore,
        manifests: ManifestStore,
        keys: CreatorKeys,
        verifier: Verifier | None,
        *,
        receipt: Callable[[ManifestRecord], Awaitable[Receipt]],
        batch_bundle: BatchBundle,
    ) -> None:
        self.uploads = uploads
        self.assets = assets
        self._manifests = manifests
        self._keys = keys
        self._verifier = verifier
        self._receipt = receipt
        self._batch_bundle = batch_bundle

    # -- uploads -------------------------------------------------------------------

    async def start(self, obj: Any) -> tuple[UploadView, bool]:
        """Start the upload of a signed 1.1 header (`POST /v1/uploads`'s body); return its
        view and whether it was created. The same header again answers the stored
        upload; with another chunk size, Conflict."""
        header_obj, chunk_size = _start_body(obj)
        try:
            checked, header = check_header(header_obj)
        except LedgerError as exc:
            exc.field = f"manifest.{exc.field}" if exc.field else "manifest"
            raise
        now = now_ms()
        admitted = await admit(checked, self._keys, now, field="manifest")
        new = NewUpload(admitted.digest, admitted.creator_id, admitted.signing_key,
                        admitted.body, header.asset_count, header.assets_root, chunk_size, now)
        upload, created = await self.uploads.start(new)
        if upload.chunk_size != chunk_size:
            raise Conflict(f"this manifest's upload uses chunkSize {upload.chunk_size}",
                           field="chunkSize")
        return await self._view(upload), created

    async def upload(self, digest: bytes) -> UploadView:
        """The upload of this header digest; NotFound if there is none."""
        return await self._view(await self._upload(digest))

    async def put_chunk(self, digest: bytes, index: int, body: bytes) -> ChunkAnswer:
        """Check chunk `index` of an upload (its raw JSON body) and store it; nothing is
        stored unless every check passes. The last missing chunk completes the upload."""
        upload = await self._upload(digest)
        span = chunk_span(upload.asset_count, upload.chunk_size, index)
        job = ChunkJob(body, digest, upload.assets_root, upload.asset_count,
                       upload.chunk_size, index, span.start, len(span),
                       _manifest_version(upload.body))
        checked = await self._check(job)
        count = chunk_count(upload.asset_count, upload.chunk_size)
        chunk = NewChunk(checked.index, checked.root, checked.leaves, checked.assets)
        outcome = await self.uploads.store_chunk(digest, chunk, count, now_ms())
        if outcome.duplicate is not None:
            position, other = outcome.duplicate
            asset_id = checked.assets[position][2]
            raise ValidationError(f"{asset_id} is already the id of asset {other}",
                                  field=f"assets[{position}].id")
        return ChunkAnswer(index, outcome.stored, await self.upload(digest))

    async def _check(self, job: ChunkJob) -> CheckedChunk:
        if self._verifier is None:
            result = check_chunks([job])[0]
        else:
            result = (await self._verifier.check_chunks([job]))[0]
        if isinstance(result, LedgerError):
            raise result
        return result

    async def _upload(self, digest: bytes) -> Upload:
        upload = await self.uploads.get(digest)
        if upload is None:
            raise NotFound("no upload with this digest")
        return upload

    async def _view(self, upload: Upload) -> UploadView:
        if upload.completed_at is None:
            return UploadView(upload, None)
        record = await self._manifests.get(upload.digest)
        if record is None:
            raise StorageError(f"upload {upload.digest.hex()} is complete but has no manifest")
        return UploadView(upload, await self._receipt(record))

    # -- one asset's proof ---------------------------------------------------------------

    async def asset_proof(self, digest: bytes, index: int) -> AssetProof | ManifestRecord:
        """Asset `index` of a complete 1.1 manifest with its proof up to the batch root;
        the manifest's record instead while it awaits its batch. NotFound for an unknown
        manifest or asset, ValidationError for a 1.0 manifest."""
        found = await self._manifests.get_with_batch(digest)
        if found is None:
            raise NotFound("no manifest with this digest")
        record, batch = found
        upload = await self.uploads.get(digest)
        if upload is None:
            raise ValidationError(
                f"a 1.0 manifest discloses every asset: use /v1/manifests/0x{digest.hex()} "
                "and its proof", field="digest")
        if not 0 <= index < upload.asset_count:
            raise NotFound(f"no asset {index}: the manifest has {upload.asset_count}")
        chunk = index // upload.chunk_size
        parts = await self.uploads.proof_parts(digest, chunk)
        entry = await self.assets.entry(digest, index)
        if parts is None or entry is None:
            raise StorageError(f"manifest {digest.hex()} lacks the stored parts of asset {index}")
        bundle = await self._batch_bundle(record, batch)
        if bundle is None:
            return record
        leaves, roots = parts
        siblings = asset_proof(leaves, chunk * upload.chunk_size, chunk_proof(roots, chunk), index)
        header = ManifestHeader.from_json(upload.body)
        return AssetProof.build(orjson.loads(entry), index, siblings, header, bundle)

    # -- lookup ----------------------------------------------------------------------------

    async def by_hash(self, content_hash: bytes) -> list[Registration]:
        """Every registration of these bytes in a complete manifest, earliest anchor first."""
        return await self.assets.by_hash(content_hash)

    async def lookup(self, obj: Any) -> list[tuple[bytes, list[Registration]]]:
        """A batch lookup (`ledger.core.lookups`): each hash in the request's order with
        its registrations, as `by_hash` has them. ValidationError names the member."""
        hashes = lookup_hashes(obj)
        found = await self.assets.registrations(hashes)
        return [(content_hash, found.get(content_hash, [])) for content_hash in hashes]


def _start_body(obj: Any) -> tuple[Any, int]:
    if not isinstance(obj, dict) or "manifest" not in obj or not set(obj) <= {
        "manifest", "chunkSize"
    }:
        raise ValidationError('body must be {"manifest": {...}, "chunkSize": n}',
                              field="manifest")
    chunk_size = obj.get("chunkSize", DEFAULT_CHUNK_SIZE)
    return obj["manifest"], check_chunk_size(chunk_size)


def _manifest_version(header: bytes) -> str:
    """The format of a stored (checked) header: what its chunks' entries may use."""
    version: str = orjson.loads(header)["manifestVersion"]
    return version
