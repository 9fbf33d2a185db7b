"""Typed keys for what the application holds, in one place."""

from __future__ import annotations

from aiohttp import web

from ledger.app.provenance import ServiceContext
from ledger.config import HttpSettings
from ledger.metrics import Metrics

HTTP = web.AppKey("http", HttpSettings)
METRICS = web.AppKey("metrics", Metrics)
CONTEXT = web.AppKey("context", ServiceContext)
