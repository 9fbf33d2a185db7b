"""Shapes of 1.1 uploads, asset proofs and lookups by content hash."""

from __future__ import annotations

from ledger.api.schemas.common import (
    ADDRESS,
    ASSET_ID,
    BATCH_STATES,
    BOOLEAN,
    CREATOR_ID,
    HEX32,
    INTEGER,
    MS,
    STRING,
    Schema,
    array,
    closed,
    nullable,
    ref,
    text,
)
from ledger.api.schemas.manifest import manifest_member, manifest_part
from ledger.core.asset_tree import MAX_CHUNK_SIZE
from ledger.core.creators import DOMAIN, KEY, OPERATOR
from ledger.core.lookups import MAX_LOOKUP
from ledger.core.manifest import HEADER_VERSIONS, MAX_HEADER_ASSETS
from ledger.core.records import PENDING
from ledger.core.vocabulary import ASSET_PROOF_VERSION, EVIDENCE_VERSION

MANIFEST_HEADER = closed(
    {"manifestVersion": {"enum": list(HEADER_VERSIONS)}, "creator": manifest_part("creator"),
     "assetCount": {"type": "integer", "minimum": 1, "maximum": MAX_HEADER_ASSETS},
     "assetsRoot": HEX32, "signature": manifest_member("signature")},
    {"createdAt": manifest_member("createdAt"), "extensions": manifest_member("extensions")},
    description="A signed 1.1 or 1.2 manifest: the assets are committed to by assetsRoot "
    "(docs/manifest.md)",
)
UPLOAD_START = closed(
    {"manifest": ref("ManifestHeader")},
    {"chunkSize": {"type": "integer", "minimum": 1, "maximum": MAX_CHUNK_SIZE,
                   "description": "a power of two; 4096 when left out"}},
)
UPLOAD = closed(
    {"digest": HEX32, "creatorId": CREATOR_ID,
     "assetCount": {"type": "integer", "minimum": 1, "maximum": MAX_HEADER_ASSETS},
     "assetsRoot": HEX32, "chunkSize": INTEGER, "chunkCount": INTEGER,
     "chunksReceived": INTEGER, "missingChunks": array(INTEGER, maxItems=1000),
     "status": {"enum": ["uploading", "complete"]}, "receipt": nullable(ref("Receipt"))},
    description="Where a 1.1 upload stands; the receipt once its last chunk is stored",
)
CHUNK = closed(
    {"assets": array(manifest_part("asset"), minItems=1, maxItems=MAX_CHUNK_SIZE),
     "proof": array(HEX32)},
    description="The chunk's entries in index order, and its root's proof up to assetsRoot",
)
CHUNK_STORED = closed({"index": INTEGER, "stored": BOOLEAN, "upload": ref("Upload")})
ASSET_PROOF = closed(
    {"version": {"const": ASSET_PROOF_VERSION}, "asset": manifest_part("asset"),
     "assetIndex": INTEGER, "assetProof": array(HEX32), "manifest": ref("ManifestHeader"),
     "manifestProof": ref("ProofBundle")},
    description="One asset disclosed alone (docs/proof-format.md)",
)
REGISTRATION = closed(
    {"creatorId": CREATOR_ID,
     "creatorVerification": closed({"method": nullable({"enum": [KEY, DOMAIN, OPERATOR]}),
                                    "detail": nullable(STRING)}),
     "assetId": ASSET_ID, "assetIndex": INTEGER, "manifestDigest": HEX32,
     "manifestVersion": {"enum": ["1.0", *HEADER_VERSIONS]},
     "licenses": manifest_part("asset")["properties"]["licenses"],
     "status": {"enum": [PENDING, *BATCH_STATES]}, "acceptedAt": MS,
     "anchor": nullable(closed({"chainId": INTEGER, "contract": ADDRESS,
                                "batchNumber": INTEGER, "blockNumber": INTEGER,
                                "blockTimestamp": INTEGER, "txHash": HEX32}))},
    {"priceModel": manifest_part("priceModel"),
     "payees": manifest_part("asset")["properties"]["payees"]},
)
LOOKUP = closed(
    {"sha256": text("^[0-9a-f]{64}$"), "registrations": array(ref("Registration")),
     "conflict": BOOLEAN},
    description="Every registration of these bytes, earliest anchor first; conflict when "
    "more than one creator registered them",
)
LOOKUP_REQUEST = closed(
    {"hashes": array(text("^(?:sha256:)?[0-9a-f]{64}$"), minItems=1, maxItems=MAX_LOOKUP)},
    description="The SHA-256 of each file asked about; more are asked in parts",
)
LOOKUPS = closed({"results": array(ref("AssetLookup"))},
                 description="One lookup per hash asked, in the request's order")

_RLP = text("^0x(?:[0-9a-f]{2})+$", "RLP bytes in lower-case hex")
EVIDENCE = closed(
    {"version": {"const": EVIDENCE_VERSION}, "asset": manifest_part("asset"),
     "assetIndex": INTEGER, "assetProof": nullable(array(HEX32)),
     "manifest": {"oneOf": [ref("Manifest"), ref("ManifestHeader")]},
     "manifestProof": ref("ProofBundle"), "receipt": ref("Receipt"),
     "creatorRecords": array(closed({"record": ref("CreatorAction"),
                                     "proof": ref("ProofBundle")})),
     "manifestRecords": INTEGER,
     "statements": array(closed({"statement": ref("LifecycleStatement"),
                                 "proof": ref("ProofBundle"), "records": INTEGER})),
     "chain": closed({"chainId": INTEGER, "registry": ADDRESS, "blockNumber": INTEGER,
                      "blockHeader": _RLP, "accountProof": array(_RLP),
                      "anchorProofs": array(closed({"root": HEX32, "proof": array(_RLP)}),
                                            minItems=1)})},
    description="One asset linked to one final block (docs/proof-format.md, section 9)",
)
EVIDENCE_PENDING = closed(
    {"status": {"const": "pending"}, "reason": STRING},
    description="Why the package is not given yet: an anchor it needs is not final",
)

SCHEMAS: dict[str, Schema] = {
    "ManifestHeader": MANIFEST_HEADER,
    "UploadStart": UPLOAD_START,
    "Upload": UPLOAD,
    "Chunk": CHUNK,
    "ChunkStored": CHUNK_STORED,
    "AssetProof": ASSET_PROOF,
    "Registration": REGISTRATION,
    "AssetLookup": LOOKUP,
    "AssetLookupRequest": LOOKUP_REQUEST,
    "AssetLookups": LOOKUPS,
    "Evidence": EVIDENCE,
    "EvidencePending": EVIDENCE_PENDING,
}
