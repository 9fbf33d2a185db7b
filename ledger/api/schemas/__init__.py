"""Request and response shapes of HTTP API v1, declared once as JSON Schema (2020-12).

`COMPONENTS` names every shape; the OpenAPI document (`ledger.api.openapi`) lists them
under ``components/schemas`` and its operations refer to them by name.
"""

from __future__ import annotations

from ledger.api.schemas import (
    assets,
    dataset_checks,
    lifecycle,
    olp,
    provenance,
    royalty,
    webhooks,
)
from ledger.api.schemas.common import ERROR, Schema
from ledger.api.schemas.manifest import manifest_schema
from ledger.api.schemas.openapi import OPENAPI_DOCUMENT


def components() -> dict[str, Schema]:
    """Every named shape."""
    return {
        "Error": ERROR,
        "Manifest": manifest_schema(),
        "OpenApiDocument": OPENAPI_DOCUMENT,
        **provenance.SCHEMAS,
        **assets.SCHEMAS,
        **royalty.SCHEMAS,
        **dataset_checks.SCHEMAS,
        **lifecycle.SCHEMAS,
        **webhooks.SCHEMAS,
        **olp.SCHEMAS,
    }
