"""JSON-RPC plumbing shared by the chain clients: connecting, sorting failures into
"node unreachable, retry" and "node refused", and turning revert data into text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
from eth_typing import URI
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3._utils.http_session_manager import HTTPSessionManager
from web3.exceptions import (
    ContractLogicError,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
    Web3RPCError,
)
from web3.providers.rpc.utils import ExceptionRetryConfiguration

from ledger.chain.contracts.binding import ABI, CustomErrors
from ledger.errors import ChainError

#: Failures after which the same request can succeed later: the node is down,
#: restarting, overloaded or slow. Anything else is an answer.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    TimeoutError,
    ConnectionError,
    ProviderConnectionError,
    RequestTimedOut,
    TooManyRequests,
)


#: The web3 client type every chain module takes (any provider).
Web3Client = AsyncWeb3[Any]


class ChainUnavailableError(ChainError):
    """The node could not be reached or did not answer in time; retry later."""

    code = "chain_unavailable"


class ChainRevertError(ChainError):
    """A call or transaction reverted; ``reason`` is the decoded revert."""

    code = "chain_revert"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


#: Failures web3.py may retry at once: the node refused or dropped the connection,
#: or answered with an HTTP error. A timeout is not one of them: the request already
#: waited the whole ``timeout``, and each retry of an unresponsive node would wait
#: as long again; the caller's next step retries instead.
_QUICK_RETRY_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientOSError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientResponseError,
    aiohttp.ClientPayloadError,
)


class _LockFreeSessions(HTTPSessionManager):
    """web3.py's cache of aiohttp sessions, without its lock.

    web3.py 8 takes one process-wide threading.Lock, through a thread pool, around
    every request, and a request cancelled while it waits for the lock (by
    ``asyncio.wait_for``, as the health probe does, or at shutdown) can leave the
    lock held for good: every later request of every provider then waits for ever,
    which no request timeout covers, and the process cannot exit since the pool's
    threads never return (upstream web3.py issue 3867). A session belongs to one
    event loop, which runs one coroutine at a time: no lock is needed.
    """

    async def async_cache_and_return_session(
        self,
        endpoint_uri: URI,
        session: aiohttp.ClientSession | None = None,
        request_timeout: aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientSession:
        key = f"{id(asyncio.get_running_loop())}:{endpoint_uri}"
        cached: aiohttp.ClientSession | None = self.session_cache.get_cache_entry(key)
        if cached is None or cached.closed or cached._loop.is_closed():
            # As web3.py makes them: a new connection a request, HTTP errors raised.
            cached = session or aiohttp.ClientSession(
                raise_for_status=True, connector=aiohttp.TCPConnector(force_close=True)
            )
            self.session_cache.cache(key, cached)
        return cached


def connect(url: str, *, timeout: float = 10.0, attempts: int = 3) -> Web3Client:
    """An AsyncWeb3 over HTTP whose every request gives up after ``timeout`` seconds.

    A request that fails fast (connection refused or dropped, HTTP error) is tried
    up to ``attempts`` times; one that times out is not tried again, so a node that
    accepts connections and never answers costs a caller ``timeout``, not
    ``attempts`` times it. A call may be cancelled at any point (see
    `_LockFreeSessions`). web3.py retries idempotent methods, and also
    ``eth_sendRawTransaction``: so a send can reach the node twice, which `Sender`
    tolerates ("already known"). Close it with ``await w3.provider.disconnect()``.
    """
    provider = AsyncHTTPProvider(
        url,
        request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout)},
        exception_retry_configuration=ExceptionRetryConfiguration(
            errors=_QUICK_RETRY_ERRORS, retries=max(attempts, 1), backoff_factor=0.05,
        ),
    )
    provider._request_session_manager = _LockFreeSessions()
    return AsyncWeb3(provider)


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` means the node was unreachable rather than that it refused."""
    return isinstance(exc, TRANSIENT_ERRORS)


def rpc_message(exc: BaseException) -> str:
    """The node's error message inside a web3 exception (or the exception text)."""
    if isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, Mapping):
        error = exc.rpc_response.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else str(exc)


def revert_data(exc: ContractLogicError) -> bytes:
    """The raw revert data web3 attached to a ContractLogicError (empty if none)."""
    data = exc.data
    if isinstance(data, Mapping):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


_PANICS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an invalid internal function",
}

#: The two errors Solidity itself reverts with: ``require``'s message and a panic code.
_SOLIDITY_ERRORS = CustomErrors([[
    {"type": "error", "name": "Error", "inputs": [{"name": "reason", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
]])


class RevertDecoder:
    """Turns revert data into ``Name(arg=value, ...)`` using the custom errors of ABIs.

    Knows ``Error(string)`` and ``Panic(uint256)`` too; unknown data is shown in hex.
    """

    def __init__(self, abis: Iterable[ABI] = ()) -> None:
        self._errors = CustomErrors(abis)

    def decode(self, data: bytes) -> str:
        """A readable form of ``data``, the bytes a reverting call returned."""
        if not data:
            return "reverted without a reason"
        builtin = _SOLIDITY_ERRORS.decode(data)
        if builtin is not None:
            (name, ((_, value),)) = builtin
            if name == "Error":
                return str(value)
            return f"panic 0x{value:02x}: {_PANICS.get(value, 'unknown panic')}"
        found = self._errors.decode(data)
        if found is not None:
            name, args = found
            return f"{name}({', '.join(f'{n}={_show(v)}' for n, v in args)})"
        return f"unknown revert 0x{data.hex()}"

    def from_exception(self, exc: ContractLogicError) -> str:
        """Decode the revert carried by a web3 ContractLogicError."""
        data = revert_data(exc)
        if data:
            return self.decode(data)
        return rpc_message(exc) or "reverted without a reason"


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
