"""Who may read what (docs/royalties.md, "Who may read what").

Buyer views and proposals are the buyer's, statements the creator's, usage events the
metering source's that reported them; the operator (``Authorization: Bearer`` and
`Settings.admin_token`) reads all. A buyer or creator signs the read
(`ledger.core.reads`) with its key; a source authenticates it with its HMAC key
over ``GET <path>``. No credentials: 401; credentials of someone else: 403.
"""

from __future__ import annotations

import hmac
import time

from aiohttp import web

from ledger.api.appkeys import CONTEXT, HTTP
from ledger.app.clock import now_ms
from ledger.app.royalty import UsageService
from ledger.core.reads import (
    KEY_HEADER,
    READ_TAG,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    read_payload,
)
from ledger.core.royalty.auth import UsageAuthError
from ledger.core.signing import verify_message
from ledger.errors import Forbidden, LedgerError, Unauthenticated, ValidationError


def is_operator(request: web.Request) -> bool:
    """True when the request carries the operator's admin token."""
    token = request.app[HTTP].admin_token
    given = request.headers.get("Authorization", "")
    return (token is not None and given.startswith("Bearer ")
            and hmac.compare_digest(given[len("Bearer "):].encode(), token.encode()))


def signed_reader(request: web.Request) -> str:
    """The public id of the key that signed this read; 401 if none did."""
    key = request.headers.get(KEY_HEADER)
    stamp = request.headers.get(TIMESTAMP_HEADER)
    signature = request.headers.get(SIGNATURE_HEADER)
    if not key or not stamp or not signature:
        raise Unauthenticated(f"sign the read ({KEY_HEADER}, {TIMESTAMP_HEADER}, "
                              f"{SIGNATURE_HEADER}) or send the operator's token")
    window = request.app[HTTP].signed_window_s
    try:
        payload = read_payload(request.raw_path, stamp)
        if abs(time.time() - int(stamp)) > window:
            raise Unauthenticated(f"is more than {window:g} s from the service's clock",
                                  field=TIMESTAMP_HEADER)
        verify_message(READ_TAG, payload, signature, key)
    except Unauthenticated:
        raise
    except LedgerError as exc:
        raise Unauthenticated(exc.message, field=exc.field or SIGNATURE_HEADER) from exc
    return key


def require_buyer(request: web.Request, buyer: str) -> None:
    """Let the operator or `buyer` (its Ethereum key, ``eth:<address>``) through."""
    if is_operator(request):
        return
    if signed_reader(request) != f"eth:{buyer}":
        raise Forbidden(f"only buyer {buyer} or the operator may read this")


async def require_creator(request: web.Request, creator_id: str) -> None:
    """Let the operator or a current signing key of `creator_id` through."""
    if is_operator(request):
        return
    key = signed_reader(request)
    creator = await request.app[CONTEXT].creators.get(creator_id)
    if creator is None or not creator.can_sign(key, now_ms()):
        raise Forbidden(f"only a signing key of {creator_id} or the operator may read this")


def usage_reader(request: web.Request, usage: UsageService) -> str:
    """The source whose events this request may read: the one that authenticated it
    (HMAC over ``GET <path>``), or for the operator the ``source`` query parameter."""
    if is_operator(request):
        source = request.query.get("source")
        if not source:
            raise ValidationError("the operator names the event's source", field="source")
        return source
    if "X-Ledger-Source" not in request.headers:
        raise Unauthenticated("authenticate as the metering source (X-Ledger-Source, "
                              "X-Ledger-Timestamp, X-Ledger-Signature) or send the "
                              "operator's token")
    try:
        return usage.authenticate(request.headers, f"GET {request.raw_path}".encode())
    except UsageAuthError as exc:
        raise Unauthenticated(exc.message, field=exc.field) from exc

