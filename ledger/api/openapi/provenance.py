"""Operations of manifests, batches, creators and the service itself."""

from __future__ import annotations

from ledger.api.openapi.operation import (
    BODY_ERRORS,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    Answer,
    Operation,
    errors,
    json_answer,
    path_param,
    query_param,
)
from ledger.api.schemas.common import BATCH_NUMBER, CREATOR_ID, HEX32

_DIGEST = path_param("digest", HEX32)

OPERATIONS = [
    Operation(
        "POST", "/v1/manifests", "submitManifest", "Submit one signed manifest",
        {202: json_answer("ManifestAccepted", "Accepted, with a signed receipt"),
         200: json_answer("ManifestAccepted", "Already accepted before"),
         **errors(*BODY_ERRORS)},
        request="Manifest",
    ),
    Operation(
        "POST", "/v1/manifests:batch", "submitManifests",
        "Submit many signed manifests; each is answered on its own",
        {200: json_answer("ManifestBatchResults",
                          "One result per manifest, in order, each with its own status"),
         **errors(*BODY_ERRORS)},
        request="ManifestBatch",
    ),
    Operation(
        "GET", "/v1/manifests/{digest}", "getManifest", "A manifest's record",
        {200: json_answer("ManifestStatus", "The record"), **errors(404, 422, 503)},
        [_DIGEST],
    ),
    Operation(
        "GET", "/v1/manifests/{digest}/proof", "getProof",
        "The proof bundle once anchored and confirmed",
        {200: json_answer("ProofBundle", "See proof-format.md"),
         202: json_answer("ManifestStatus", "Not anchored yet: the status"),
         304: NOT_MODIFIED,
         **errors(404, 422, 503)},
        [_DIGEST, IF_NONE_MATCH],
        description="Once its anchor is final: a strong ETag and Cache-Control: public, "
        "max-age=31536000, immutable; before, Cache-Control: no-cache.",
    ),
    Operation(
        "GET", "/v1/batches", "listBatches", "Batches in number order",
        {200: json_answer("BatchPage", "A page of batches"), **errors(422, 503)},
        [query_param("after", {"type": "integer", "minimum": 0, "maximum": 2**62}),
         query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000})],
    ),
    Operation(
        "GET", "/v1/batches/{number}", "getBatch", "One batch",
        {200: json_answer("Batch", "The batch"), **errors(404, 422, 503)},
        [path_param("number", BATCH_NUMBER)],
    ),
    Operation(
        "GET", "/v1/roots/{root}", "getBatchByRoot", "The batch with this Merkle root",
        {200: json_answer("Batch", "The batch"), **errors(404, 422, 503)},
        [path_param("root", HEX32)],
    ),
    Operation(
        "POST", "/v1/creators", "creatorAction",
        "Register a creator, add or revoke a signing key, or recover with the recovery "
        "key (signed, ledger-creator-v2)",
        {201: json_answer("Creator", "Registered or changed"),
         200: json_answer("Creator", "Already so"),
         **errors(400, 404, 408, 409, 413, 415, 422, 503,
                  s404="No such creator (any action but register)",
                  s409="The creator already exists")},
        request="CreatorAction",
    ),
    Operation(
        "GET", "/v1/creators/{id}", "getCreator",
        "A creator's verification (key, domain or operator) and keys",
        {200: json_answer("Creator", "The creator"), **errors(404, 503)},
        [path_param("id", CREATOR_ID)],
    ),
    Operation(
        "GET", "/v1/creators/{id}/records", "getCreatorRecords",
        "Every accepted action of a creator, each with its anchored proof",
        {200: json_answer("CreatorRecords", "The records, in acceptance order"),
         **errors(404, 503)},
        [path_param("id", CREATOR_ID)],
        description="Each record is the signed action exactly as accepted; its digest is "
        "SHA-256(\"ledger-creator-record-v1\\n\" ‖ JCS(action)), the leaf its proof "
        "(docs/proof-format.md) is for.",
    ),
    Operation(
        "GET", "/v1/service", "getService",
        "The receipt key, chain and registry of this service",
        {200: json_answer("Service", "The service's identity")},
        description="What a client pins before trusting receipts and proofs: "
        "`ledger verify receipt.json --service-key <receiptKey>`.",
    ),
    Operation(
        "GET", "/v1/openapi.json", "getOpenApi", "This document",
        {200: json_answer("OpenApiDocument", "The OpenAPI 3.1 document")},
    ),
    Operation(
        "GET", "/healthz", "health", "Health of the database and the chain",
        {200: json_answer("Health", "Healthy"),
         503: json_answer("Health", "Degraded: the body says which part")},
    ),
    Operation(
        "GET", "/readyz", "ready",
        "Whether this process can take intake (the chain is not asked)",
        {200: json_answer("Readiness", "Ready: the database answers and accepts writes"),
         503: json_answer("Readiness", "Not ready: the body says why")},
        description="For load balancers: intake never waits for the chain, so a chain "
        "outage leaves this at 200 while /healthz answers 503.",
    ),
    Operation(
        "GET", "/metrics", "metrics", "Prometheus metrics",
        {200: Answer("Prometheus text format", media=("text/plain",))},
    ),
]
