"""A local anvil node run as a child process: the embedded chain and the test chain.

`AnvilProcess` starts the anvil of the project's npm install on a free port, waits
until JSON-RPC answers, and stops it cleanly. The port is chosen by anvil itself
(``--port 0``) and read from its "Listening on" line, so no other process can take it
between choosing and binding, and a node that answers on the port is known to be ours.

It never leaves an orphan: anvil runs in its own process group, which is terminated on
`stop()`, on interpreter exit, and (on Linux) by the kernel when the thread that
started it dies, even by SIGKILL.

Persistence: with ``state=FILE`` anvil loads FILE at start and dumps the chain to it
on SIGTERM/SIGINT (a clean `stop()`). A SIGKILL dumps nothing, so the chain reverts
to the last dump; ``state_interval`` makes anvil also dump every that many seconds,
which bounds what a SIGKILL loses.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import ctypes
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ledger.errors import ChainError

#: The mnemonic anvil derives its dev accounts from. These keys are PUBLIC test keys,
#: printed by every anvil and hardhat node: never send real value to them.
DEV_MNEMONIC = "test test test test test test test test test test test junk"

#: Private keys of anvil's first ten dev accounts (from `DEV_MNEMONIC`, path
#: m/44'/60'/0'/0/i), each funded with 10,000 ETH at genesis. Public knowledge.
DEV_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)

ANVIL_ENV = "LEDGER_ANVIL"
DEFAULT_CHAIN_ID = 31337
#: Chain ids of local development nodes (anvil, hardhat; ganache): the only chains
#: `fund` will touch, because their balances are free to rewrite.
LOCAL_CHAIN_IDS = (31337, 1337)
_LISTENING = re.compile(r"Listening on \S+:(\d+)")
_PR_SET_PDEATHSIG = 1

_live: set[AnvilProcess] = set()


def repo_root() -> Path:
    """The directory holding `node_modules/` and `contracts/` (the checkout root)."""
    return Path(__file__).resolve().parents[2]


def find_anvil(binary: str | os.PathLike[str] | None = None) -> Path:
    """Locate the anvil executable.

    Order: ``binary``, then ``$LEDGER_ANVIL``, then the project's npm install. The npm
    ``node_modules/.bin/anvil`` is a node wrapper that re-raises SIGTERM on itself as
    soon as it has forwarded it, so it exits before anvil has dumped its state (and a
    SIGKILL of it orphans anvil); the native binary of the platform package it wraps
    is used instead when present.
    """
    explicit = binary if binary is not None else os.environ.get(ANVIL_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ChainError(f"anvil not found at {path} (from {ANVIL_ENV} or the argument)")
        return path
    modules = repo_root() / "node_modules"
    native = modules / "@foundry-rs" / f"anvil-{_npm_platform()}" / "bin" / "anvil"
    if native.is_file():
        return native
    wrapper = modules / ".bin" / "anvil"
    if wrapper.exists():
        return wrapper
    raise ChainError("anvil not found in node_modules: run scripts/setup.sh")


def _npm_platform() -> str:
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    system = {"linux": "linux", "darwin": "darwin", "win32": "win32"}.get(sys.platform, "")
    return f"{system}-{arch}"


class AnvilProcess:
    """One anvil node, started and stopped by this process.

    Usable as ``async with AnvilProcess() as node:`` or ``with AnvilProcess() as node:``;
    `rpc_url` is valid while it runs. A stopped node can be started again: it reuses
    its port (so clients keep their URL) and, with ``state``, its chain.

    ``port`` None lets anvil pick a free one (kept for restarts);
    ``block_time`` mines every that many seconds instead of one block per transaction;
    ``no_mining`` mines only on ``evm_mine``. anvil's output is drained by a thread that
    keeps its last lines for error messages.
    """

    def __init__(
        self,
        *,
        binary: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        state: str | os.PathLike[str] | None = None,
        state_interval: int | None = None,
        block_time: float | None = None,
        no_mining: bool = False,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        if block_time is not None and no_mining:
            raise ChainError("anvil: block_time and no_mining exclude each other")
        self.binary = find_anvil(binary)
        self.host = host
        self.chain_id = chain_id
        self.state = Path(state) if state is not None else None
        self.state_interval = state_interval
        self.block_time = block_time
        self.no_mining = no_mining
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=40)
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port anvil listens on (fixed after the first start)."""
        if self._port is None:
            raise ChainError("anvil has not been started")
        return self._port

    @property
    def rpc_url(self) -> str:
        """The HTTP JSON-RPC endpoint."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running anvil, or None."""
        return self._proc.pid if self.running else None  # type: ignore[union-attr]

    @property
    def running(self) -> bool:
        """True while the anvil process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The command line anvil is started with (port 0 before the first start)."""
        port = self._port if self._port is not None else 0
        cmd = [str(self.binary), "--host", self.host, "--port", str(port)]
        cmd += ["--chain-id", str(self.chain_id)]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        if self.state_interval is not None:
            cmd += ["--state-interval", str(self.state_interval)]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.no_mining:
            cmd.append("--no-mining")
        return cmd + list(self.extra_args)

    # -- start ---------------------------------------------------------------------

    def start_sync(self) -> None:
        """Start anvil and block until it answers JSON-RPC."""
        deadline = self._spawn()
        while not self._ready(deadline, self._probe_sync):
            time.sleep(0.02)

    async def start(self) -> None:
        """Start anvil and wait (without blocking the loop) until it answers JSON-RPC.

        The process is spawned from the calling thread: on Linux anvil is bound to it
        through PR_SET_PDEATHSIG, so call this from a thread that outlives the node.
        """
        deadline = self._spawn()
        while not self._ready(deadline, None) or not await asyncio.to_thread(self._probe_sync):
            await asyncio.sleep(0.02)

    def _spawn(self) -> float:
        if self.running:
            raise ChainError("anvil is already running")
        self._output.clear()
        self._listening.clear()
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if _prctl is not None else None,
        )
        _live.add(self)
        self._reader = threading.Thread(
            target=self._drain, args=(self._proc,), name="anvil-output", daemon=True
        )
        self._reader.start()
        return time.monotonic() + self.startup_timeout

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        """Read anvil's output to its end: note the port, keep the last lines."""
        assert proc.stdout is not None
        with proc.stdout:
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                self._output.append(line)
                found = _LISTENING.search(line)
                if found and not self._listening.is_set():
                    self._port = int(found.group(1))
                    self._listening.set()

    def _ready(self, deadline: float, probe: Callable[[], bool] | None) -> bool:
        """True once anvil said it listens (and, given ``probe``, answers); raises if
        it exited or the deadline passed."""
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None:
            self._stop_reader()
            tail = self.output_tail()
            self._cleanup()
            raise ChainError(f"anvil exited with status {code} at start: {tail}")
        if time.monotonic() > deadline:
            self.stop_sync()
            raise ChainError(f"anvil did not answer within {self.startup_timeout:g}s: "
                             f"{self.output_tail()}")
        return self._listening.is_set() and (probe is None or probe())

    def _probe_sync(self) -> bool:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
        request = urllib.request.Request(
            self.rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=1.0) as response:
                return "result" in json.loads(response.read())
        except (OSError, ValueError):
            return False

    def output_tail(self) -> str:
        """anvil's last lines of output (start-up errors land here)."""
        return " | ".join(line for line in self._output if line.strip())

    # -- stop ----------------------------------------------------------------------

    def stop_sync(self, timeout: float = 10.0) -> int | None:
        """SIGTERM anvil (it dumps ``state`` then exits), SIGKILL after ``timeout``.

        Returns anvil's exit status, or None if it was not running.
        """
        if self._proc is None:
            return None
        deadline = time.monotonic() + timeout
        _signal_group(self._proc, signal.SIGTERM)
        try:
            code = self._proc.wait(timeout)
            _wait_group_gone(self._proc.pid, deadline)
        except subprocess.TimeoutExpired:
            _signal_group(self._proc, signal.SIGKILL)
            code = self._proc.wait()
        self._cleanup()
        return code

    async def stop(self, timeout: float = 10.0) -> int | None:
        """`stop_sync` without blocking the event loop."""
        return await asyncio.to_thread(self.stop_sync, timeout)

    def kill(self) -> None:
        """SIGKILL anvil: a crash, no state dump (for fault tests)."""
        if self._proc is None:
            return
        _signal_group(self._proc, signal.SIGKILL)
        self._proc.wait()
        self._cleanup()

    def _stop_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=5.0)
            self._reader = None

    def _cleanup(self) -> None:
        self._stop_reader()
        _live.discard(self)
        self._proc = None

    # -- context managers ----------------------------------------------------------

    def __enter__(self) -> AnvilProcess:
        self.start_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_sync()

    async def __aenter__(self) -> AnvilProcess:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        where = self.rpc_url if self._port is not None else "not started"
        return f"AnvilProcess({where}, running={self.running})"


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal anvil's whole process group (the node wrapper and anvil, if wrapped)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _wait_group_gone(pgid: int, deadline: float) -> None:
    """Wait until no process of the group is left: behind the npm wrapper, anvil
    itself may still be dumping its state when the wrapper has exited."""
    while True:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(f"anvil group {pgid}", 0)
        time.sleep(0.01)


