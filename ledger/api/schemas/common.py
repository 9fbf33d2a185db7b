"""Shapes every area shares: identifiers, amounts, the error body, and the builders.

Patterns come from the core's own regexes (`ledger.core.fields`, the creator id from
`ledger.core.manifest`) or, for signing keys, from the manifest's JSON Schema
(`ledger.api.schemas.manifest`), so they cannot drift from what the parsers accept.
The few the core keeps private are checked against it by ``tests/unit/api``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ledger.api.schemas.manifest import manifest_pattern
from ledger.core import fields
from ledger.core.manifest import CREATOR_ID_PATTERN
from ledger.core.records import BatchStatus

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to the component schema `name`."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def closed(required: Mapping[str, Schema], optional: Mapping[str, Schema] | None = None,
           *, description: str | None = None) -> Schema:
    """An object with exactly these members: all of `required`, any of `optional`."""
    schema: Schema = {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
    }
    if description is not None:
        schema["description"] = description
    return schema


def array(items: Schema, **limits: int) -> Schema:
    """An array of `items` (``minItems``/``maxItems`` as keyword arguments)."""
    return {"type": "array", "items": items, **limits}


def text(pattern: str | re.Pattern[str], description: str | None = None) -> Schema:
    """A string matching `pattern` (a compiled one is matched whole, as ``fullmatch``)."""
    if isinstance(pattern, re.Pattern):
        pattern = f"^{pattern.pattern}$"
    schema: Schema = {"type": "string", "pattern": pattern}
    if description is not None:
        schema["description"] = description
    return schema


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
MS: Schema = {"type": "integer", "description": "ms since the Unix epoch"}
SECONDS: Schema = {"type": "integer", "description": "Unix seconds"}

HEX32 = text(fields.HASH)
ADDRESS = text(fields.ADDRESS)
TOKEN: Schema = {"anyOf": [{"const": "ETH"}, ADDRESS]}
CREATOR_ID = text(f"^{CREATOR_ID_PATTERN}$")
ASSET_ID = text(fields.ASSET_ID)
KEY_ID = text(manifest_pattern("creator", "signingKey"),
              "p256:<base64 compressed point> or eth:<EIP-55 address>")
EVENT_ID = text("^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
SOURCE = text(fields.SOURCE)
DEPLOYMENT = text(fields.DEPLOYMENT, "GET /v1/service's deployment")
SIGNATURE65 = text("^0x[0-9a-f]{130}$", "r ‖ s ‖ v, lower-case hex")
BATCH_NUMBER: Schema = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
WEI = text("^(?:0|[1-9][0-9]*)$", "base units (wei) as a decimal string: amounts pass 2^53")
#: Where a batch stands on its way to the chain; a manifest or event before its batch
#: is ``pending``.
BATCH_STATES = [status.value for status in BatchStatus]

ERROR_DETAIL = closed({"code": STRING, "message": STRING},
                      {"field": STRING, "statement": HEX32})
ERROR = closed({"error": ERROR_DETAIL}, description="Every failing request's body")

#: What each error status means wherever it is answered.
ERROR_MEANINGS = {
    400: "Malformed or non-canonical JSON, or an unreadable body",
    401: "No credentials, or a bad, stale or forged signature",
    403: "Signed by someone who may not do this",
    404: "Not found",
    408: "The body did not arrive within body_timeout_s",
    409: "Conflict",
    413: "Body too large",
    415: "Compressed body (Content-Encoding other than identity)",
    422: "Invalid document or signature",
    429: "Too many requests: try again after Retry-After seconds",
    503: "Storage or chain unavailable",
}

#: EIP-712 typed data: the ``types`` table of struct members, and the domain.
EIP712_MEMBER = closed({"name": STRING, "type": STRING})
EIP712_TYPES: Schema = {"type": "object", "additionalProperties": array(EIP712_MEMBER),
                        "description": "struct name → its members"}
EIP712_DOMAIN = closed({"name": {"const": "RoyaltySplitter"}, "version": {"const": "1"},
                       "chainId": INTEGER, "verifyingContract": ADDRESS})


def typed_data(primary: str, message: Schema) -> Schema:
    """EIP-712 typed data of struct `primary` whose message is `message`."""
    return closed({"types": EIP712_TYPES, "primaryType": {"const": primary},
                   "domain": EIP712_DOMAIN, "message": message},
                  description=f"EIP-712 {primary} to sign (eth_signTypedData_v4)")
