"""Domain errors become HTTP answers in one place: the status table and the middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import sqlalchemy.exc
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ledger.api.appkeys import METRICS
from ledger.api.errors import (
    STATUS,
    BodyTimeout,
    BodyTooLarge,
    UnreadableBody,
    UnsupportedEncoding,
    json_errors,
    status_of,
)
from ledger.chain.rpc import ChainUnavailableError
from ledger.errors import (
    AlreadyExists,
    BuyerWithdrawing,
    CanonicalJSONError,
    ChainError,
    ConfigError,
    Conflict,
    Forbidden,
    LeaseLostError,
    LedgerError,
    NotFound,
    ProofError,
    RateLimited,
    SignatureError,
    StorageError,
    Unauthenticated,
    Unavailable,
    ValidationError,
)
from ledger.metrics import Metrics


@pytest.mark.parametrize(("error", "status"), [
    (CanonicalJSONError("x"), 400), (UnreadableBody("x"), 400), (ConfigError("x"), 400),
    (ChainError("x"), 400), (Unauthenticated("x"), 401), (Forbidden("x"), 403),
    (NotFound("x"), 404), (BodyTimeout("x"), 408), (Conflict("x"), 409),
    (AlreadyExists("x"), 409), (BuyerWithdrawing("x"), 409), (BodyTooLarge("x"), 413),
    (UnsupportedEncoding("x"), 415), (ValidationError("x"), 422), (SignatureError("x"), 422),
    (ProofError("x"), 422), (RateLimited("x", retry_after_s=1), 429),
    (Unavailable("x"), 503), (StorageError("x"), 503),
    (LeaseLostError("x"), 503), (ChainUnavailableError("x"), 503),
])
def test_each_error_has_its_status(error: LedgerError, status: int) -> None:
    assert status_of(error) == status


def test_an_error_not_listed_takes_its_nearest_listed_ancestor() -> None:
    class Gone(NotFound):
        code = "gone"

    class Odd(LedgerError):
        code = "odd"

    assert Gone not in STATUS and status_of(Gone("x")) == 404
    assert status_of(Odd("x")) == 400


class _Count:
    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class _Metrics:
    def __init__(self) -> None:
        self.rejected = _Count()
        self.storage_errors = _Count()


def _raising(error: BaseException) -> Any:
    async def handler(request: web.Request) -> web.Response:
        raise error

    return handler


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(middlewares=[json_errors])
    app[METRICS] = cast(Metrics, _Metrics())
    app.add_routes([
        web.get("/exists", _raising(AlreadyExists("creator creator:a already exists"))),
        web.get("/missing", _raising(NotFound("no manifest with this digest",
                                              field="digest"))),
        web.get("/storage", _raising(StorageError("the database failed the request; "
                                                  "retry later"))),
        web.get("/bug", _raising(sqlalchemy.exc.ProgrammingError("SELECT", {}, Exception()))),
        web.get("/busy", _raising(RateLimited("too many things: try again in 7 s",
                                              retry_after_s=7))),
    ])
    async with TestClient(TestServer(app)) as made:
        yield made


async def test_answers_keep_their_json_body(
    client: TestClient[web.Request, web.Application],
) -> None:
    expected = {
        "/exists": (409, {"code": "exists", "message": "creator creator:a already exists"}),
        "/missing": (404, {"code": "not_found", "message": "no manifest with this digest",
                           "field": "digest"}),
        "/storage": (503, {"code": "storage_error",
                           "message": "the database failed the request; retry later"}),
        "/bug": (500, {"code": "internal",
                       "message": "internal error; the operator's log has details"}),
        "/nowhere": (404, {"code": "not_found", "message": "Not Found"}),
    }
    for path, (status, error) in expected.items():
        response = await client.get(path)
        assert (response.status, await response.json()) == (status, {"error": error}), path
    metrics = cast(_Metrics, client.app[METRICS])
    assert (metrics.rejected.value, metrics.storage_errors.value) == (2, 1)


async def test_a_rate_limited_answer_says_when_to_try_again(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/busy")
    assert response.status == 429 and response.headers["Retry-After"] == "7"
    assert (await response.json())["error"]["code"] == "rate_limited"
