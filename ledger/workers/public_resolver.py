"""Resolving webhook hosts to public addresses only (``webhook_urls = "public"``).

A subscription's URL is checked when it is made, but a public name may resolve to
loopback, a private network or the cloud metadata address, and its DNS may change
after the check (rebinding). So the delivery session resolves through
`PublicResolver`: every address the name resolves to that is not public
(`ledger.app.webhooks.public_address`) is dropped when the worker connects, and a
name left with none fails the attempt before any connection is opened.
"""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult

from ledger.app.webhooks import public_address


class NotPublicError(OSError):
    """A webhook host resolved to no public address."""


class PublicResolver(AbstractResolver):
    """`inner`'s answers, without the addresses that are not public."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """The public addresses of `host`; NotPublicError if it has none."""
        found = await self._inner.resolve(host, port, family)
        public = [entry for entry in found if public_address(entry["host"])]
        if not public:
            refused = ", ".join(sorted({entry["host"] for entry in found}))
            raise NotPublicError(f"{host} resolves to no public address ({refused}) and "
                                 "webhook_urls is public")
        return public

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()
