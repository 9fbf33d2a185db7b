"""`ledger serve` with `serve_processes` > 1: several serving processes on one port.

One event loop does the HTTP, JSON and storage work of every request it serves; on
several cores, several processes that each do all of a request's work (signature
checks included, with no hand-off to verifier workers) answer more requests than one
loop beside verifier workers (docs/benchmarks.md). The supervisor migrates the
database, starts the embedded chain and deploys to it once, takes the port, and
runs that many serving processes, each listening on the port with SO_REUSEPORT: the
kernel spreads new connections over them by a hash of each connection, not by which
process happens to wake first on one shared socket. They are replicas, as on
PostgreSQL: each accepts and reads everything, and the one holding the lease seals,
anchors and settles (docs/operations.md). A serving process that dies is started
again; SIGINT or SIGTERM stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from multiprocessing.context import SpawnProcess

from ledger.chain.deploy import Deployment
from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.metrics import process_exited, share_between_processes
from ledger.run.compose import configure_logging, prepared_for_replicas
from ledger.run.process import event_loop_runner, exit_past_stray_threads
from ledger.run.serve import serve_until_signalled, write_endpoint

log = logging.getLogger(__name__)

#: How long a serving process gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 30.0
#: A serving process that dies is started again after this long (not in a tight loop).
RESTART_DELAY_S = 1.0


async def supervise(settings: Settings) -> None:
    """Run `settings.serve_processes` serving processes until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with prepared_for_replicas(settings) as shared:
        share_between_processes(settings.data_dir / "metrics")
        with _port(settings.host, settings.port) as port:
            shared = replace(shared, port=port)
            processes = [_ServingProcess(shared, str(i)) for i in range(settings.serve_processes)]
            try:
                await _run(settings, shared, processes, stop)
            finally:
                log.info("stopping")
                await asyncio.gather(*(asyncio.to_thread(p.stop) for p in processes))


async def _run(settings: Settings, shared: Settings, processes: list[_ServingProcess],
               stop: asyncio.Event) -> None:
    """Start the serving processes, record the endpoint once one listens, and start
    again any that exits, until `stop` is set."""
    for process in processes:
        process.start()
    await _listening(settings.host, shared.port, processes)
    url = f"http://{settings.host}:{shared.port}"
    assert shared.rpc_url is not None and shared.deployment_file is not None
    write_endpoint(settings.data_dir, url, shared.rpc_url,
                   Deployment.read(shared.deployment_file))
    log.info("serving on %s with %d processes", url, len(processes))
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RESTART_DELAY_S):
                await stop.wait()
        for process in processes:
            if not stop.is_set() and not process.alive:
                log.warning("serving process %s exited (code %s): starting it again",
                            process.name, process.exitcode)
                process.start()


@contextlib.contextmanager
def _port(host: str, port: int) -> Iterator[int]:
    """Hold `port` (0: a free one) for the serving processes' SO_REUSEPORT sockets.

    The socket is bound but never listens, so it gets no connections; it keeps the
    port ours while serving processes restart."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}",
                              field="port") from exc
        yield int(sock.getsockname()[1])


async def _listening(host: str, port: int, processes: list[_ServingProcess]) -> None:
    """Wait until a serving process accepts connections on the port."""
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if not any(p.alive for p in processes):
                raise ConfigError("every serving process exited at start (see the log above)",
                                  field="serve_processes") from None
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return


class _ServingProcess:
    """One serving process: a replica of the service on the shared port."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.name = name
        self._settings = settings
        self._process: SpawnProcess | None = None

    @property
    def alive(self) -> bool:
        """Whether the process runs."""
        return self._process is not None and self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        """The exit code of the process once it ended."""
        return None if self._process is None else self._process.exitcode

    def start(self) -> None:
        """Start (or start again) the process."""
        previous = self._process
        if previous is not None and previous.pid is not None:
            process_exited(previous.pid)
        # spawn: a fresh interpreter, not a fork of this threaded one.
        process = multiprocessing.get_context("spawn").Process(
            target=_serve_one,
            args=(self._settings, self.name),
            name=f"ledger-serve-{self.name}",
        )
        process.start()
        self._process = process

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within `STOP_TIMEOUT_S`."""
        process = self._process
        if process is None or not process.is_alive():
            return
        process.terminate()
        process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            log.warning("serving process %s did not stop in %g s: killed", self.name,
                        STOP_TIMEOUT_S)
            process.kill()
            process.join()


def _serve_one(settings: Settings, name: str) -> None:
    """A serving process's main: serve until SIGTERM or the supervisor's end."""
    configure_logging(settings.log_level)
    # Ctrl-C reaches the whole process group: the supervisor stops its processes itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_stop_with_supervisor, daemon=True).start()
    with event_loop_runner() as runner:
        runner.run(serve_until_signalled(settings, (signal.SIGTERM,), name))
    exit_past_stray_threads()


def _stop_with_supervisor() -> None:
    # A supervisor killed outright (SIGKILL, OOM) cannot stop its processes: they see
    # its sentinel close and stop themselves, as on SIGTERM.
    supervisor = multiprocessing.parent_process()
    if supervisor is not None:
        multiprocessing.connection.wait([supervisor.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)
