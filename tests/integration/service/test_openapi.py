"""The OpenAPI document describes every route, and health and metrics answer."""

from __future__ import annotations

import re

import pytest

from ledger.api.app import routes
from tests.integration.service.conftest import Running

pytestmark = pytest.mark.chain


async def test_openapi_lists_every_route_and_method(svc: Running) -> None:
    _, doc = await svc.client._request("GET", "/v1/openapi.json")
    assert doc["openapi"].startswith("3.")
    for route in routes():
        path = route.path  # type: ignore[attr-defined]
        assert path in doc["paths"], path
        assert route.method.lower() in doc["paths"][path], (route.method, path)  # type: ignore[attr-defined]
    for operations in doc["paths"].values():
        for operation in operations.values():
            assert operation["responses"], operation["summary"]


async def test_health_and_metrics(svc: Running) -> None:
    status, health = await svc.client.health()
    assert status == 200 and health["database"] == "ok" and health["chain"] == "ok"
    assert await svc.client.ready() == (200, {"ready": True, "database": "ok"})
    async with svc.client._session.get(svc.url + "/metrics") as response:  # type: ignore[union-attr]
        text = await response.text()
    for name in (
        "ledger_manifests_accepted_total",
        "ledger_batches_anchored_total",
        "ledger_queue_depth",
        "ledger_anchor_latency_seconds_bucket",
        "ledger_anchor_gas_total",
        "ledger_rpc_errors_total",
    ):
        assert re.search(rf"^{name}", text, re.M), name
