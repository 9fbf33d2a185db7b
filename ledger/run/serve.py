"""A service listening on HTTP, until it is stopped or a signal arrives."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from ledger.api.app import create_app
from ledger.app.provenance import ServiceContext
from ledger.chain.deploy import Deployment
from ledger.config import Settings
from ledger.run.compose import Service, start_service
from ledger.run.process import end_stray_tasks, make_private

log = logging.getLogger(__name__)


@asynccontextmanager
async def running(
    settings: Settings, replica: str | None = None
) -> AsyncIterator[tuple[Service, str]]:
    """The service listening on HTTP; yields it with its base URL, stops it on exit.

    With `replica`, it is serving process `replica` of several on one port
    (`ledger.run.supervisor`, which records the endpoint itself): its socket
    shares the port with theirs (SO_REUSEPORT), and the kernel spreads new
    connections over them.
    """
    make_private(settings.data_dir)
    started: list[Service] = []

    @asynccontextmanager
    async def open_context() -> AsyncIterator[ServiceContext]:
        service = await start_service(settings, replica=replica)
        started.append(service)
        try:
            yield service.ctx
        finally:
            await service.close()

    # The app opens the service as it starts (runner.setup) and closes it on cleanup.
    runner = web.AppRunner(create_app(settings.http, open_context), access_log=None,
                           handle_signals=False, **server_options(settings))
    try:
        await runner.setup()
        (service,) = started
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=replica is not None)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://{settings.host}:{port}"
        if replica is None:
            write_endpoint(settings.data_dir, url, service.rpc_url, service.deployment)
        yield service, url
    finally:
        await runner.cleanup()


def server_options(settings: Settings) -> dict[str, Any]:
    """aiohttp's connection options that bound what a slow or hostile client can hold.

    - No inflating (`auto_decompress`): compressed bodies are refused unread (415).
    - `keepalive_timeout` closes a connection that has not completed a request's headers
      within `idle_timeout_s` of connecting or of its last answer: aiohttp arms it when
      the connection opens and bytes of an unfinished header do not reset it, so it
      is also the header timeout (slowloris).
    - `lingering_time`: after an answer that left a body unread, the rest is discarded
      for at most 2 s before closing (so the client reads the answer, not a reset).
    """
    return {"auto_decompress": False, "keepalive_timeout": settings.idle_timeout_s,
            "lingering_time": 2.0}


def write_endpoint(data_dir: Path, url: str, rpc_url: str, deployment: Deployment) -> None:
    """Record where the service listens, so that `ledger submit/proof/status` find a
    service started with the same data dir."""
    info = {
        "url": url,
        "rpcUrl": rpc_url,
        "chainId": deployment.chain_id,
        "registry": deployment.registry.address,
    }
    (data_dir / "endpoint.json").write_text(json.dumps(info, indent=2) + "\n")


async def serve_until_signalled(
    settings: Settings, signals: Sequence[signal.Signals], replica: str | None = None
) -> None:
    """`running` until one of `signals` arrives; then every task left is ended too
    (`end_stray_tasks`), so that the event loop's teardown finds none."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running(settings, replica) as (service, url):
            log.info(
                "serving on %s (chain %d at %s, registry %s)",
                url,
                service.deployment.chain_id,
                service.rpc_url,
                service.deployment.registry.address,
            )
            await stop.wait()
            log.info("stopping")
    finally:
        await end_stray_tasks()
