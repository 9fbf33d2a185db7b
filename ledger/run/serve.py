"""`ledger serve`: the HTTP service and its workers until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from ledger.api.app import create_app
from ledger.chain.deploy import Deployment
from ledger.config import Settings
from ledger.run.compose import Service, start_service

log = logging.getLogger(__name__)


def event_loop_runner() -> asyncio.Runner:
    """An event loop for the service: uvloop's when it is installed (faster HTTP)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


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
    service = await start_service(settings, replica=replica)
    runner = web.AppRunner(create_app(service.ctx), access_log=None, handle_signals=False,
                           **server_options(settings))
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=replica is not None)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://{settings.host}:{port}"
        if replica is None:
            write_endpoint(settings.data_dir, url, service.rpc_url, service.deployment)
        yield service, url
    finally:
        await runner.cleanup()
        await service.close()


def make_private(data_dir: Path) -> None:
    """Keep the data folder to its owner: the process creates files 0600 and folders
    0700 from now on (umask 077), and what the folder already holds (database, WAL,
    keys, journals, metrics) is made so too, whatever the umask was when it was made."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in (data_dir, *data_dir.rglob("*")):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


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


def exit_past_stray_threads(grace_s: float = 5.0) -> None:
    """After a clean stop, give threads `grace_s` to end, then leave even if some have not.

    Python joins every non-daemon thread at exit. A database driver's connection thread
    whose connection was never closed (aiosqlite starts one per connection; a connection
    broken mid-way, as by a full disk, can strand it) would then keep a stopped service
    from exiting for ever. Everything the service acknowledged is committed before it
    answered, and its close has run, so leaving is safe; the stray threads are named.
    """
    deadline = time.monotonic() + grace_s
    for thread in _stray_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    stray = _stray_threads()
    if stray:
        log.warning("exiting although threads still run after a clean stop: %s",
                    ", ".join(t.name for t in stray))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _stray_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate()
            if t is not threading.main_thread() and not t.daemon and t.is_alive()]


async def serve(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly (several processes on one port
    when `serve_processes` > 1)."""
    make_private(settings.data_dir)
    if settings.serve_processes > 1:
        from ledger.run.supervisor import supervise

        await supervise(settings)
        return
    await serve_until_signalled(settings, (signal.SIGINT, signal.SIGTERM))


async def serve_until_signalled(
    settings: Settings, signals: Sequence[signal.Signals], replica: str | None = None
) -> None:
    """`running` until one of `signals` arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
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
