"""The app factory owns its service context: opened as the app starts, closed on cleanup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import cast

from aiohttp import web

from ledger.api.app import create_app
from ledger.api.appkeys import CONTEXT, HTTP, METRICS
from ledger.app.provenance import ServiceContext
from ledger.config import Settings


async def test_the_app_opens_its_context_on_start_and_closes_it_on_cleanup() -> None:
    events: list[str] = []
    ctx = cast(ServiceContext, SimpleNamespace(metrics=object()))

    @asynccontextmanager
    async def open_context() -> AsyncIterator[ServiceContext]:
        events.append("open")
        try:
            yield ctx
        finally:
            events.append("close")

    settings = Settings()
    app = create_app(settings.http, open_context)
    assert events == [] and app[HTTP] == settings.http
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert events == ["open"]
        assert app[CONTEXT] is ctx and app[METRICS] is ctx.metrics
    finally:
        await runner.cleanup()
    assert events == ["open", "close"]
