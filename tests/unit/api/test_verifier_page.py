"""GET /verify serves the built verifier page, the same bytes as the file in the package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import cast

from aiohttp.test_utils import TestClient, TestServer

from ledger.api.app import create_app
from ledger.api.verifier_page import page_bytes
from ledger.app.provenance import ServiceContext
from ledger.config import Settings


@asynccontextmanager
async def no_service() -> AsyncIterator[ServiceContext]:
    yield cast(ServiceContext, SimpleNamespace(metrics=object()))


async def test_verify_serves_the_page_that_loads_nothing_else() -> None:
    async with TestClient(TestServer(create_app(Settings().http, no_service))) as client:
        response = await client.get("/verify")
        body = await response.read()
    assert response.status == 200
    assert response.content_type == "text/html" and response.charset == "utf-8"
    assert body == page_bytes()
    assert b"<title>ledger: check an evidence package</title>" in body
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src http: https:" in policy
    # One file: no script, style or image comes from anywhere else.
    assert b"<script src" not in body and b"<link" not in body
