"""Operations of 1.1 uploads, asset proofs and lookups by content hash."""

from __future__ import annotations

from ledger.api.openapi.operation import (
    BODY_ERRORS,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    Operation,
    errors,
    json_answer,
    path_param,
)
from ledger.api.schemas.common import HEX32
from ledger.core.manifest import MAX_HEADER_ASSETS

_DIGEST = path_param("digest", HEX32)
_INDEX = path_param("index", {"type": "integer", "minimum": 0,
                              "maximum": MAX_HEADER_ASSETS - 1})

#: Said of each asset read whose answer may link the asset's RSL documents.
LICENCE_LINK = ('With Link: <…/rsl/manifests/0x….xml>; rel="license"; '
                'type="application/rsl+xml" for each manifest whose RSL document offers the '
                "asset now (licensable through the OLP licence server).")

OPERATIONS = [
    Operation(
        "POST", "/v1/uploads", "startUpload",
        "Start (or resume) the upload of a signed 1.1 manifest header",
        {201: json_answer("Upload", "Started: send the chunks"),
         200: json_answer("Upload", "Started before (or complete): the missing chunks"),
         **errors(*BODY_ERRORS, 409, s409="This manifest's upload uses another chunkSize")},
        request="UploadStart",
        description="The header is checked as a manifest is (signature, creator verified, "
        "key valid); a 1.0 manifest is refused here (422, manifest.manifestVersion).",
    ),
    Operation(
        "GET", "/v1/uploads/{digest}", "getUpload", "Where an upload stands",
        {200: json_answer("Upload", "The upload"), **errors(404, 422, 503)},
        [_DIGEST],
    ),
    Operation(
        "PUT", "/v1/uploads/{digest}/chunks/{index}", "putChunk",
        "One chunk of an upload's assets, with its proof up to the signed assetsRoot",
        {200: json_answer("ChunkStored", "Stored (or stored before: stored false); the "
                          "last missing chunk completes the upload and the view carries "
                          "its receipt"),
         **errors(*BODY_ERRORS, 404, s404="No upload with this digest")},
        [_DIGEST, _INDEX],
        request="Chunk",
        description="Every check passes before anything is stored: the index, the number "
        "of entries, each entry (422 naming assets[k].member), the proof (422 proof), "
        "asset ids unique within the manifest (422 assets[k].id).",
    ),
    Operation(
        "GET", "/v1/manifests/{digest}/assets/{index}/proof", "getAssetProof",
        "One asset of a 1.1 manifest disclosed alone, with its proof",
        {200: json_answer("AssetProof", "ledger-asset-proof/1 (docs/proof-format.md); "
                          "manifestProof.anchor is null until the batch is confirmed"),
         202: json_answer("ManifestStatus", "Not in a batch yet: the status"),
         304: NOT_MODIFIED,
         **errors(404, 422, 503, s422="A 1.0 manifest (it discloses every asset), or a "
                  "malformed digest or index")},
        [_DIGEST, _INDEX, IF_NONE_MATCH],
        description="Once its anchor is final: a strong ETag and Cache-Control: public, "
        "max-age=31536000, immutable; before, Cache-Control: no-cache. " + LICENCE_LINK,
    ),
    Operation(
        "GET", "/v1/manifests/{digest}/assets/{index}/evidence", "getEvidence",
        "The evidence package of one asset (1.0 or 1.1): checkable with one block hash",
        {200: json_answer("Evidence", "ledger-evidence/1, immutable (strong ETag, "
                          "Cache-Control: public, max-age=31536000, immutable)"),
         202: json_answer("EvidencePending", "An anchor the package needs is not final, "
                          "or was reorganised away; Retry-After says when to ask again"),
         304: NOT_MODIFIED,
         **errors(404, 422, 503, s404="No such manifest, or no such asset in it")},
        [_DIGEST, _INDEX, IF_NONE_MATCH],
        description="Issued once the newest anchor block it proves is final by the "
        "service's evidence_depth and every anchor it needs is on the node's canonical "
        "chain (docs/service.md, \"Evidence packages\"). " + LICENCE_LINK,
    ),
    Operation(
        "GET", "/v1/assets/by-hash/{sha256}", "lookupAsset",
        "Every registration of a file's bytes, earliest anchor first",
        {200: json_answer("AssetLookup", "The registrations (none: an empty list)"),
         **errors(422, 503)},
        [path_param("sha256", {"type": "string", "pattern": "^(?:sha256:)?[0-9a-f]{64}$"})],
        description=LICENCE_LINK,
    ),
    Operation(
        "POST", "/v1/assets/by-hash:batch", "lookupAssets",
        "Every registration of each of many files' bytes, in the request's order",
        {200: json_answer("AssetLookups", "One lookup per hash asked, in order (a hash "
                          "asked twice is answered twice)"),
         **errors(*BODY_ERRORS)},
        request="AssetLookupRequest",
        description="Reads only: nothing is stored or signed (a dataset check, "
        "POST /v1/dataset-checks, signs and anchors its answers). No Link header: ask the "
        "one lookup for a hash's licence links.",
    ),
]
