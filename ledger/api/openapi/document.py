"""The OpenAPI 3.1 document of HTTP API v1, generated from the route table and the
shapes in `ledger.api.schemas`; served at GET /v1/openapi.json."""

from __future__ import annotations

from typing import Any

from ledger.api.openapi.assets import OPERATIONS as ASSETS
from ledger.api.openapi.dataset_checks import OPERATIONS as DATASET_CHECKS
from ledger.api.openapi.lifecycle import OPERATIONS as LIFECYCLE
from ledger.api.openapi.operation import Operation
from ledger.api.openapi.provenance import OPERATIONS as PROVENANCE
from ledger.api.openapi.royalty import OPERATIONS as ROYALTY
from ledger.api.openapi.web_licensing import OPERATIONS as WEB_LICENSING
from ledger.api.openapi.webhooks import OPERATIONS as WEBHOOKS
from ledger.api.schemas import components


def operations() -> list[Operation]:
    """Every operation of HTTP API v1, provenance first."""
    return [*PROVENANCE, *ASSETS, *ROYALTY, *LIFECYCLE, *DATASET_CHECKS, *WEBHOOKS]


def page_operations() -> list[Operation]:
    """The pages for crawlers beside API v1 (`ledger.api.app.page_routes`): RSL
    documents, ``robots.txt`` and the OLP licence server. The verifier page, a page for
    people, is not declared."""
    return list(WEB_LICENSING)


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    paths: dict[str, dict[str, Any]] = {}
    for op in [*operations(), *page_operations()]:
        paths.setdefault(op.path, {})[op.method.lower()] = op.to_openapi()
    return {
        "openapi": "3.1.0",
        "info": {"title": "ledger", "version": "1"},
        "paths": paths,
        "components": {"schemas": components()},
    }
