"""Typed keys for what the application holds, in one place."""

from __future__ import annotations

from aiohttp import web

from ledger.app.provenance import ServiceContext
from ledger.config import Settings
from ledger.metrics import Metrics

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
CONTEXT = web.AppKey("context", ServiceContext)
