"""The shape of the OpenAPI document itself, as GET /v1/openapi.json serves it."""

from __future__ import annotations

from ledger.api.schemas.common import BOOLEAN, STRING, Schema, array, closed

#: Any JSON Schema: the 2020-12 meta-schema (validators ship it; nothing is fetched).
JSON_SCHEMA: Schema = {"$ref": "https://json-schema.org/draft/2020-12/schema"}

_MEDIA = closed({}, {"schema": JSON_SCHEMA})
_CONTENT: Schema = {"type": "object", "additionalProperties": _MEDIA,
                    "description": "media type → its body"}
_PARAMETER = closed({"name": STRING, "in": {"enum": ["path", "query", "header"]},
                     "schema": JSON_SCHEMA},
                    {"required": BOOLEAN, "description": STRING})
_OPERATION = closed(
    {"operationId": STRING, "summary": STRING,
     "responses": {"type": "object", "additionalProperties": closed(
         {"description": STRING}, {"content": _CONTENT}),
         "description": "HTTP status → its answer"}},
    {"description": STRING, "parameters": array(_PARAMETER),
     "requestBody": closed({"required": BOOLEAN, "content": _CONTENT}, {"description": STRING})},
)
OPENAPI_DOCUMENT = closed(
    {"openapi": {"const": "3.1.0"},
     "info": closed({"title": STRING, "version": STRING}),
     "paths": {"type": "object", "description": "path → method → operation",
               "additionalProperties": {"type": "object", "additionalProperties": _OPERATION,
                                        "propertyNames": {"enum": ["get", "post", "put",
                                                                   "delete"]}}},
     "components": closed({"schemas": {"type": "object", "additionalProperties": JSON_SCHEMA,
                                       "description": "name → shape"}})},
    description="OpenAPI 3.1 (https://spec.openapis.org/oas/v3.1.0)",
)