class DepthMiner:
    """Mines empty blocks on a local node until its latest transactions are ``depth`` deep.

    anvil mines one block per transaction and none otherwise, so on an idle chain the
    last transaction stays 1 deep for ever and a service waiting for 2 confirmations
    never serves its last proofs (issue 12). An interval block time would fix that too,
    but anvil keeps every block in its ``--state`` dump (about 1.7 KB each, rewritten
    every second): a block a second grows it by some 150 MB a day. This mines only the
    ``depth - 1`` blocks each burst of transactions needs, and nothing on an idle chain.
    """

    def __init__(self, rpc_url: str, depth: int, *, timeout: float = 5.0) -> None:
        self.rpc_url = rpc_url
        self.depth = depth
        self._timeout = timeout
        # A head already found deep enough: while it stays the head, nothing to read.
        self._settled_head: int | None = None

    def step(self) -> bool:
        """Mine one empty block if one of the last ``depth - 1`` blocks holds a
        transaction; True if it did."""
        head = int(str(json_rpc(self.rpc_url, "eth_blockNumber", [], self._timeout)), 16)
        if head == self._settled_head:
            return False
        for number in range(max(0, head - self.depth + 2), head + 1):
            block = json_rpc(self.rpc_url, "eth_getBlockByNumber", [hex(number), False],
                             self._timeout)
            if block and block.get("transactions"):
                json_rpc(self.rpc_url, "evm_mine", [], self._timeout)
                return True
        self._settled_head = head
        return False

    async def run(self, interval: float) -> None:
        """Call `step` until cancelled: again at once after a block, else after
        ``interval`` seconds. An unreachable node (stopping, restarting) is retried."""
        while True:
            try:
                mined = await asyncio.to_thread(self.step)
            except ChainError:
                mined = False
            if not mined:
                await asyncio.sleep(interval)


