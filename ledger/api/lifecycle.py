"""Handlers of lifecycle statements and the status of assets (docs/lifecycle.md)."""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from ledger.api.appkeys import CONTEXT
from ledger.api.assets import anchor_chain, path_sha256, registration_json
from ledger.api.provenance import int_query, parse_hex32, read_body
from ledger.app.statements import Statements, effective_at
from ledger.core.canonical import parse_strict
from ledger.core.fields import ASSET_ID
from ledger.core.records import StatementRecord
from ledger.core.statements import Statement
from ledger.errors import ValidationError

# An asset of a manifest: its index (below 2**24, so 8 digits) or its id.
_INDEX = re.compile(r"0|[1-9][0-9]{0,7}")
_MS = re.compile(r"0|[1-9][0-9]{0,15}")
#: The most assets one page of a manifest's status lists.
MAX_PAGE = 1000


def _statements(request: web.Request) -> Statements:
    return request.app[CONTEXT].statements


async def post_statement(request: web.Request) -> web.Response:
    """POST /v1/statements: accept one signed lifecycle statement; 202 when stored now,
    200 when it was stored before."""
    obj = parse_strict(await read_body(request, "small"))
    record, created = await _statements(request).accept(obj)
    return _json(statement_json(record), status=202 if created else 200)


async def get_statement(request: web.Request) -> web.Response:
    """GET /v1/statements/{digest}: the statement as signed, and its proof once anchored."""
    digest = parse_hex32(request.match_info["digest"], "digest")
    record, bundle = await _statements(request).get(digest)
    proof = None if bundle is None or bundle.anchor is None else orjson.Fragment(
        bundle.to_json())
    return _json({**statement_json(record), "statement": orjson.Fragment(record.body),
                  "proof": proof})


async def get_asset_status(request: web.Request) -> web.Response:
    """GET /v1/manifests/{digest}/assets/{index}/status?at=MS: one asset's status."""
    digest = parse_hex32(request.match_info["digest"], "digest")
    text = request.match_info["index"]
    if not (_INDEX.fullmatch(text) or ASSET_ID.fullmatch(text)):
        raise ValidationError("must be an asset index (0 to 99999999) or an asset id",
                              field="index")
    asset: int | str = text if text.startswith("asset:") else int(text)
    found = await _statements(request).asset_status(digest, asset, _at(request))
    return _json(found.to_obj())


async def get_hash_status(request: web.Request) -> web.Response:
    """GET /v1/assets/by-hash/{sha256}/status?at=MS: every registration of these bytes,
    each with its asset's status (none: ``registered`` false, never a guess)."""
    content_hash = path_sha256(request)
    found = await _statements(request).hash_status(content_hash, _at(request))
    chain = anchor_chain(request)
    return _json({
        "sha256": content_hash.hex(),
        "registered": bool(found),
        "registrations": [{**registration_json(registration, chain),
                           "licenceStatus": status.to_obj()}
                          for registration, status in found],
    })


async def get_manifest_status(request: web.Request) -> web.Response:
    """GET /v1/manifests/{digest}/status?at=MS&after=I&limit=N: a page of the manifest's
    assets, each with its status."""
    digest = parse_hex32(request.match_info["digest"], "digest")
    after = int_query(request, "after", 0, 0, 2**24)
    limit = int_query(request, "limit", 100, 1, MAX_PAGE)
    page, following = await _statements(request).manifest_status(
        digest, _at(request), after=after, limit=limit)
    return _json({"manifestDigest": "0x" + digest.hex(),
                  "assets": [status.to_obj() for status in page], "next": following})


def statement_json(record: StatementRecord) -> dict[str, Any]:
    """The public view of a stored statement (without its body)."""
    return {
        "digest": "0x" + record.digest.hex(),
        "type": record.type,
        "manifestDigest": "0x" + record.manifest_digest.hex(),
        "effectiveAt": effective_at(Statement.from_stored(record.body)),
        "acceptedAt": record.accepted_at,
        "status": record.status,
        "batchNumber": record.batch_number,
    }


def _at(request: web.Request) -> int | None:
    raw = request.query.get("at")
    if raw is None:
        return None
    if not _MS.fullmatch(raw):
        raise ValidationError("must be a time in milliseconds since the Unix epoch",
                              field="at")
    return int(raw)


def _json(data: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")
