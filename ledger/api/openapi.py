"""The OpenAPI 3.1 document of HTTP API v1, served at /v1/openapi.json."""

from __future__ import annotations

from typing import Any

from ledger.core.creators import ACTIONS
from ledger.core.manifest import CREATOR_ID_PATTERN

_HEX32 = {"type": "string", "pattern": "^0x[0-9a-f]{64}$"}
_ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}
_CREATOR_ID = {"type": "string", "pattern": f"^{CREATOR_ID_PATTERN}$"}
_KEY_ID = {"type": "string", "description": "p256:<base64 compressed point> or eth:<EIP-55>"}
_EVENT_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"}
_BATCH_NUMBER = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
        }
    },
}

_RECEIPT = {
    "type": "object",
    "description": "Signed by the service key: the digest, when it was accepted, and "
    "the latest time its batch will be anchored. Check with `ledger verify`.",
    "required": ["version", "manifestDigest", "acceptedAt", "anchorBy", "serviceKey", "signature"],
    "properties": {
        "version": {"const": "ledger-receipt/1"},
        "manifestDigest": _HEX32,
        "acceptedAt": {"type": "integer", "description": "ms since the Unix epoch"},
        "anchorBy": {"type": "integer", "description": "ms since the Unix epoch"},
        "serviceKey": {"type": "string"},
        "signature": {"type": "string"},
    },
}

_MANIFEST_STATUS = {
    "type": "object",
    "required": ["manifest_digest", "status", "creator_id", "accepted_at"],
    "properties": {
        "manifest_digest": _HEX32,
        "creator_id": {"type": "string"},
        "status": {"enum": ["pending", "batched", "submitted", "confirmed"]},
        "accepted_at": {"type": "integer"},
        "batch_number": {"type": ["integer", "null"]},
        "leaf_index": {"type": ["integer", "null"]},
        "receipt": _RECEIPT,
    },
}

_BATCH = {
    "type": "object",
    "required": ["number", "root", "leaf_count", "status"],
    "properties": {
        "number": {"type": "integer"},
        "root": _HEX32,
        "leaf_count": {"type": "integer"},
        "status": {"enum": ["batched", "submitted", "confirmed"]},
        "sealed_at": {"type": "integer"},
        "confirmed_at": {"type": ["integer", "null"]},
        "anchor": {"type": ["object", "null"]},
    },
}

_MANIFEST_BODY = {
    "description": "A signed manifest; see docs/manifest.schema.json.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Manifest"}}},
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    meaning = {
        400: "Malformed or non-canonical JSON, or an unreadable body",
        404: "Not found",
        408: "The body did not arrive within body_timeout_s",
        409: "Conflict",
        413: "Body too large",
        415: "Compressed body (Content-Encoding other than identity)",
        422: "Invalid document or signature",
        503: "Storage or chain unavailable",
    }
    return {str(c): _json({"$ref": "#/components/schemas/Error"}, meaning[c]) for c in codes}


