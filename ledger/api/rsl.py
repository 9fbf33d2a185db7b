"""Handlers of the RSL documents (``application/rsl+xml``) and ``robots.txt``: what is
offered now, for the marketplace, one creator or one manifest."""

from __future__ import annotations

from aiohttp import web

from ledger.api.appkeys import CONTEXT
from ledger.api.provenance import parse_hex32
from ledger.app.clock import now_ms
from ledger.app.rsl import RslPublisher
from ledger.core.rsl import MEDIA_TYPE

# Documents change when anchors and statements do: caches may keep them a minute.
_CACHE = {"Cache-Control": "public, max-age=60"}


def _publisher(request: web.Request) -> RslPublisher:
    return request.app[CONTEXT].licensing.publisher


def licence_link(*urls: str) -> str:
    """A ``Link`` header naming the RSL documents at ``urls`` (RSL 1.0, "Adding RSL to
    HTTP Headers")."""
    return ", ".join(f'<{url}>; rel="license"; type="{MEDIA_TYPE}"' for url in urls)


def _xml(body: bytes, publisher: RslPublisher) -> web.Response:
    return web.Response(body=body, content_type=MEDIA_TYPE, charset="utf-8",
                        headers={**_CACHE, "Link": licence_link(publisher.marketplace_url)})


async def get_marketplace(request: web.Request) -> web.Response:
    """GET /rsl.xml: every anchored asset offered now."""
    publisher = _publisher(request)
    return _xml(await publisher.document(now_ms()), publisher)


async def get_creator_document(request: web.Request) -> web.Response:
    """GET /rsl/creators/{creator_id}.xml: one creator's assets offered now."""
    publisher = _publisher(request)
    body = await publisher.document(now_ms(), creator_id=request.match_info["creator_id"])
    return _xml(body, publisher)


async def get_manifest_document(request: web.Request) -> web.Response:
    """GET /rsl/manifests/{digest}.xml: one manifest's assets offered now."""
    publisher = _publisher(request)
    digest = parse_hex32(request.match_info["digest"], "digest")
    return _xml(await publisher.document(now_ms(), manifest_digest=digest), publisher)


async def get_robots(request: web.Request) -> web.Response:
    """GET /robots.txt: with the ``License:`` line naming the marketplace document."""
    return web.Response(text=_publisher(request).robots_txt(), content_type="text/plain",
                        headers=_CACHE)
