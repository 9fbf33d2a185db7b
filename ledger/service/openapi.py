"""The OpenAPI 3.1 document of HTTP API v1, served at /v1/openapi.json."""

from __future__ import annotations

from typing import Any

_HEX32 = {"type": "string", "pattern": "^0x[0-9a-f]{64}$"}

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
        400: "Malformed or non-canonical JSON",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
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
                        **_errors(400, 413, 422, 503),
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
                        **_errors(400, 413, 422, 503),
                    },
                }
            },
            "/v1/manifests/{digest}": {
                "get": {
                    "summary": "A manifest's record",
                    "parameters": [_digest_param()],
                    "responses": {
                        "200": _json(_MANIFEST_STATUS, "The record"),
                        **_errors(404, 422),
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
                        **_errors(404, 422),
                    },
                }
            },
            "/v1/batches": {
                "get": {
                    "summary": "Batches in number order",
                    "parameters": [
                        {"name": "after", "in": "query", "schema": {"type": "integer"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {"batches": {"type": "array", "items": _BATCH}},
                            },
                            "A page of batches",
                        ),
                        **_errors(422),
                    },
                }
            },
            "/v1/batches/{number}": {
                "get": {
                    "summary": "One batch",
                    "parameters": [
                        {
                            "name": "number",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {"200": _json(_BATCH, "The batch"), **_errors(404, 422)},
                }
            },
            "/v1/roots/{root}": {
                "get": {
                    "summary": "The batch with this Merkle root",
                    "parameters": [
                        {"name": "root", "in": "path", "required": True, "schema": _HEX32}
                    ],
                    "responses": {"200": _json(_BATCH, "The batch"), **_errors(404, 422)},
                }
            },
            "/v1/creators": {
                "post": {
                    "summary": "Register a creator, add a key, or revoke a key (signed)",
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
                        **_errors(400, 409, 413, 422, 503),
                    },
                }
            },
            "/v1/creators/{id}": {
                "get": {
                    "summary": "A creator's keys",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": _json({"type": "object"}, "The keys"), **_errors(404)},
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
        },
        "components": {
            "schemas": {
                "Error": _ERROR,
                "Manifest": {"type": "object", "description": "docs/manifest.schema.json"},
                "ProofBundle": {"type": "object", "description": "docs/proof-format.md"},
                "CreatorAction": {
                    "type": "object",
                    "required": ["action", "creatorId", "issuedAt", "signatures"],
                    "properties": {
                        "action": {"enum": ["register", "add-key", "revoke-key"]},
                        "creatorId": {"type": "string"},
                        "keys": {"type": "array", "items": {"type": "string"}},
                        "key": {"type": "string"},
                        "issuedAt": {"type": "integer"},
                        "signatures": {"type": "array"},
                    },
                },
            }
        },
    }
