"""HTTP caching of proofs: a final proof never changes, so it is served as immutable.

A final answer (its anchor block final: `ledger.app.evidence.Finality`) carries a strong
``ETag`` (the quoted SHA-256 of the body) and ``Cache-Control: public, max-age=31536000,
immutable``, and a conditional GET naming that tag gets 304 with no body; any CDN or
browser may keep it for good. Every other answer of those routes says ``no-cache``.
A usage proof is never immutable: it is for the source that sent the event (signed
read) and shows the event's settlement, which moves on; it says ``private, no-cache``.
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from ledger.api.appkeys import CONTEXT
from ledger.core.proof import Anchor

#: How long a final answer may be kept: a year, the longest RFC 9111 advises.
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
#: An answer for one reader (a signed or authenticated read): no shared cache keeps it.
PRIVATE = "private, no-cache"


def immutable(request: web.Request, body: bytes) -> web.Response:
    """`body` (JSON) as a final answer: 304 when the request's ``If-None-Match`` holds its
    tag, else 200 with it."""
    tag = '"' + hashlib.sha256(body).hexdigest() + '"'
    headers = {"ETag": tag, "Cache-Control": IMMUTABLE}
    if _matches(request.headers.get("If-None-Match"), tag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


async def proof_response(request: web.Request, body: bytes, anchor: Anchor | None
                         ) -> web.Response:
    """A proof's answer (JSON `body`): immutable once `anchor`'s block is final, else one
    not to be cached."""
    finality = request.app[CONTEXT].evidence.finality
    if anchor is not None and await finality.is_final(anchor.block_number, anchor.block_hash):
        return immutable(request, body)
    return not_final(web.Response(body=body, content_type="application/json"))


def not_final(response: web.Response, *, private: bool = False) -> web.Response:
    """`response`, marked as one a cache must check again before reusing it (`private`:
    one no shared cache may keep, being for one authenticated reader)."""
    response.headers["Cache-Control"] = PRIVATE if private else NO_CACHE
    return response


def _matches(header: str | None, tag: str) -> bool:
    """RFC 9110 section 13.1.2: ``*`` or any listed tag, compared weakly."""
    if header is None:
        return False
    for item in header.split(","):
        candidate = item.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag:
            return True
    return False
