"""Turning errors into JSON responses: `{"error": {"code", "message", "field"?}}`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import sqlalchemy.exc
from aiohttp import web

from ledger.api.appkeys import METRICS
from ledger.chain.rpc import ChainUnavailableError
from ledger.errors import (
    CanonicalJSONError,
    LedgerError,
    ProofError,
    SignatureError,
    StorageError,
    ValidationError,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS: dict[type[LedgerError], int] = {
    CanonicalJSONError: 400,
    ValidationError: 422,
    SignatureError: 422,
    ProofError: 422,
    StorageError: 503,
    ChainUnavailableError: 503,
}


class HTTPProblem(LedgerError):
    """An error a handler raises with its own HTTP status."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.code = code


class ClientGone(Exception):
    """The client closed its connection while sending its body: nobody is left to answer."""

    def __init__(self, request: web.BaseRequest, received: int) -> None:
        super().__init__(f"{request.method} {request.path}: client left after {received} bytes")


#: Content-Encoding values that mean the body is sent as is.
_IDENTITY = ("", "identity")


def error_response(status: int, error: LedgerError) -> web.Response:
    """The JSON error body every failing request gets."""
    return web.json_response({"error": error.to_dict()}, status=status)


def status_of(error: LedgerError) -> int:
    """The HTTP status for a domain error."""
    if isinstance(error, HTTPProblem):
        return error.status
    for cls, status in _STATUS.items():
        if isinstance(error, cls):
            return status
    return 400


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
            request.app[METRICS].storage_errors.inc()
        return error_response(status, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return error_response(exc.status, HTTPProblem(exc.status, code, exc.reason))
    except Exception as exc:
        if _database_unavailable(exc):
            reason = str(getattr(exc, "orig", None) or exc).strip().split("\n", 1)[0]
            log.warning("database failed on %s %s: %s", request.method, request.path, reason)
            request.app[METRICS].storage_errors.inc()
            down = StorageError("the database failed the request; retry later")
            return error_response(503, down)
        log.exception("unhandled error on %s %s", request.method, request.path)
        problem = HTTPProblem(500, "internal", "internal error; the operator's log has details")
        return error_response(500, problem)


def refuse_encoded(request: web.BaseRequest) -> None:
    """415 for a compressed body, before any of it is read (by `read_body`; a route
    that reads no body leaves it unread and the connection is closed after the answer).

    The server does not inflate (`auto_decompress=False`): a few megabytes of gzip can
    inflate to gigabytes, and aiohttp would do it on the event loop.
    """
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in _IDENTITY:
        raise HTTPProblem(415, "unsupported_encoding",
                          "send the body uncompressed (no Content-Encoding)",
                          field="Content-Encoding")


def _database_unavailable(exc: Exception) -> bool:
    """True for a database call the stores do not wrap (a creator's keys, a batch page)
    that failed because the database is down, full or refusing: the client can only
    wait that out (503). A wrong statement or value is our bug (500).

    OSError too: SQLAlchemy wraps only the driver's own errors, so a refused
    connection arrives raw; the chain clients wrap theirs, so it is the database's.
    Not a reset connection: that is the HTTP client going away mid-upload.
    """
    if isinstance(exc, ConnectionResetError):
        return False
    if isinstance(exc, OSError | sqlalchemy.exc.TimeoutError):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and not isinstance(exc, _DATABASE_BUGS)


#: Database errors that mean our statement or data is wrong, not the database.
_DATABASE_BUGS = (
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.NotSupportedError,
)