def _digest_param() -> dict[str, Any]:
    return {"name": "digest", "in": "path", "required": True, "schema": _HEX32}


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "ledger", "version": "1"},
        "paths": {
            "/v1/manifests": {
                "post": {
                    "summary": "Submit one signed manifest",
                    "requestBody": {"required": True, **_MANIFEST_BODY},
                    "responses": {
                        "202": _json(_MANIFEST_STATUS, "Accepted, with a signed receipt"),
                        "200": _json(_MANIFEST_STATUS, "Already accepted before"),
                        **_errors(400, 408, 413, 415, 422, 503),
                    },
                }
            },
            "/v1/manifests:batch": {
                "post": {
                    "summary": "Submit many signed manifests; each is answered on its own",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["manifests"],
                                    "properties": {
                                        "manifests": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Manifest"},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {"results": {"type": "array"}},
                            },
                            "One result per manifest, in order, each with its own status",
                        ),
                        **_errors(400, 408, 413, 415, 422, 503),
                    },
                }
            },
            "/v1/manifests/{digest}": {
                "get": {
                    "summary": "A manifest's record",
                    "parameters": [_digest_param()],
                    "responses": {
                        "200": _json(_MANIFEST_STATUS, "The record"),
                        **_errors(404, 422, 503),
                    },
                }
            },
            "/v1/manifests/{digest}/proof": {
                "get": {
                    "summary": "The proof bundle once anchored and confirmed",
                    "parameters": [_digest_param()],
                    "responses": {
                        "200": _json(
                            {"$ref": "#/components/schemas/ProofBundle"}, "See proof-format.md"
                        ),
                        "202": _json(_MANIFEST_STATUS, "Not anchored yet: the status"),
                        **_errors(404, 422, 503),
                    },
                }
            },
            "/v1/batches": {
                "get": {
                    "summary": "Batches in number order",
                    "parameters": [
                        {
                            "name": "after",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2**62},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {"batches": {"type": "array", "items": _BATCH}},
                            },
                            "A page of batches",
                        ),
                        **_errors(422, 503),
                    },
                }
            },
            "/v1/batches/{number}": {
                "get": {
                    "summary": "One batch",
                    "parameters": [
                        {"name": "number", "in": "path", "required": True, "schema": _BATCH_NUMBER}
                    ],
                    "responses": {"200": _json(_BATCH, "The batch"), **_errors(404, 422, 503)},
                }
            },
            "/v1/roots/{root}": {
                "get": {
                    "summary": "The batch with this Merkle root",
                    "parameters": [
                        {"name": "root", "in": "path", "required": True, "schema": _HEX32}
                    ],
                    "responses": {"200": _json(_BATCH, "The batch"), **_errors(404, 422, 503)},
                }
            },
            "/v1/creators": {
                "post": {
                    "summary": "Register a creator, add or revoke a signing key, or "
                    "recover with the recovery key (signed, ledger-creator-v2)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreatorAction"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json({"type": "object"}, "Registered or changed"),
                        "200": _json({"type": "object"}, "Already so"),
                        **_errors(400, 409, 408, 413, 415, 422, 503),
                    },
                }
            },
            "/v1/creators/{id}": {
                "get": {
                    "summary": "A creator's verification (key, domain or operator) and "
                    "keys",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": _CREATOR_ID}
                    ],
                    "responses": {
                        "200": _json(
                            {"$ref": "#/components/schemas/Creator"}, "The creator"
                        ),
                        **_errors(404, 503),
                    },
                }
            },
            "/v1/service": {
                "get": {
                    "summary": "The receipt key, chain and registry of this service",
                    "description": (
                        "What a client pins before trusting receipts and proofs: "
                        "`ledger verify receipt.json --service-key <receiptKey>`."
                    ),
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["receiptKey", "receiptVersion", "chainId",
                                             "registry"],
                                "properties": {
                                    "receiptKey": {"type": "string"},
                                    "receiptVersion": {"type": "string"},
                                    "chainId": {"type": "integer"},
                                    "registry": {"type": "string"},
                                    "splitter": {"type": ["string", "null"]},
                                    "rpcUrl": {"type": ["string", "null"]},
                                    "confirmations": {"type": "integer"},
                                },
                            },
                            "The service's identity",
                        ),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Health of the database and the chain",
                    "responses": {
                        "200": _json({"type": "object"}, "Healthy"),
                        "503": _json({"type": "object"}, "Degraded: the body says which part"),
                    },
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Whether this process can take intake (the chain is not asked)",
                    "description": (
                        "For load balancers: intake never waits for the chain, so a chain "
                        "outage leaves this at 200 while /healthz answers 503."
                    ),
                    "responses": {
                        "200": _json({"type": "object"}, "Ready: the database answers and "
                                     "accepts writes"),
                        "503": _json({"type": "object"}, "Not ready: the body says why"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "text", "content": {"text/plain": {}}}},
                }
            },
            "/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
            **_usage_paths(),
        },
        "components": {
            "schemas": {
                "Error": _ERROR,
                "Manifest": {"type": "object", "description": "docs/manifest.schema.json"},
                "ProofBundle": {"type": "object", "description": "docs/proof-format.md"},
                "UsageEvent": _USAGE_EVENT,
                "CreatorAction": {
                    "type": "object",
                    "description": "docs/service.md, 'Creators': the signed bytes exactly.",
                    "required": ["action", "creatorId", "deployment", "issuedAt", "signatures"],
                    "additionalProperties": False,
                    "properties": {
                        "action": {"enum": list(ACTIONS)},
                        "creatorId": _CREATOR_ID,
                        "deployment": {
                            "type": "string",
                            "pattern": "^eip155:[1-9][0-9]{0,19}:0x[0-9a-f]{40}$",
                            "description": "GET /v1/service's deployment",
                        },
                        "keys": {"type": "array", "items": _KEY_ID},
                        "recoveryKey": _KEY_ID,
                        "key": _KEY_ID,
                        "issuedAt": {"type": "integer", "minimum": 0},
                        "signatures": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["key", "signature"],
                                "properties": {"key": _KEY_ID, "signature": {"type": "string"}},
                            },
                        },
                    },
                },
                "Creator": {
                    "type": "object",
                    "required": ["creator_id", "registered_at", "verification", "keys"],
                    "properties": {
                        "creator_id": _CREATOR_ID,
                        "registered_at": {"type": "integer"},
                        "verification": {
                            "type": "object",
                            "required": ["method", "verified", "verified_at", "detail"],
                            "properties": {
                                "method": {"enum": ["key", "domain", "operator"]},
                                "verified": {"type": "boolean"},
                                "verified_at": {"type": ["integer", "null"]},
                                "detail": {"type": ["string", "null"]},
                            },
                        },
                        "keys": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "key": _KEY_ID,
                                    "role": {"enum": ["signing", "recovery"]},
                                    "added_at": {"type": "integer"},
                                    "revoked_at": {"type": ["integer", "null"]},
                                },
                            },
                        },
                    },
                },
            }
        },
    }


