"""Typed keys for what the application holds, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from ledger.config import Settings
from ledger.metrics import Metrics

if TYPE_CHECKING:
    from ledger.app.provenance import ServiceContext

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
CONTEXT: web.AppKey[ServiceContext] = web.AppKey("context")
