"""Thin HTTP handlers: parse, call the service context, shape the JSON answer."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
from aiohttp import web

from ledger.api.appkeys import CONTEXT, HTTP, METRICS
from ledger.api.caching import not_final, proof_response
from ledger.api.errors import (
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    UnreadableBody,
    refuse_encoded,
    status_of,
)
from ledger.api.openapi import openapi_document
from ledger.config import BodyRoute
from ledger.core.canonical import parse_strict
from ledger.core.records import BatchKind, BatchRecord, ManifestRecord
from ledger.errors import NotFound, ValidationError

_HEX32 = 66
# Batch numbers are SQL BIGINTs; a larger one can name no batch and would overflow the driver.
_BATCH_NUMBER = re.compile(r"[0-9]{1,19}")
_MAX_BATCH_NUMBER = 2**63 - 1


async def post_manifest(request: web.Request) -> web.Response:
    """POST /v1/manifests: accept one signed manifest."""
    ctx = request.app[CONTEXT]
    obj = parse_strict(await read_body(request, "manifest"))
    record, created, receipt = (await ctx.accept([obj]))[0]
    return _json(_accepted(record, receipt), status=202 if created else 200)


async def post_manifest_batch(request: web.Request) -> web.Response:
    """POST /v1/manifests:batch: accept many; each item answered on its own."""
    ctx = request.app[CONTEXT]
    body = parse_strict(await read_body(request, "batch"))
    if not isinstance(body, dict) or set(body) != {"manifests"}:
        raise ValidationError('body must be {"manifests": [...]}', field="manifests")
    items = body["manifests"]
    limit = request.app[HTTP].batch_endpoint_max
    if not isinstance(items, list) or not 1 <= len(items) <= limit:
        raise ValidationError(f"must be a list of 1 to {limit} manifests", field="manifests")
    results = await ctx.accept_many(items)
    out: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, Exception):
            request.app[METRICS].rejected.inc()
            out.append({"httpStatus": status_of(result), "error": result.to_dict()})
        else:
            record, created, receipt = result
            out.append({"httpStatus": 202 if created else 200, **_accepted(record, receipt)})
    return _json({"results": out})


async def get_manifest(request: web.Request) -> web.Response:
    """GET /v1/manifests/{digest}."""
    record = await _manifest_or_404(request)
    return web.json_response(manifest_json(record))


async def get_proof(request: web.Request) -> web.Response:
    """GET /v1/manifests/{digest}/proof: the bundle once confirmed, else 202 + status;
    immutable once its anchor is final."""
    ctx = request.app[CONTEXT]
    digest = parse_hex32(request.match_info["digest"], "digest")
    found = await ctx.manifests.get_with_batch(digest)
    if found is None:
        raise NotFound("no manifest with this digest")
    record, batch = found
    bundle = await ctx.proof_bundle(record, batch)
    if bundle is None:
        return not_final(web.json_response(manifest_json(record), status=202))
    return await proof_response(request, bundle.to_json(), bundle.anchor)


async def list_batches(request: web.Request) -> web.Response:
    """GET /v1/batches?after=N&limit=M."""
    after = int_query(request, "after", 0, 0, 2**62)
    limit = int_query(request, "limit", 100, 1, 1000)
    ctx = request.app[CONTEXT]
    batches = await ctx.manifests.batches(after=after, limit=limit)
    kinds = await ctx.batch_kinds(batches)
    return web.json_response(
        {"batches": [batch_json(b, k) for b, k in zip(batches, kinds, strict=True)]}
    )


async def get_batch(request: web.Request) -> web.Response:
    """GET /v1/batches/{n}."""
    text = request.match_info["number"]
    if not _BATCH_NUMBER.fullmatch(text) or int(text) > _MAX_BATCH_NUMBER:
        raise ValidationError(f"must be an integer from 0 to {_MAX_BATCH_NUMBER}", field="number")
    number = int(text)
    ctx = request.app[CONTEXT]
    batch = await ctx.manifests.batch(number)
    if batch is None:
        raise NotFound(f"no batch {number}")
    (kind,) = await ctx.batch_kinds([batch])
    return web.json_response(batch_json(batch, kind))


async def get_root(request: web.Request) -> web.Response:
    """GET /v1/roots/{root}: the batch whose tree has this root."""
    root = parse_hex32(request.match_info["root"], "root")
    ctx = request.app[CONTEXT]
    batch = await ctx.manifests.batch_by_root(root)
    if batch is None:
        raise NotFound("no batch has this root")
    (kind,) = await ctx.batch_kinds([batch])
    return web.json_response(batch_json(batch, kind))


async def post_creator(request: web.Request) -> web.Response:
    """POST /v1/creators: register, add or revoke a key, or recover (signed actions)."""
    obj = parse_strict(await read_body(request, "small"))
    result, changed = await request.app[CONTEXT].creator_action(obj)
    return web.json_response(result, status=201 if changed else 200)


async def get_creator(request: web.Request) -> web.Response:
    """GET /v1/creators/{id}: how the creator's id was verified, and its keys."""
    return web.json_response(await request.app[CONTEXT].creator_json(request.match_info["id"]))


