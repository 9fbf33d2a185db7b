"""HTTP handlers of webhook subscriptions and the event feed: the operator's."""

from __future__ import annotations

from aiohttp import web

from ledger.api.appkeys import CONTEXT
from ledger.api.provenance import read_body
from ledger.api.read_auth import is_operator
from ledger.app.webhooks import Webhooks
from ledger.core.canonical import parse_strict
from ledger.core.events import Filters
from ledger.errors import Forbidden, Unauthenticated


def _webhooks(request: web.Request) -> Webhooks:
    _require_operator(request)
    return request.app[CONTEXT].webhooks


def _require_operator(request: web.Request) -> None:
    if is_operator(request):
        return
    if "Authorization" not in request.headers:
        raise Unauthenticated("send the operator's token (Authorization: Bearer)")
    raise Forbidden("only the operator manages webhooks and reads the event feed")


async def post_webhook(request: web.Request) -> web.Response:
    """POST /v1/webhooks: subscribe; the answer carries the secret, this once."""
    webhooks = _webhooks(request)
    made = await webhooks.subscribe(parse_strict(await read_body(request, "small")))
    return web.json_response(made, status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    """GET /v1/webhooks."""
    return web.json_response(await _webhooks(request).list())


async def get_webhook(request: web.Request) -> web.Response:
    """GET /v1/webhooks/{id}."""
    return web.json_response(await _webhooks(request).get(request.match_info["id"]))


async def delete_webhook(request: web.Request) -> web.Response:
    """DELETE /v1/webhooks/{id}."""
    await _webhooks(request).delete(request.match_info["id"])
    return web.Response(status=204)


async def get_dead_letters(request: web.Request) -> web.Response:
    """GET /v1/webhooks/{id}/dead-letters."""
    return web.json_response(await _webhooks(request).dead_letters(request.match_info["id"]))


async def post_redeliver(request: web.Request) -> web.Response:
    """POST /v1/webhooks/{id}/dead-letters/{event}/redeliver."""
    event = request.match_info["event"]
    await _webhooks(request).redeliver(request.match_info["id"], event)
    return web.json_response({"redeliver": event}, status=202)


async def get_events(request: web.Request) -> web.Response:
    """GET /v1/events?after=CURSOR&limit=N (and filters): the pull feed."""
    _require_operator(request)
    query = request.query
    types = query.get("types")
    filters = Filters.parse(types.split(",") if types else None, query.get("creatorId"),
                            query.get("buyer"), query.get("manifestDigest"))
    feed = await request.app[CONTEXT].events.feed(query.get("after"), query.get("limit"),
                                                  filters)
    return web.json_response(feed)
