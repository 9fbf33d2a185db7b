"""The aiohttp application factory and its route table."""

from __future__ import annotations

from aiohttp import web

from ledger.service import handlers, usage_handlers
from ledger.service.appkeys import CONTEXT, METRICS, SETTINGS
from ledger.service.context import ServiceContext
from ledger.service.http_errors import json_errors


def routes() -> list[web.RouteDef]:
    """Every route of HTTP API v1."""
    return [
        web.post("/v1/manifests", handlers.post_manifest),
        web.post("/v1/manifests:batch", handlers.post_manifest_batch),
        web.get("/v1/manifests/{digest}", handlers.get_manifest),
        web.get("/v1/manifests/{digest}/proof", handlers.get_proof),
        web.get("/v1/batches", handlers.list_batches),
        web.get("/v1/batches/{number}", handlers.get_batch),
        web.get("/v1/roots/{root}", handlers.get_root),
        web.post("/v1/creators", handlers.post_creator),
        web.get("/v1/creators/{id}", handlers.get_creator),
        web.post("/v1/usage", usage_handlers.post_usage),
        web.get("/v1/usage/{event_id}", usage_handlers.get_usage),
        web.get("/v1/usage/{event_id}/proof", usage_handlers.get_usage_proof),
        web.get("/v1/buyers/{address}", usage_handlers.get_buyer),
        web.get("/v1/buyers/{address}/proposals", usage_handlers.get_proposals),
        web.post("/v1/buyers/{address}/cosign", usage_handlers.post_cosign),
        web.get("/v1/creators/{id}/statement", usage_handlers.get_statement),
        web.get("/v1/splits/terms", usage_handlers.get_split_terms),
        web.post("/v1/splits", usage_handlers.post_split),
        web.get("/v1/service", handlers.get_service),
        web.get("/v1/openapi.json", handlers.openapi),
        web.get("/healthz", handlers.healthz),
        web.get("/readyz", handlers.readyz),
        web.get("/metrics", handlers.metrics),
    ]


def create_app(ctx: ServiceContext) -> web.Application:
    """The HTTP application over a running service context."""
    app = web.Application(middlewares=[json_errors], client_max_size=ctx.settings.max_body_bytes)
    app[SETTINGS] = ctx.settings
    app[METRICS] = ctx.metrics
    app[CONTEXT] = ctx
    app.add_routes(routes())
    return app
