"""GET /verify: the verifier page (docs/verifier-page.md), one static HTML file with
its script inlined, built from web/verifier/ and kept in the package.

The page checks evidence in the reader's browser against pins the reader types; the
service only hands out its bytes, the same bytes anyone can open from a file.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from aiohttp import web

#: What the page may load: nothing but its own inline script and style, and JSON-RPC
#: calls to the node URLs its reader types (the same policy as the page's meta tag).
_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
           "connect-src http: https:; img-src data:; form-action 'none'; base-uri 'none'; "
           "frame-ancestors 'none'")


@cache
def page_bytes() -> bytes:
    """The built page (ledger/api/static/verify.html)."""
    return files("ledger.api").joinpath("static", "verify.html").read_bytes()


async def get_verify(request: web.Request) -> web.Response:
    """GET /verify: the verifier page."""
    del request
    return web.Response(
        body=page_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": _POLICY, "Cache-Control": "no-cache",
                 "X-Content-Type-Options": "nosniff"},
    )
