"""Turning errors into JSON responses: `{"error": {"code", "message", "field"?}}`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ledger.api.appkeys import METRICS
from ledger.chain.rpc import ChainUnavailableError
from ledger.errors import (
    CanonicalJSONError,
    Conflict,
    Forbidden,
    LedgerError,
    LicenceRefused,
    NotFound,
    ProofError,
    RateLimited,
    SignatureError,
    StorageError,
    Unauthenticated,
    Unavailable,
    ValidationError,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class UnreadableBody(LedgerError):
    """The request body is not well framed (cut off mid-chunk)."""

    code = "unreadable_body"


class BodyTimeout(LedgerError):
    """The request body did not arrive within `body_timeout_s`."""

    code = "body_timeout"


class BodyTooLarge(LedgerError):
    """The request body is over its route's limit."""

    code = "body_too_large"


class UnsupportedEncoding(LedgerError):
    """The request body is compressed; the service does not inflate."""

    code = "unsupported_encoding"


class InternalError(LedgerError):
    """A bug of ours: the client learns only that, the operator's log has the rest."""

    code = "internal"


#: The HTTP status of every error, in one place. An error takes the status of the
#: nearest class in its ancestry listed here; `LedgerError` itself is a bad request.
STATUS: dict[type[LedgerError], int] = {
    LedgerError: 400,
    CanonicalJSONError: 400,
    UnreadableBody: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    BodyTimeout: 408,
    Conflict: 409,
    LicenceRefused: 409,
    BodyTooLarge: 413,
    UnsupportedEncoding: 415,
    ValidationError: 422,
    SignatureError: 422,
    ProofError: 422,
    RateLimited: 429,
    InternalError: 500,
    Unavailable: 503,
    ChainUnavailableError: 503,
}


class ClientGone(Exception):
    """The client closed its connection while sending its body: nobody is left to answer."""

    def __init__(self, request: web.BaseRequest, received: int) -> None:
        super().__init__(f"{request.method} {request.path}: client left after {received} bytes")


#: Content-Encoding values that mean the body is sent as is.
_IDENTITY = ("", "identity")


def error_response(status: int, error: LedgerError) -> web.Response:
    """The JSON error body every failing request gets (with ``Retry-After`` when the
    error says when to try again)."""
    response = web.json_response({"error": error.to_dict()}, status=status)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after_s)
    return response


def status_of(error: LedgerError) -> int:
    """The HTTP status for an error (`STATUS`)."""
    for cls in type(error).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return STATUS[LedgerError]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every failure with the JSON error body and the right status, and close the
    connection after any answer that left part of the body unread (a refused
    encoding, an over-limit or unauthenticated upload): the client is told at once,
    and nothing more of that body is read."""
    response = await _answer(request, handler)
    if not request.content.is_eof():
        response.force_close()
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ClientGone as gone:
        log.warning("%s", gone)
        return web.Response(status=400)
    except LedgerError as exc:
        status = status_of(exc)
        if status < 500:
            request.app[METRICS].rejected.inc()
        elif isinstance(exc, StorageError):
            log.warning("database failed on %s %s: %s", request.method, request.path, exc)
            request.app[METRICS].storage_errors.inc()
        return error_response(status, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return web.json_response({"error": {"code": code, "message": exc.reason}},
                                 status=exc.status)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, InternalError("internal error; the operator's log has details"))


def refuse_encoded(request: web.BaseRequest) -> None:
    """415 for a compressed body, before any of it is read (by `read_body`; a route
    that reads no body leaves it unread and the connection is closed after the answer).

    The server does not inflate (`auto_decompress=False`): a few megabytes of gzip can
    inflate to gigabytes, and aiohttp would do it on the event loop.
    """
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in _IDENTITY:
        raise UnsupportedEncoding("send the body uncompressed (no Content-Encoding)",
                                  field="Content-Encoding")

