"""HTTP handlers of usage intake, usage receipts, buyer views and creator statements."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ledger.api.appkeys import CONTEXT, METRICS
from ledger.api.caching import not_final
from ledger.api.errors import status_of
from ledger.api.provenance import int_query, parse_hex32, read_body
from ledger.api.read_auth import (
    is_operator,
    require_buyer,
    require_creator,
    signed_reader,
    usage_reader,
)
from ledger.app.accounts import RoyaltyAccounts, statement_csv
from ledger.app.clock import now_ms
from ledger.app.royalty import Accepted, UsageService
from ledger.app.split_prices import unsettled_usage
from ledger.core.canonical import parse_strict
from ledger.core.fields import ADDRESS, ASSET_ID
from ledger.core.hashing import checksum_address
from ledger.core.royalty.auth import UsageAuthError
from ledger.errors import Forbidden, LedgerError, Unauthenticated, ValidationError


def _usage(request: web.Request) -> UsageService:
    return request.app[CONTEXT].usage


def _accounts(request: web.Request) -> RoyaltyAccounts:
    return request.app[CONTEXT].accounts


def _item_status(error: LedgerError) -> int:
    # An event of another source in a batch: refused (403), the error's own code kept.
    return 403 if isinstance(error, UsageAuthError) else status_of(error)


async def post_usage(request: web.Request) -> web.Response:
    """POST /v1/usage: one event or ``{"events": [...]}``, HMAC-signed by its source."""
    usage = _usage(request)
    try:
        usage.check_headers(request.headers)
    except UsageAuthError as exc:
        raise Unauthenticated(exc.message, field=exc.field) from exc
    body = await read_body(request, "usage")
    try:
        source = usage.authenticate(request.headers, body)
    except UsageAuthError as exc:
        raise Unauthenticated(exc.message, field=exc.field) from exc
    try:
        results, batch = await usage.accept(source, parse_strict(body))
    except UsageAuthError as exc:
        raise Forbidden(exc.message, field=exc.field) from exc
    if not batch:
        (only,) = results
        assert isinstance(only, Accepted)
        return web.json_response(only.to_obj(), status=202 if only.created else 200)
    out: list[dict[str, Any]] = []
    counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
    for result in results:
        if isinstance(result, Accepted):
            counts["accepted" if result.created else "duplicates"] += 1
            out.append(result.to_obj())
        else:
            counts["rejected"] += 1
            request.app[METRICS].rejected.inc()
            out.append({"httpStatus": _item_status(result), "error": result.to_dict()})
    if counts["rejected"] == len(results):
        # An error status carries the error body every client reads, here the first
        # event's, beside the results.
        first = out[0]
        return web.json_response({"error": first["error"], **counts, "results": out},
                                 status=first["httpStatus"])
    return web.json_response({**counts, "results": out},
                             status=202 if counts["accepted"] else 200)


async def get_usage(request: web.Request) -> web.Response:
    """GET /v1/usage/{event_id}: where the event stands (batch, settlement, hold); for
    the source that reported it, or the operator (``?source=``)."""
    usage = _usage(request)
    record = await usage.stored_event(usage_reader(request, usage), request.match_info["event_id"])
    return web.json_response(await usage.event_json(record))


async def get_usage_proof(request: web.Request) -> web.Response:
    """GET /v1/usage/{event_id}/proof: the usage receipt once anchored, else 202 + status;
    for the source that reported it, or the operator (``?source=``)."""
    usage = _usage(request)
    record = await usage.stored_event(usage_reader(request, usage), request.match_info["event_id"])
    status = await usage.event_json(record)
    receipt = await usage.receipt(record)
    if receipt is None:
        return not_final(web.json_response(status, status=202), private=True)
    return not_final(web.json_response({**status, "receipt": receipt.to_obj()}), private=True)


async def get_buyer(request: web.Request) -> web.Response:
    """GET /v1/buyers/{address}: deposit, spending and limits per token, and usage; for
    the buyer or the operator."""
    accounts = _accounts(request)
    buyer = _buyer_address(request)
    require_buyer(request, buyer)
    return web.json_response(await accounts.buyer_view(buyer))


def _buyer_address(request: web.Request) -> str:
    address = request.match_info["address"]
    if not ADDRESS.fullmatch(address):
        raise ValidationError("must be 0x and 40 hex digits", field="address")
    return checksum_address(address)


async def get_proposals(request: web.Request) -> web.Response:
    """GET /v1/buyers/{address}/proposals: settlements awaiting the buyer's co-signature;
    for the buyer or the operator."""
    accounts = _accounts(request)
    buyer = _buyer_address(request)
    require_buyer(request, buyer)
    return web.json_response(await accounts.proposals(buyer))


async def post_cosign(request: web.Request) -> web.Response:
    """POST /v1/buyers/{address}/cosign: the buyer's signature of a proposal."""
    accounts = _accounts(request)
    buyer = _buyer_address(request)
    body, stored = await accounts.cosign(buyer, parse_strict(await read_body(request, "small")))
    return web.json_response(body, status=202 if stored else 200)


async def get_statement(request: web.Request) -> web.Response:
    """GET /v1/creators/{id}/statement[?format=csv]: for the creator or the operator."""
    accounts = _accounts(request)
    await require_creator(request, request.match_info["id"])
    statement = await accounts.statement(request.match_info["id"])
    fmt = request.query.get("format", "json")
    if fmt == "csv":
        return web.Response(text=statement_csv(statement), content_type="text/csv")
    if fmt != "json":
        raise ValidationError("must be json or csv", field="format")
    return web.json_response(statement)


#: The largest time a query takes (ms): the end of year 9999.
_LAST_MS = 253_402_300_799_999


async def get_unsettled(request: web.Request) -> web.Response:
    """GET /v1/manifests/{digest}/assets/{assetId}/unsettled?before=MS: the asset's usage
    from before ``before`` not settled yet, and whether an amendment effective then may
    have its split version registered; for the asset's split owner (its Ethereum key),
    a signing key of its creator, or the operator."""
    usage = _usage(request)
    digest = parse_hex32(request.match_info["digest"], "digest")
    asset_id = request.match_info["assetId"]
    if not ASSET_ID.fullmatch(asset_id):
        raise ValidationError("must be an asset id (asset:…)", field="assetId")
    if "before" not in request.query:
        raise ValidationError("is required: the amendment's effectiveAt (ms)", field="before")
    before = int_query(request, "before", 0, 0, _LAST_MS)
    terms = await usage.terms_book.asset_terms(digest, asset_id, "")
    if not is_operator(request) and signed_reader(request) != f"eth:{terms.owner}":
        await require_creator(request, terms.creator_id)
    found = await unsettled_usage(usage.store, terms, usage.settings.usage_window_s, before,
                                  now_ms())
    return web.json_response(found.to_obj())


async def get_split_terms(request: web.Request) -> web.Response:
    """GET /v1/splits/terms?manifestDigest=0x…&assetId=asset:…: what the owner signs."""
    query = request.query
    body = await _accounts(request).split_request(query.get("manifestDigest", ""),
                                               query.get("assetId", ""))
    return web.json_response(body)


async def post_split(request: web.Request) -> web.Response:
    """POST /v1/splits: an owner's signed split terms, relayed once the manifest is anchored."""
    body = await _accounts(request).add_split_signature(
        parse_strict(await read_body(request, "small")))
    return web.json_response(body, status=202)
