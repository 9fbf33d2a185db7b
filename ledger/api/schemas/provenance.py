"""Shapes of manifests, batches, proofs, creators and the service's own answers."""

from __future__ import annotations

from ledger.api.schemas.common import (
    ADDRESS,
    BATCH_STATES,
    BOOLEAN,
    CREATOR_ID,
    DEPLOYMENT,
    ERROR_DETAIL,
    HEX32,
    INTEGER,
    KEY_ID,
    MS,
    STRING,
    Schema,
    array,
    closed,
    nullable,
    ref,
)
from ledger.core.creators import ACTIONS, DOMAIN, KEY, MAX_KEYS, OPERATOR
from ledger.core.records import PENDING, BatchKind
from ledger.core.vocabulary import PROOF_VERSION, RECEIPT_VERSION

RECEIPT = closed(
    {"version": {"const": RECEIPT_VERSION}, "manifestDigest": HEX32, "acceptedAt": MS,
     "anchorBy": MS, "serviceKey": STRING, "signature": STRING},
    description="Signed by the service key: the digest, when it was accepted, and the "
    "latest time its batch will be anchored. Check with `ledger verify`.",
)

_MANIFEST_VIEW = {
    "manifestDigest": HEX32,
    "creatorId": CREATOR_ID,
    "status": {"enum": [PENDING, *BATCH_STATES]},
    "acceptedAt": MS,
    "batchNumber": nullable(INTEGER),
    "leafIndex": nullable(INTEGER),
}
MANIFEST_STATUS = closed(_MANIFEST_VIEW, description="Where an accepted manifest stands")
MANIFEST_ACCEPTED = closed({**_MANIFEST_VIEW, "receipt": ref("Receipt")},
                           description="Where the manifest stands, with its signed receipt")

#: One item of a batch submission: accepted (as `MANIFEST_ACCEPTED`) or refused.
BATCH_ITEM = {"oneOf": [
    closed({**_MANIFEST_VIEW, "receipt": ref("Receipt"), "httpStatus": {"enum": [200, 202]}}),
    closed({"httpStatus": {"type": "integer", "minimum": 400, "maximum": 599},
            "error": ERROR_DETAIL}),
]}
BATCH_RESULTS = closed({"results": array(BATCH_ITEM)},
                       description="One result per manifest, in order")
MANIFEST_BATCH = closed({"manifests": array(ref("Manifest"), minItems=1)})

BATCH = closed({
    "number": INTEGER,
    "kind": {"enum": [kind.value for kind in BatchKind],
             "description": "what the leaves are the digests of"},
    "root": HEX32,
    "leafCount": INTEGER,
    "status": {"enum": BATCH_STATES},
    "sealedAt": MS,
    "confirmedAt": nullable(MS),
    "anchor": nullable(closed({"txHash": HEX32, "blockNumber": INTEGER,
                               "blockHash": HEX32, "blockTimestamp": INTEGER,
                               "gasUsed": INTEGER})),
})
BATCH_PAGE = closed({"batches": array(ref("Batch"))})

ANCHOR = closed({"chainId": INTEGER, "contract": ADDRESS, "batchNumber": INTEGER,
                 "txHash": HEX32, "blockNumber": INTEGER, "blockHash": HEX32,
                 "blockTimestamp": INTEGER})
PROOF_BUNDLE = closed(
    {"version": {"const": PROOF_VERSION}, "manifestDigest": HEX32, "leaf": HEX32,
     "leafIndex": INTEGER, "leafCount": INTEGER, "proof": array(HEX32), "root": HEX32,
     "anchor": nullable(ref("Anchor"))},
    description="docs/proof-format.md",
)

CREATOR_ACTION = closed(
    {"action": {"enum": list(ACTIONS)}, "creatorId": CREATOR_ID, "deployment": DEPLOYMENT,
     "issuedAt": {"type": "integer", "minimum": 0},
     "signatures": array(closed({"key": KEY_ID, "signature": STRING}))},
    {"keys": array(KEY_ID, maxItems=MAX_KEYS), "recoveryKey": KEY_ID, "key": KEY_ID},
    description="docs/service.md, 'Creators': the signed bytes exactly.",
)
CREATOR_RECORDS = closed(
    {"creatorId": CREATOR_ID,
     "records": array(closed({
         "record": ref("CreatorAction"), "digest": HEX32, "acceptedAt": MS,
         "status": {"enum": [PENDING, *BATCH_STATES]}, "batchNumber": nullable(INTEGER),
         "proof": nullable(ref("ProofBundle"))}))},
    description="Every accepted action of the creator since its registration, in "
    "acceptance order; each proof (its manifestDigest the record digest) once anchored",
)
CREATOR = closed({
    "creatorId": CREATOR_ID,
    "registeredAt": MS,
    "verification": closed({"method": {"enum": [KEY, DOMAIN, OPERATOR]},
                            "verified": BOOLEAN, "verifiedAt": nullable(MS),
                            "detail": nullable(STRING)}),
    "keys": array(closed({"key": KEY_ID, "role": {"enum": ["signing", "recovery"]},
                          "addedAt": MS, "revokedAt": nullable(MS)})),
})

SERVICE = closed(
    {"receiptKey": STRING, "receiptVersion": {"const": RECEIPT_VERSION}, "chainId": INTEGER,
     "registry": ADDRESS, "deployment": DEPLOYMENT, "splitter": nullable(ADDRESS),
     "rpcUrl": nullable(STRING), "confirmations": INTEGER, "assetChunkSizeMax": INTEGER,
     "assetChunkSizeDefault": INTEGER},
    description="What a client pins before trusting receipts and proofs",
)

#: "ok", or "unavailable: <why>".
_PROBE: Schema = {"type": "string", "pattern": "^(?:ok|unavailable: .*)$"}
HEALTH: Schema = {
    "type": "object",
    "description": "Each dependency's probe; ok only when all answer and writes succeed",
    "required": ["ok", "database"],
    "properties": {"ok": BOOLEAN, "database": _PROBE, "chain": _PROBE,
                   "queueDepth": {"type": "integer", "minimum": 0}},
    "additionalProperties": _PROBE,
}
READINESS = closed({"ready": BOOLEAN, "database": _PROBE})

SCHEMAS: dict[str, Schema] = {
    "Receipt": RECEIPT,
    "ManifestStatus": MANIFEST_STATUS,
    "ManifestAccepted": MANIFEST_ACCEPTED,
    "ManifestBatch": MANIFEST_BATCH,
    "ManifestBatchResults": BATCH_RESULTS,
    "Batch": BATCH,
    "BatchPage": BATCH_PAGE,
    "Anchor": ANCHOR,
    "ProofBundle": PROOF_BUNDLE,
    "CreatorAction": CREATOR_ACTION,
    "Creator": CREATOR,
    "CreatorRecords": CREATOR_RECORDS,
    "Service": SERVICE,
    "Health": HEALTH,
    "Readiness": READINESS,
}
