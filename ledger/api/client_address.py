"""Which client a request came from, for limits kept per caller: the peer's address,
or, behind reverse proxies the operator trusts (`HttpSettings.trusted_proxy_hops`), the
address the nearest of them was connected from, as it appended it to
``X-Forwarded-For``. Entries further left were written by the client, or by proxies
nobody vouches for, and are never read: anyone can send the header."""

from __future__ import annotations

from aiohttp import web


def client_address(request: web.BaseRequest, trusted_hops: int) -> str:
    """The address a per-caller limit counts ``request`` under: with ``trusted_hops``
    proxies in front, the ``trusted_hops``-th ``X-Forwarded-For`` entry from the right
    (the header's lines read as one list); the peer's address when there are none, or
    fewer entries than proxies (the request did not come through them all), or that
    entry is empty."""
    peer = request.remote or ""
    if trusted_hops <= 0:
        return peer
    entries = ",".join(request.headers.getall("X-Forwarded-For", ())).split(",")
    if len(entries) < trusted_hops:
        return peer
    return entries[-trusted_hops].strip() or peer
