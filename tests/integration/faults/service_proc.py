"""`ledger serve` as a child process that a fault test can crash and restart.

The service runs against a chain the test owns (``--rpc-url``), so killing it with
SIGKILL leaves the chain untouched. It keeps its port across restarts, so a client
keeps its URL; it is bound to the test process (PR_SET_PDEATHSIG) and stopped by
the fixture that made it, so no run leaves one behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import aiohttp

from tests.support import free_port

_PR_SET_PDEATHSIG = 1
# Looked up once in the parent: between fork and exec the child must not dlopen.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_parent() -> None:
    # In the child before exec: the kernel kills the service if the test process dies.
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ServiceProcess:
    """One `ledger serve` on an external chain, with its data dir and a fixed port.

    ``env`` adds ``LEDGER_*`` settings (e.g. ``{"LEDGER_POLL_INTERVAL_S": "0.05"}``).
    Output of every run is appended to `log_path`, beside ``data_dir``.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        rpc_url: str,
        deployment_file: Path,
        anchorer_key: str,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.log_path = data_dir.parent / f"{data_dir.name}-service.log"
        self.starts = 0
        self._command = [
            sys.executable, "-m", "ledger.cli", "serve",
            "--data-dir", str(data_dir), "--port", str(self.port),
            "--rpc-url", rpc_url, "--deployment-file", str(deployment_file),
            *args,
        ]
        self._env = {
            **os.environ,
            "LEDGER_ANCHORER_KEY": anchorer_key,
            "LEDGER_LOG_LEVEL": "info",
            **(env or {}),
        }
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The service's base URL (the same across restarts)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint_file(self) -> Path:
        """The file the service writes once it listens."""
        return self.data_dir / "endpoint.json"

    @property
    def pid(self) -> int:
        """The running process's id."""
        assert self._proc is not None and self._proc.poll() is None, "the service is not running"
        return self._proc.pid

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def spawn(self) -> None:
        """Start the process without waiting for it to listen."""
        assert not self.running, "the service is already running"
        self.endpoint_file.unlink(missing_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.starts}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self._command,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if _prctl is not None else None,
            )

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the service listens (endpoint.json written, /healthz answers)."""
        deadline = time.monotonic() + timeout
        while not self.endpoint_file.exists() or not await self._answers():
            if not self.running:
                raise AssertionError(f"`ledger serve` exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"`ledger serve` not ready in {timeout:g}s:\n"
                                     f"{self.log_tail()}")
            await asyncio.sleep(0.05)

    async def start(self, timeout: float = 60.0) -> None:
        """Spawn and wait until it listens."""
        self.spawn()
        await self.wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL: a crash at whatever instant this lands."""
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()
        self._proc.wait()
        self._proc = None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (a clean shutdown), SIGKILL after ``timeout``; the exit status."""
        if self._proc is None:
            return None
        proc, self._proc = self._proc, None
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def pause(self) -> None:
        """SIGSTOP: the process is frozen (a long GC pause, a stalled VM) until `resume`."""
        assert self._proc is not None, "the service is not running"
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        assert self._proc is not None, "the service is not running"
        self._proc.send_signal(signal.SIGCONT)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """`pause` for the block, `resume` after: it does nothing meanwhile, so what the
        test does to the chain in the block looks like one instant to it."""
        self.pause()
        try:
            yield
        finally:
            self.resume()

    async def restart(self, timeout: float = 60.0) -> None:
        """Kill (if running) and start again."""
        self.kill()
        await self.start(timeout)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the service's output, for failure messages."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        """All output of every run so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def _answers(self) -> bool:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
                session.get(self.url + "/healthz") as response,
            ):
                return response.status in (200, 503)
        except (aiohttp.ClientError, TimeoutError):
            return False
