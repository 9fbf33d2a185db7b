"""HTTP handlers of webhook subscriptions and the event feed.

The operator's token manages every subscription and reads the whole feed; a creator or
a buyer signs its request (`ledger.api.signed_requests`) and manages only its own,
reading only its own events (docs/lifecycle.md, "Who may subscribe").
"""

from __future__ import annotations

from aiohttp import web

from ledger.api.appkeys import CONTEXT
from ledger.api.provenance import read_body
from ledger.api.read_auth import is_operator
from ledger.api.signed_requests import is_signed, signed_principal
from ledger.app.webhooks import Webhooks
from ledger.core.canonical import parse_strict
from ledger.core.events import Filters, Principal
from ledger.errors import Forbidden, Unauthenticated


async def _caller(request: web.Request, body: bytes = b"") -> Principal | None:
    """None for the operator; else the creator or buyer that signed the request."""
    if is_operator(request):
        return None
    if is_signed(request):
        return await signed_principal(request, body)
    if "Authorization" not in request.headers:
        raise Unauthenticated("send the operator's token (Authorization: Bearer) or sign "
                              "the request as a creator or a buyer")
    raise Forbidden("not the operator's token")


def _webhooks(request: web.Request) -> Webhooks:
    return request.app[CONTEXT].webhooks


async def post_webhook(request: web.Request) -> web.Response:
    """POST /v1/webhooks: subscribe; the answer carries the secret, this once."""
    body = await read_body(request, "small")
    principal = await _caller(request, body)
    made = await _webhooks(request).subscribe(parse_strict(body), principal)
    return web.json_response(made, status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    """GET /v1/webhooks: every subscription, or the signer's own."""
    principal = await _caller(request)
    return web.json_response(await _webhooks(request).list(principal))


async def get_webhook(request: web.Request) -> web.Response:
    """GET /v1/webhooks/{id}."""
    principal = await _caller(request)
    return web.json_response(await _webhooks(request).get(request.match_info["id"],
                                                          principal))


async def delete_webhook(request: web.Request) -> web.Response:
    """DELETE /v1/webhooks/{id}."""
    principal = await _caller(request)
    await _webhooks(request).delete(request.match_info["id"], principal)
    return web.Response(status=204)


async def get_dead_letters(request: web.Request) -> web.Response:
    """GET /v1/webhooks/{id}/dead-letters."""
    principal = await _caller(request)
    return web.json_response(await _webhooks(request).dead_letters(request.match_info["id"],
                                                                   principal))


async def post_redeliver(request: web.Request) -> web.Response:
    """POST /v1/webhooks/{id}/dead-letters/{event}/redeliver."""
    principal = await _caller(request, await read_body(request, "small"))
    event = request.match_info["event"]
    await _webhooks(request).redeliver(request.match_info["id"], event, principal)
    return web.json_response({"redeliver": event}, status=202)


async def get_events(request: web.Request) -> web.Response:
    """GET /v1/events?after=CURSOR&limit=N (and filters): the pull feed."""
    principal = await _caller(request)
    query = request.query
    types = query.get("types")
    filters = Filters.parse(types.split(",") if types else None, query.get("creatorId"),
                            query.get("buyer"), query.get("manifestDigest"))
    feed = await request.app[CONTEXT].events.feed(query.get("after"), query.get("limit"),
                                                  filters, principal)
    return web.json_response(feed)
