"""Webhook subscriptions: who is sent which events, where, with which secret.

The operator manages every subscription (a marketplace's or a metering source's are
the operator's, made for them). A creator or a buyer (`Principal`, from a signed
request) makes, lists and deletes its own, scoped to the events about it.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from ledger.app.clock import now_ms
from ledger.core.events import Filters, Principal, Subscription
from ledger.errors import Conflict, Forbidden, NotFound, ValidationError
from ledger.storage.events import EventStore

#: The fields a subscription request may carry.
_FIELDS = frozenset({"url", "types", "creatorId", "buyer", "manifestDigest"})

#: Standard Webhooks asks for 24 to 64 random bytes; this is 32.
_SECRET_BYTES = 32
#: The most subscriptions a creator or a buyer may hold (the operator's are not capped):
#: each is a queue the worker drains, so a signer must not make thousands.
MAX_OWN = 20


class Webhooks:
    """Creating, reading and deleting subscriptions, and their dead letters."""

    def __init__(self, store: EventStore, *, urls: Literal["public", "any"],
                 clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._urls = urls
        self._clock = clock

    async def subscribe(self, obj: object, principal: Principal | None = None
                        ) -> dict[str, Any]:
        """Store the subscription `obj` asks for (for `principal`, None: the operator),
        starting after the newest event; it, with its secret (shown this once)."""
        if not isinstance(obj, Mapping):
            raise ValidationError("must be a JSON object", field="body")
        unknown = sorted(set(obj) - _FIELDS)
        if unknown:
            raise ValidationError("is not a subscription field", field=unknown[0])
        url = check_url(obj.get("url"), self._urls)
        filters = Filters.parse(obj.get("types"), obj.get("creatorId"), obj.get("buyer"),
                                obj.get("manifestDigest"))
        if principal is not None:
            filters = principal.scope(filters)
            if len(await self._store.subscriptions(principal.owner)) >= MAX_OWN:
                raise Conflict(f"{principal.owner} has {MAX_OWN} subscriptions already: "
                               "delete one first", field="url")
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()
        sub = Subscription(id="wh_" + secrets.token_hex(12), url=url, filters=filters,
                           secret=secret, created_at=self._clock(),
                           cursor=await self._store.last_seq(),
                           owner=None if principal is None else principal.owner)
        await self._store.subscribe(sub)
        return {**sub.to_obj(), "secret": secret}

    async def get(self, webhook_id: str, principal: Principal | None = None
                  ) -> dict[str, Any]:
        """The subscription and where its delivery stands; NotFound if there is none,
        Forbidden if it is not `principal`'s."""
        return (await self._find(webhook_id, principal)).to_obj()

    async def list(self, principal: Principal | None = None) -> dict[str, Any]:
        """Every subscription (`principal`'s own when given)."""
        owner = None if principal is None else principal.owner
        return {"webhooks": [s.to_obj() for s in await self._store.subscriptions(owner)]}

    async def delete(self, webhook_id: str, principal: Principal | None = None) -> None:
        """Delete the subscription and its dead letters; NotFound if there is none."""
        await self._find(webhook_id, principal)
        if not await self._store.unsubscribe(webhook_id):
            raise NotFound(f"no webhook {webhook_id}", field="id")

    async def dead_letters(self, webhook_id: str, principal: Principal | None = None
                           ) -> dict[str, Any]:
        """The subscription's dead letters (up to 1,000, oldest first)."""
        await self._find(webhook_id, principal)
        letters = await self._store.dead_letters(webhook_id, 1_000)
        return {"deadLetters": [d.to_obj() for d in letters]}

    async def redeliver(self, webhook_id: str, event_id: str,
                        principal: Principal | None = None) -> None:
        """Have the worker send dead letter `event_id` once more, with its id."""
        await self._find(webhook_id, principal)
        if not await self._store.ask_redelivery(webhook_id, event_id, self._clock()):
            raise NotFound(f"no dead letter {event_id} of webhook {webhook_id}", field="event")

    async def _find(self, webhook_id: str, principal: Principal | None) -> Subscription:
        sub = await self._store.get(webhook_id)
        if sub is None:
            raise NotFound(f"no webhook {webhook_id}", field="id")
        if principal is not None and sub.owner != principal.owner:
            raise Forbidden(f"webhook {webhook_id} is not yours", field="id")
        return sub


def check_url(value: object, policy: Literal["public", "any"]) -> str:
    """`value` if it is an http(s) URL a subscription may name under `policy`: with
    "public", not one naming loopback, private or link-local addresses (a subscriber
    must not make the service call into its own network). A name is checked here only
    for the obvious; under "public" the worker delivers only to public addresses the
    name resolves to when it connects (`ledger.workers.public_resolver`)."""
    if not isinstance(value, str) or not 0 < len(value) <= 2000:
        raise ValidationError("must be an http(s) URL of up to 2000 characters", field="url")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("must be an http(s) URL", field="url")
    if parts.username or parts.password:
        raise ValidationError("must not carry credentials (the signature authenticates)",
                              field="url")
    if policy == "public" and not _public(parts.hostname):
        raise ValidationError("must name a public host (webhook_urls is public)", field="url")
    return value


def _public(host: str) -> bool:
    host = host.rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True  # a name: the worker checks what it resolves to when it connects
    return public_address(host)


#: IPv6 prefixes whose last 32 bits are an IPv4 address a packet may end up at:
#: IPv4-compatible (deprecated) and NAT64's well-known prefix.
_EMBEDDING = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b::/96"))
#: NAT64's local-use prefix (RFC 8215): translated to the operator's own IPv4 space.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def public_address(host: str) -> bool:
    """True if `host` is an IP address on the public internet: global, not multicast,
    and not an IPv6 address that carries a non-public IPv4 one (IPv4-mapped, 6to4,
    NAT64, IPv4-compatible), which some stacks and gateways deliver to that IPv4."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return True
    if address in _LOCAL_NAT64:
        return False
    inner = address.ipv4_mapped or address.sixtofour
    if inner is None and any(address in net for net in _EMBEDDING):
        inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return inner is None or public_address(str(inner))