def fund(rpc_url: str, address: str, wei: int, *, timeout: float = 10.0) -> int:
    """Add ``wei`` to the balance of ``address`` on a local development chain and
    return the new balance.

    It rewrites the balance (``anvil_setBalance``) rather than sending from a dev
    account, so it never takes a nonce from an account a running service sends from.
    Raises ChainError for any chain whose id is not in `LOCAL_CHAIN_IDS`, before
    changing anything.
    """
    chain_id = int(str(json_rpc(rpc_url, "eth_chainId", [], timeout)), 16)
    if chain_id not in LOCAL_CHAIN_IDS:
        raise ChainError(
            f"{rpc_url} is chain {chain_id}, not a local development chain "
            f"({' or '.join(map(str, LOCAL_CHAIN_IDS))}): refusing to fund"
        )
    balance = int(str(json_rpc(rpc_url, "eth_getBalance", [address, "latest"], timeout)), 16)
    json_rpc(rpc_url, "anvil_setBalance", [address, hex(balance + wei)], timeout)
    return balance + wei


def json_rpc(url: str, method: str, params: list[object], timeout: float = 10.0) -> Any:
    """One JSON-RPC call with the standard library, returning its ``result``; ChainError
    if the node cannot be reached or answers with an error. For the command line's
    small needs (`fund`, `ledger submit --wait`), which should not pay for importing web3."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise ChainError(f"cannot reach the chain at {url}: {exc}") from exc
    if not isinstance(answer, dict) or "error" in answer or "result" not in answer:
        error = answer.get("error") if isinstance(answer, dict) else answer
        message = error.get("message") if isinstance(error, dict) else error
        raise ChainError(f"{method} at {url} failed: {message}")
    return answer["result"]


# Looked up once in the parent: between fork and exec the child must not dlopen.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child before exec: have the kernel SIGTERM anvil when the thread that
    started it dies (the whole service, even by SIGKILL, when that is the main thread)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@atexit.register
def _stop_all() -> None:
    for node in list(_live):
        node.stop_sync(timeout=5.0)
