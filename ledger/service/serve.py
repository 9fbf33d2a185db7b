"""`ledger serve`: the HTTP service and its workers until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from ledger.config import Settings
from ledger.service.app import create_app
from ledger.service.runtime import Service, start_service

log = logging.getLogger(__name__)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Service, str]]:
    """The service listening on HTTP; yields it with its base URL, stops it on exit."""
    service = await start_service(settings)
    runner = web.AppRunner(create_app(service.ctx), access_log=None, handle_signals=False)
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://{settings.host}:{port}"
        _write_endpoint(service, url)
        yield service, url
    finally:
        await runner.cleanup()
        await service.close()


def _write_endpoint(service: Service, url: str) -> None:
    # Lets `ledger submit/proof/status` find a service started with the same data dir.
    info = {
        "url": url,
        "rpcUrl": service.rpc_url,
        "chainId": service.deployment.chain_id,
        "registry": service.deployment.registry.address,
    }
    (service.settings.data_dir / "endpoint.json").write_text(json.dumps(info, indent=2) + "\n")


async def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings) as (service, url):
        log.info(
            "serving on %s (chain %d at %s, registry %s)",
            url,
            service.deployment.chain_id,
            service.rpc_url,
            service.deployment.registry.address,
        )
        await stop.wait()
        log.info("stopping")
