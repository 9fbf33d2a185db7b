"""The licensing Worker (web/worker/dist/worker.js) run locally in workerd through
Miniflare (web/worker/run.mjs): for `ledger demo` and the edge tests. In production
the Worker is deployed with wrangler (docs/web-licensing.md)."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ledger.chain.anvil import repo_root
from ledger.errors import LedgerError

RUNNER = Path("web") / "worker" / "run.mjs"
BUNDLE = Path("web") / "worker" / "dist" / "worker.js"
START_TIMEOUT_S = 60.0


#: The lowest port `free_port` picks: above the well-known services' usual ports.
LOWEST_PICKED_PORT = 15_000


def free_port() -> int:
    """A loopback TCP port nothing listens on now (for a Worker whose address must be
    known before it starts, or restarted on the same address).

    Picked at random below the kernel's ephemeral range: the port is only bound later,
    and a port from that range (bind(0)'s answer) may meanwhile be handed to another
    socket's bind(0) or to an outgoing connection, after which the server cannot bind it
    (a CI run lost a Worker's start so). bind(0)'s answer where there is no room below.
    """
    low = _ephemeral_low()
    if low - LOWEST_PICKED_PORT >= 1000:
        for port in random.sample(range(LOWEST_PICKED_PORT, low), 64):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        found: int = s.getsockname()[1]
        return found


def _ephemeral_low() -> int:
    """The lowest port the kernel gives bind(0) and outgoing connections (Linux; 32768,
    its default, elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def missing() -> str | None:
    """Why the Worker cannot run here (no node, no Miniflare, no bundle), or None."""
    root = repo_root()
    if shutil.which("node") is None:
        return "node is not installed"
    if not (root / "node_modules" / "miniflare").is_dir():
        return "npm package miniflare is not installed (scripts/setup.sh)"
    if not (root / BUNDLE).is_file():
        return f"the Worker bundle {BUNDLE} is missing (node web/worker/build.mjs)"
    return None


class Edge:
    """The Worker running in workerd; `stop` ends it, keeping its queue's files."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url

    async def stats(self, queue: str = "usage") -> dict[str, Any]:
        """The counts of the usage queue named `queue` (``usage:<location>`` with
        QUEUE_SPLIT=colo): queued, delivered, failures, refused."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"stats {queue}\n".encode())
        await self.process.stdin.drain()
        stats: dict[str, Any] = json.loads(await self.process.stdout.readline())
        return stats

    async def stop(self) -> None:
        """End workerd (stdin closed: Miniflare disposes of it)."""
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_edge(persist: Path, settings: Mapping[str, str], port: int = 0,
                     script: Path | None = None, cf: Mapping[str, Any] | None = None
                     ) -> Edge:
    """Start the Worker with `settings` as its bindings and its queue's SQLite files in
    `persist`, on loopback `port` (0: any); `script`, a module inside the repository,
    in place of the Worker's bundle (the benches' do-nothing Worker); `cf`, every
    request's ``request.cf`` (where Cloudflare would say it arrived)."""
    root = repo_root()
    config = json.dumps({"persist": str(persist), "port": port, "bindings": dict(settings),
                         **({} if script is None else {"script": str(root / script)}),
                         **({} if cf is None else {"cf": dict(cf)})})
    process = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", str(root / RUNNER), config, cwd=root,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        limit=16 * 1024 * 1024)
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
    except TimeoutError:
        line = b""
    if not line:
        await Edge(process, "").stop()
        raise LedgerError("the licensing Worker did not start in workerd")
    return Edge(process, json.loads(line)["url"])
