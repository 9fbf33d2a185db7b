"""workerd without Miniflare, for bench/edge_bench.py.

Miniflare puts an entry Worker of its own in front of ours and runs developer
services beside it; on this machine that layer alone shows tail latencies of tens of
milliseconds at 500 requests/s, where a do-nothing Worker served by workerd itself
stays near a millisecond. Cloudflare runs a Worker with neither, so the overhead goal
is measured here: the same bundle, bindings and SQLite-backed Durable Object, from a
config written for `workerd serve`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from ledger.chain.anvil import repo_root
from ledger.cli.worker import BUNDLE, free_port

_CONFIG = """using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .edge),
    (name = "internet", network = (allow = ["public", "private", "local"])),
    (name = "queue-files", disk = (path = {queue}, writable = true)),
  ],
  sockets = [(name = "http", address = {address}, http = (), service = "main")],
);
const edge :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "2025-09-01",
  bindings = [
{bindings}
    (name = "USAGE_QUEUE", durableObjectNamespace = "UsageQueue"),
  ],
  durableObjectNamespaces = [
    (className = "UsageQueue", uniqueKey = "usage-queue", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "queue-files"),
);
"""


def _text(value: str) -> str:
    """A Cap'n Proto text literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config(settings: Mapping[str, str], queue: Path, port: int) -> str:
    """The `workerd serve` config of the Worker with `settings` as its text bindings."""
    bindings = "\n".join(f"    (name = {_text(name)}, text = {_text(value)}),"
                         for name, value in settings.items())
    return _CONFIG.format(queue=_text(str(queue)), address=_text(f"127.0.0.1:{port}"),
                          bindings=bindings)


@dataclass(frozen=True)
class Served:
    """A running `workerd serve`: its base URL and process id."""

    url: str
    pid: int

    def cpu_s(self) -> float:
        """CPU seconds the process has used so far (user and system; Linux's /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def plain_workerd(folder: Path, settings: Mapping[str, str],
                        script: Path = BUNDLE) -> AsyncIterator[Served]:
    """The Worker (`script`, relative to the repository) served by workerd alone for the
    length of the block."""
    root = repo_root()
    folder.mkdir(parents=True)
    (folder / "queue").mkdir()
    shutil.copyfile(root / script, folder / "worker.js")
    port = free_port()
    (folder / "edge.capnp").write_text(config(settings, folder / "queue", port))
    process = await asyncio.create_subprocess_exec(
        str(root / "node_modules" / ".bin" / "workerd"), "serve", "edge.capnp",
        "--experimental", cwd=folder, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await _serving(url)
        yield Served(url, process.pid)
    finally:
        process.terminate()
        await process.wait()


async def _serving(url: str, attempts: int = 200) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(attempts):
            try:
                async with http.get(url + "/robots.txt"):
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise RuntimeError("workerd did not start")