# -- royalties (issue 5) ----------------------------------------------------------------

_USAGE_EVENT = {
    "type": "object",
    "description": "One metered use; see docs/proof-format.md, 'Usage receipts'.",
    "required": ["eventId", "buyer", "asset", "units", "time", "source"],
    "additionalProperties": False,
    "properties": {
        "eventId": _EVENT_ID,
        "buyer": _ADDRESS,
        "asset": {
            "type": "object",
            "required": ["manifestDigest", "assetId"],
            "properties": {"manifestDigest": _HEX32, "assetId": {"type": "string"}},
        },
        "units": {"type": "integer", "minimum": 1, "maximum": 10**12},
        "unit": {"enum": ["sample", "1k-samples", "epoch"]},
        "time": {"type": "string", "description": "RFC 3339 UTC, optional .mmm"},
        "source": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
    },
}

_HMAC_HEADERS = [
    {"name": "X-Ledger-Source", "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": "X-Ledger-Timestamp", "in": "header", "required": True,
     "schema": {"type": "string", "description": "Unix seconds, within the replay window"}},
    {"name": "X-Ledger-Signature", "in": "header", "required": True,
     "schema": {"type": "string", "description": 'v1= and hex HMAC-SHA256 of '
                '"ledger-usage-v1\\n" + source + "\\n" + timestamp + "\\n" + body'}},
]


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False,
            "schema": {"type": "string", "description": description}}


