"""The service serves the generated OpenAPI document, and health and metrics answer."""

from __future__ import annotations

import re

import pytest

from ledger.api.openapi import openapi_document
from tests.integration.service.conftest import Running

pytestmark = pytest.mark.chain


async def test_the_served_document_is_the_generated_one(svc: Running) -> None:
    status, doc = await svc.client._request("GET", "/v1/openapi.json")
    assert status == 200 and doc == openapi_document()


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
