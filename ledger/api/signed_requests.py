"""Who sent a signed request (`ledger.core.signed_requests`): a creator or a buyer
acting for itself (its webhooks, its event feed, a dataset check made for it).

Checked in this order, each failure a 4xx and nothing stored: every header present
and well formed (401), the timestamp within ``usage_window_s`` of the service clock
(401), the signature over method, path, timestamp, nonce, creator and body (401), the
key a signing key of the creator named, now, or a wallet when no creator is named
(403); last the nonce, recorded until the timestamp leaves the window, so the same
request sent again is refused (401).

The nonce is claimed before the handler validates the body and writes, and released
(`forget_refused_nonces`) if the handler then refuses the request with a 4xx: a refused
request stores nothing, and its signer may sign a corrected one with that nonce. The
claim commits first so that a crash after the write can never leave an accepted
request's nonce unrecorded (a replay accepted twice); a crash between a refusal and the
release only leaves a nonce unusable until it expires. A 5xx keeps the claim: the write
may have happened.
"""

from __future__ import annotations

from aiohttp import web

from ledger.api.appkeys import CONTEXT, HTTP
from ledger.api.errors import Handler, status_of
from ledger.app.clock import now_ms
from ledger.core.events import Principal
from ledger.core.reads import KEY_HEADER, TIMESTAMP_HEADER
from ledger.core.signed_requests import (
    CREATOR_HEADER,
    HEADERS,
    NONCE_HEADER,
    REQUEST_TAG,
    SIGNATURE_HEADER,
    request_payload,
)
from ledger.core.signing import address_of, verify_message
from ledger.errors import Forbidden, LedgerError, Unauthenticated

#: The key and nonce this request claimed, if it is a signed one that got that far.
_CLAIMED = web.RequestKey("signed_nonce", tuple[str, str])


def is_signed(request: web.Request) -> bool:
    """True when the request carries any header of a signed request."""
    return any(name in request.headers for name in (*HEADERS, CREATOR_HEADER))


async def signed_principal(request: web.Request, body: bytes) -> Principal:
    """The creator or buyer that signed this request with `body` (b"" for none)."""
    headers = request.headers
    missing = [name for name in HEADERS if not headers.get(name)]
    if missing:
        raise Unauthenticated(f"sign the request ({', '.join(HEADERS)}, and "
                              f"{CREATOR_HEADER} for a creator) or send the operator's token",
                              field=missing[0])
    key, stamp = headers[KEY_HEADER], headers[TIMESTAMP_HEADER]
    nonce, creator_id = headers[NONCE_HEADER], headers.get(CREATOR_HEADER)
    window = request.app[HTTP].signed_window_s
    now = now_ms()
    try:
        payload = request_payload(request.method, request.raw_path, stamp, nonce, creator_id,
                                  body)
        if abs(now / 1000 - int(stamp)) > window:
            raise Unauthenticated(f"is more than {window:g} s from the service's clock",
                                  field=TIMESTAMP_HEADER)
        verify_message(REQUEST_TAG, payload, headers[SIGNATURE_HEADER], key)
    except Unauthenticated:
        raise
    except LedgerError as exc:
        raise Unauthenticated(exc.message, field=exc.field or SIGNATURE_HEADER) from exc
    principal = await _principal(request, key, creator_id, now)
    expires_at = (int(stamp) + int(window) + 1) * 1000
    if not await request.app[CONTEXT].request_nonces.claim(key, nonce, expires_at=expires_at,
                                                           now=now):
        raise Unauthenticated("was used already: a signed request is sent once (sign it "
                              "again, with a new nonce)", field=NONCE_HEADER)
    request[_CLAIMED] = (key, nonce)
    return principal


@web.middleware
async def forget_refused_nonces(request: web.Request, handler: Handler
                                ) -> web.StreamResponse:
    """Release the nonce a signed request claimed if the request is refused (4xx)."""
    try:
        return await handler(request)
    except LedgerError as exc:
        claimed = request.get(_CLAIMED)
        if claimed is not None and status_of(exc) < 500:
            await request.app[CONTEXT].request_nonces.release(*claimed)
        raise


async def _principal(request: web.Request, key: str, creator_id: str | None,
                     now: int) -> Principal:
    if creator_id is not None:
        creator = await request.app[CONTEXT].creators.get(creator_id)
        if creator is None or not creator.can_sign(key, now):
            raise Forbidden(f"the key is not a signing key of {creator_id} now",
                            field=CREATOR_HEADER)
        return Principal(creator_id=creator_id)
    address = address_of(key)
    if address is None:
        raise Forbidden(f"a key that is no wallet signs for a creator: name it in "
                        f"{CREATOR_HEADER}", field=CREATOR_HEADER)
    return Principal(buyer=address.lower())