async def get_creator_records(request: web.Request) -> web.Response:
    """GET /v1/creators/{id}/records: every accepted action, each with its proof once
    anchored."""
    creator_id = request.match_info["id"]
    history = await request.app[CONTEXT].creator_history.of(creator_id)
    records = [
        {
            "record": orjson.Fragment(record.body),
            "digest": "0x" + record.digest.hex(),
            "acceptedAt": record.accepted_at,
            "status": record.status,
            "batchNumber": record.batch_number,
            "proof": None if bundle is None or bundle.anchor is None
            else orjson.Fragment(bundle.to_json()),
        }
        for record, bundle, _ in history
    ]
    return _json({"creatorId": creator_id, "records": records})


async def get_service(request: web.Request) -> web.Response:
    """GET /v1/service: the receipt key, chain and registry this service answers for."""
    return web.json_response(request.app[CONTEXT].service_json())


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: 200 when the database and chain answer, 503 otherwise."""
    report = await request.app[CONTEXT].health()
    return web.json_response(report, status=200 if report["ok"] else 503)


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz: 200 while this process can take intake (its database answers and
    accepts writes), whatever the chain does; 503 otherwise."""
    report = await request.app[CONTEXT].readiness()
    return web.json_response(report, status=200 if report["ready"] else 503)


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics in Prometheus text format."""
    return web.Response(text=request.app[METRICS].render(), content_type="text/plain")


async def openapi(request: web.Request) -> web.Response:
    """GET /v1/openapi.json."""
    return web.json_response(openapi_document())


async def read_body(request: web.Request, route: BodyRoute) -> bytes:
    """The request body, at most the `route`'s limit (`HttpSettings.body_limit`) read within
    `body_timeout_s`: 413 naming the limit, 408 when too slow, 400 if badly framed.

    The declared length is checked before anything is read, and the running total
    while a chunked body streams in, so no more than the limit is ever held.
    A compressed body is refused unread (`ledger.api.errors.refuse_encoded`).
    """
    refuse_encoded(request)
    http = request.app[HTTP]
    limit = http.body_limit(route)
    if request.content_length is not None and request.content_length > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(http.body_timeout_s):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > limit:
                    raise body_too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout(f"the body did not arrive within {http.body_timeout_s:g} s"
                          ) from None
    except web.RequestPayloadError as exc:
        raise UnreadableBody("the request body is not well framed") from exc
    except ConnectionResetError as exc:
        raise ClientGone(request, size) from exc
    return b"".join(chunks)


def body_too_large(limit: int) -> BodyTooLarge:
    """The error naming the route's limit."""
    return BodyTooLarge(f"the request body is over this route's limit of {limit} bytes",
                        field="body")


def parse_hex32(text: str, field: str) -> bytes:
    """A 0x-prefixed 32-byte hex string, or a ValidationError naming `field`."""
    if len(text) != _HEX32 or not text.startswith("0x"):
        raise ValidationError("must be 0x followed by 64 hex digits", field=field)
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise ValidationError("must be 0x followed by 64 hex digits", field=field) from None


def manifest_json(record: ManifestRecord) -> dict[str, Any]:
    """The public view of a manifest record."""
    return {
        "manifestDigest": "0x" + record.digest.hex(),
        "creatorId": record.creator_id,
        "status": record.status,
        "acceptedAt": record.accepted_at,
        "batchNumber": record.batch_number,
        "leafIndex": record.leaf_index,
    }


def batch_json(batch: BatchRecord, kind: BatchKind) -> dict[str, Any]:
    """The public view of a batch holding `kind` of leaves."""
    anchor = batch.anchor
    return {
        "number": batch.number,
        "kind": kind.value,
        "root": "0x" + batch.root.hex(),
        "leafCount": batch.leaf_count,
        "status": batch.status.value,
        "sealedAt": batch.sealed_at,
        "confirmedAt": batch.confirmed_at,
        "anchor": None
        if anchor is None
        else {
            "txHash": "0x" + anchor.tx_hash.hex(),
            "blockNumber": anchor.block_number,
            "blockHash": "0x" + anchor.block_hash.hex(),
            "blockTimestamp": anchor.block_timestamp,
            "gasUsed": anchor.gas_used,
        },
    }


def _json(data: Any, *, status: int = 200) -> web.Response:
    # orjson: a 1,000-manifest answer encodes in 0.3 ms instead of 7 ms.
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _accepted(record: ManifestRecord, receipt: dict[str, Any]) -> dict[str, Any]:
    return {**manifest_json(record), "receipt": receipt}


async def _manifest_or_404(request: web.Request) -> ManifestRecord:
    digest = parse_hex32(request.match_info["digest"], "digest")
    record = await request.app[CONTEXT].manifests.get(digest)
    if record is None:
        raise NotFound("no manifest with this digest")
    return record


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """Query parameter `name` as an integer from `low` to `high` (`default` when absent);
    ValidationError naming it otherwise."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError("must be an integer", field=name) from None
    if not low <= value <= high:
        raise ValidationError(f"must be between {low} and {high}", field=name)
    return value