#: A read signed with the owner's key (docs/royalties.md, "Who may read what"), or the
#: operator's `Authorization: Bearer <admin_token>`.
_SIGNED_READ = [
    _header("X-Ledger-Key", "the signing key's public id (a buyer: eth:<its address>)"),
    _header("X-Ledger-Timestamp", "Unix seconds, within usage_window_s"),
    _header("X-Ledger-Read-Signature", 'signature under tag ledger-read-v1 of '
            '"GET " + raw path and query + "\n" + timestamp'),
    _header("Authorization", "Bearer <admin_token>: the operator reads everything"),
]
#: A usage event is read by its source (HMAC over "GET " + raw path and query) or the
#: operator, who names the source.
_SOURCE_READ = [
    _header("X-Ledger-Source", "the metering source that reported the event"),
    _header("X-Ledger-Timestamp", "Unix seconds, within usage_window_s"),
    _header("X-Ledger-Signature", 'v1= and hex HMAC-SHA256 of "ledger-usage-v1\n" + source + '
            '"\n" + timestamp + "\n" + "GET " + raw path and query'),
    _header("Authorization", "Bearer <admin_token>: the operator (with ?source=)"),
    {"name": "source", "in": "query", "required": False,
     "schema": {"type": "string", "description": "the operator names the event's source"}},
]
_READ_REFUSED = {"401": _json({"$ref": "#/components/schemas/Error"},
                              "No credentials, or a bad, stale or forged signature"),
                 "403": _json({"$ref": "#/components/schemas/Error"},
                              "Signed by someone who may not read this")}


def _event_param() -> dict[str, Any]:
    return {"name": "event_id", "in": "path", "required": True, "schema": _EVENT_ID}


def _address_param() -> dict[str, Any]:
    return {"name": "address", "in": "path", "required": True, "schema": _ADDRESS}


