"""The aiohttp application factory and its route table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from aiohttp import web

from ledger.api import (
    assets,
    dataset_checks,
    lifecycle,
    olp,
    provenance,
    royalty,
    rsl,
    verifier_page,
    webhooks,
)
from ledger.api.appkeys import CONTEXT, HTTP, METRICS
from ledger.api.errors import json_errors
from ledger.api.signed_requests import forget_refused_nonces
from ledger.app.provenance import ServiceContext
from ledger.config import HttpSettings

#: Opens the service's resources for the app's lifetime and closes them after: the
#: composition root's, handed in so the HTTP layer needs no knowledge of how.
ContextFactory = Callable[[], AbstractAsyncContextManager[ServiceContext]]


def routes() -> list[web.RouteDef]:
    """Every route of HTTP API v1."""
    return [
        web.post("/v1/manifests", provenance.post_manifest),
        web.post("/v1/manifests:batch", provenance.post_manifest_batch),
        web.get("/v1/manifests/{digest}", provenance.get_manifest),
        web.get("/v1/manifests/{digest}/proof", provenance.get_proof),
        web.get("/v1/manifests/{digest}/assets/{index}/proof", assets.get_asset_proof),
        web.get("/v1/manifests/{digest}/assets/{index}/evidence", assets.get_evidence),
        web.post("/v1/uploads", assets.post_upload),
        web.get("/v1/uploads/{digest}", assets.get_upload),
        web.put("/v1/uploads/{digest}/chunks/{index}", assets.put_chunk),
        web.get("/v1/assets/by-hash/{sha256}", assets.get_by_hash),
        web.post("/v1/assets/by-hash:batch", assets.post_lookup),
        web.get("/v1/assets/by-hash/{sha256}/status", lifecycle.get_hash_status),
        web.post("/v1/statements", lifecycle.post_statement),
        web.get("/v1/statements/{digest}", lifecycle.get_statement),
        web.get("/v1/manifests/{digest}/status", lifecycle.get_manifest_status),
        web.get("/v1/manifests/{digest}/assets/{index}/status", lifecycle.get_asset_status),
        web.post("/v1/dataset-checks", dataset_checks.post_dataset_check),
        web.get("/v1/dataset-checks/{id}", dataset_checks.get_dataset_check),
        web.get("/v1/batches", provenance.list_batches),
        web.get("/v1/batches/{number}", provenance.get_batch),
        web.get("/v1/roots/{root}", provenance.get_root),
        web.post("/v1/creators", provenance.post_creator),
        web.get("/v1/creators/{id}", provenance.get_creator),
        web.get("/v1/creators/{id}/records", provenance.get_creator_records),
        web.post("/v1/usage", royalty.post_usage),
        web.get("/v1/usage/{event_id}", royalty.get_usage),
        web.get("/v1/usage/{event_id}/proof", royalty.get_usage_proof),
        web.get("/v1/buyers/{address}", royalty.get_buyer),
        web.get("/v1/buyers/{address}/proposals", royalty.get_proposals),
        web.post("/v1/buyers/{address}/cosign", royalty.post_cosign),
        web.get("/v1/creators/{id}/statement", royalty.get_statement),
        web.get("/v1/manifests/{digest}/assets/{assetId}/unsettled", royalty.get_unsettled),
        web.get("/v1/splits/terms", royalty.get_split_terms),
        web.post("/v1/splits", royalty.post_split),
        web.get("/v1/service", provenance.get_service),
        web.get("/v1/openapi.json", provenance.openapi),
        web.post("/v1/webhooks", webhooks.post_webhook),
        web.get("/v1/webhooks", webhooks.list_webhooks),
        web.get("/v1/webhooks/{id}", webhooks.get_webhook),
        web.delete("/v1/webhooks/{id}", webhooks.delete_webhook),
        web.get("/v1/webhooks/{id}/dead-letters", webhooks.get_dead_letters),
        web.post("/v1/webhooks/{id}/dead-letters/{event}/redeliver", webhooks.post_redeliver),
        web.get("/v1/events", webhooks.get_events),
        web.get("/healthz", provenance.healthz),
        web.get("/readyz", provenance.readyz),
        web.get("/metrics", provenance.metrics),
    ]


def page_routes() -> list[web.RouteDef]:
    """The pages served beside the API: the verifier page (docs/verifier-page.md), and
    the RSL documents, ``robots.txt`` and OLP licence server (docs/web-licensing.md)."""
    return [
        web.get("/verify", verifier_page.get_verify),
        web.get("/robots.txt", rsl.get_robots),
        web.get("/rsl.xml", rsl.get_marketplace),
        web.get("/rsl/creators/{creator_id}.xml", rsl.get_creator_document),
        web.get("/rsl/manifests/{digest}.xml", rsl.get_manifest_document),
        web.post("/olp/register", olp.post_register),
        web.post("/olp/token", olp.post_token),
        web.post("/olp/introspect", olp.post_introspect),
        web.get("/olp/jwks.json", olp.get_jwks),
        web.get("/olp/tokens", olp.get_tokens),
    ]


def create_app(http: HttpSettings, open_context: ContextFactory) -> web.Application:
    """The HTTP application; it opens its service context (`open_context`) when it
    starts and closes it when it is cleaned up (aiohttp's `cleanup_ctx`)."""
    app = web.Application(middlewares=[json_errors, forget_refused_nonces],
                          client_max_size=http.max_body_bytes)
    app[HTTP] = http

    async def service(app: web.Application) -> AsyncIterator[None]:
        async with open_context() as ctx:
            app[METRICS] = ctx.metrics
            app[CONTEXT] = ctx
            yield

    app.cleanup_ctx.append(service)
    app.add_routes([*routes(), *page_routes()])
    return app
