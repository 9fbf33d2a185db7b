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
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from ledger.chain.anvil import repo_root
from ledger.cli.worker import BUNDLE

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
    """A running `workerd serve` (one process or several on one socket): its base URL
    and process ids."""

    url: str
    pids: tuple[int, ...]

    def cpu_s(self) -> float:
        """CPU seconds the processes have used so far (user and system; Linux's /proc)."""
        total = 0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def plain_workerd(folder: Path, settings: Mapping[str, str],
                        script: Path = BUNDLE, *, processes: int = 1) -> AsyncIterator[Served]:
    """The Worker (`script`, relative to the repository) served by workerd alone for the
    length of the block: by `processes` processes accepting on one listening socket,
    each with a queue (Durable Object storage) of its own. workerd runs a process's
    requests on one thread; several processes are how it uses several cores, as
    Cloudflare spreads a Worker's requests over many machines."""
    root = repo_root()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    started: list[asyncio.subprocess.Process] = []
    try:
        for n in range(processes):
            own = folder / str(n) if processes > 1 else folder
            (own / "queue").mkdir(parents=True)
            shutil.copyfile(root / script, own / "worker.js")
            (own / "edge.capnp").write_text(config(settings, own / "queue", port))
            started.append(await asyncio.create_subprocess_exec(
                str(root / "node_modules" / ".bin" / "workerd"), "serve", "edge.capnp",
                "--experimental", f"--socket-fd=http={listener.fileno()}", cwd=own,
                pass_fds=(listener.fileno(),), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        await _serving(url)
        yield Served(url, tuple(process.pid for process in started))
    finally:
        for process in started:
            process.terminate()
        for process in started:
            await process.wait()
        listener.close()


async def _serving(url: str, attempts: int = 200) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(attempts):
            try:
                async with http.get(url + "/robots.txt"):
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise RuntimeError("workerd did not start")