def _usage_paths() -> dict[str, Any]:
    unauthenticated = {"401": _json({"$ref": "#/components/schemas/Error"},
                                    "Unknown source, stale timestamp or forged signature"),
                       "403": _json({"$ref": "#/components/schemas/Error"},
                                    "An event names another source")}
    return {
        "/v1/usage": {
            "post": {
                "summary": "Report usage: one event or {\"events\": [...]} (up to 10,000)",
                "parameters": _HMAC_HEADERS,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "oneOf": [{"$ref": "#/components/schemas/UsageEvent"},
                              {"type": "object", "required": ["events"], "properties": {
                                  "events": {"type": "array", "items": {
                                      "$ref": "#/components/schemas/UsageEvent"}}}}],
                }}}},
                "responses": {
                    "202": _json({"type": "object"}, "Stored durably (batch: any stored; "
                                 "each result has its own http_status)"),
                    "200": _json({"type": "object"}, "Already stored: nothing charged again"),
                    **unauthenticated,
                    **_errors(400, 408, 413, 415, 422, 503),
                    "409": _json({"$ref": "#/components/schemas/Error"},
                                 "`conflict`: an event id of this source reused with other "
                                 "content; `buyer_withdrawing`: the buyer asked for its "
                                 "deposit back, so no new usage is metered for it"),
                },
            }
        },
        "/v1/usage/{event_id}": {
            "get": {
                "summary": "Where a usage event stands: batch, settlement, hold (for its "
                           "source or the operator)",
                "parameters": [_event_param(), *_SOURCE_READ],
                "responses": {"200": _json({"type": "object"}, "The status"),
                              **_READ_REFUSED, **_errors(404, 422, 503)},
            }
        },
        "/v1/usage/{event_id}/proof": {
            "get": {
                "summary": "The usage receipt (event + inclusion proof) once anchored (for "
                           "its source or the operator)",
                "parameters": [_event_param(), *_SOURCE_READ],
                "responses": {
                    "200": _json({"type": "object"}, "Status and receipt "
                                 "(ledger-usage-receipt/1)"),
                    "202": _json({"type": "object"}, "Not anchored yet: the status"),
                    **_READ_REFUSED,
                    **_errors(404, 422, 503),
                },
            }
        },
        "/v1/buyers/{address}": {
            "get": {
                "summary": "A buyer's deposit, spending, limits (chain) and usage (ledger); "
                           "for the buyer or the operator",
                "parameters": [_address_param(), *_SIGNED_READ],
                "responses": {"200": _json({"type": "object"}, "Per token"),
                              **_READ_REFUSED, **_errors(422, 503)},
            }
        },
        "/v1/buyers/{address}/proposals": {
            "get": {
                "summary": "Settlements awaiting a co-signing buyer's EIP-712 signature; for "
                           "the buyer or the operator",
                "parameters": [_address_param(), *_SIGNED_READ],
                "responses": {"200": _json({"type": "object", "properties": {
                    "buyer": {"type": "string"},
                    "proposals": {"type": "array", "items": {
                        "type": "object",
                        "required": ["usageRoot", "token", "items", "total", "deadline",
                                     "typedData"],
                        "properties": {
                            "usageRoot": _HEX32, "token": {"type": "string"},
                            "batchNumber": {"type": "integer"}, "part": {"type": "integer"},
                            "items": {"type": "array", "items": {"type": "object"}},
                            "units": {"type": "integer"}, "events": {"type": "integer"},
                            "total": {"type": "string", "description": "base units (wei)"},
                            "deadline": {"type": "integer", "description": "Unix seconds"},
                            "typedData": {"type": "object",
                                          "description": "EIP-712 Settlement to sign"},
                        }}},
                }}, "Open proposals"), **_READ_REFUSED, **_errors(422, 503)},
            }
        },
        "/v1/buyers/{address}/cosign": {
            "post": {
                "summary": "Hand in a co-signing buyer's signature of a proposal; the service "
                           "then sends settleCosigned",
                "parameters": [_address_param()],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["usageRoot", "token", "signature"],
                    "properties": {"usageRoot": _HEX32, "token": {"type": "string"},
                                   "signature": {"type": "string",
                                                 "pattern": "^0x[0-9a-f]{130}$"}},
                }}}},
                "responses": {"202": _json({"type": "object"}, "Signature kept"),
                              "200": _json({"type": "object"},
                                           "Already signed or settled: nothing changed"),
                              **_errors(400, 404, 408, 413, 415, 422, 503)},
            }
        },
        "/v1/splits/terms": {
            "get": {
                "summary": "The EIP-712 SplitTerms an asset's split owner signs (next version)",
                "parameters": [
                    {"name": "manifestDigest", "in": "query", "required": True, "schema": _HEX32},
                    {"name": "assetId", "in": "query", "required": True,
                     "schema": {"type": "string"}},
                ],
                "responses": {"200": _json({"type": "object"}, "owner, version, deadline, "
                                           "typedData"), **_errors(404, 422, 503)},
            }
        },
        "/v1/splits": {
            "post": {
                "summary": "Hand in a split owner's signature; the service relays "
                           "setSplitWithSig once the manifest is anchored",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["manifestDigest", "assetId", "version", "deadline",
                                 "signature"],
                    "properties": {"manifestDigest": _HEX32, "assetId": {"type": "string"},
                                   "version": {"type": "integer"},
                                   "deadline": {"type": "integer"},
                                   "signature": {"type": "string",
                                                 "pattern": "^0x[0-9a-f]{130}$"}},
                }}}},
                "responses": {"202": _json({"type": "object"}, "Kept, to be relayed"),
                              **_errors(400, 404, 408, 413, 415, 422, 503)},
            }
        },
        "/v1/creators/{id}/statement": {
            "get": {
                "summary": "Per asset and buyer: units, earned, settled (tx hashes), "
                           "withdrawable, withdrawn; to the wei (for a signing key of the "
                           "creator or the operator)",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": _CREATOR_ID},
                    {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}},
                    *_SIGNED_READ,
                ],
                "responses": {
                    "200": {"description": "The statement",
                            "content": {"application/json": {"schema": {"type": "object"}},
                                        "text/csv": {}}},
                    **_READ_REFUSED,
                    **_errors(422, 503),
                },
            }
        },
    }
