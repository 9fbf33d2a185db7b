"""A loopback HTTP proxy in front of a chain node, which a test can slow, cut or blackhole.

It understands just enough HTTP/1.1 to see where each request ends (the head,
then ``Content-Length`` bytes), so a delay or a hold applies per JSON-RPC request
and not per TCP segment; answers flow back untouched. Modes:

- `Mode.PASS`: forward every request at once.
- `Mode.DELAY`: forward every request ``delay_ms`` after it arrived.
- `Mode.CUT`: stop listening (connecting is refused) and drop every open connection.
- `Mode.BLACKHOLE`: accept and read requests, never forward or answer them. A held
  request stays held even after the mode changes, until the client gives up and
  closes its connection, so a client without a timeout would wait for ever;
  `holds` records when each was held and when the client let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.support import free_port


class Mode(enum.Enum):
    """What the proxy does with the next request."""

    PASS = "pass"
    DELAY = "delay"
    CUT = "cut"
    BLACKHOLE = "blackhole"


@dataclass
class Hold:
    """One blackholed request: when it arrived and when its client closed the connection."""

    held_at: float
    released_at: float | None = None

    @property
    def waited(self) -> float | None:
        """Seconds the client waited before giving up (None while it still waits)."""
        return None if self.released_at is None else self.released_at - self.held_at


class RpcProxy:
    """``proxy = RpcProxy(node_url); await proxy.start()``; point the client at `url`."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname is not None and parts.port is not None, upstream_url
        self._upstream = (parts.hostname, parts.port)
        self.port = free_port()
        self.mode = Mode.PASS
        self.delay_ms = 0
        #: Requests passed to the node.
        self.forwarded = 0
        self.holds: list[Hold] = []
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()

    @property
    def url(self) -> str:
        """The URL to give the client instead of the node's."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on `port` (the same port across cuts)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def set_mode(self, mode: Mode, *, delay_ms: int = 0) -> None:
        """Switch mode: `Mode.CUT` stops listening and drops every open connection;
        any other mode listens again, on the same port."""
        if mode is Mode.CUT and self._server is not None:
            await self._close_all()
        self.mode, self.delay_ms = mode, delay_ms
        if mode is not Mode.CUT and self._server is None:
            await self.start()

    async def stop(self) -> None:
        """Stop listening and drop every connection, held ones included."""
        await self._close_all()
        self.mode = Mode.CUT

    async def _close_all(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        links = list(self._links)
        for link in links:
            link.abort()
        await asyncio.gather(*(link.task for link in links), return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            # The node itself is down: the client sees its connection closed.
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        answers = asyncio.create_task(_pipe(up_reader, writer))
        try:
            await self._forward(reader, up_writer, link)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            answers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answers
            link.abort()
            self._links.discard(link)

    async def _forward(
        self, reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter, link: _Link
    ) -> None:
        while (request := await _read_request(reader)) is not None:
            if self.mode is Mode.BLACKHOLE:
                await self._hold(reader, link)
                return
            if self.mode is Mode.DELAY:
                await asyncio.sleep(self.delay_ms / 1000)
            up_writer.write(request)
            await up_writer.drain()
            self.forwarded += 1

    async def _hold(self, reader: asyncio.StreamReader, link: _Link) -> None:
        hold = Hold(time.monotonic())
        self.holds.append(hold)
        # An HTTP/1.1 client sends nothing more on this connection until answered:
        # the next read ends only when it closes the connection (gives up).
        while await reader.read(65536):
            pass
        if not link.aborted:
            hold.released_at = time.monotonic()


class _Link:
    """One client connection and its connection to the node."""

    def __init__(self, client: asyncio.StreamWriter, node: asyncio.StreamWriter) -> None:
        self._client = client
        self._node = node
        #: True once the proxy, not the client, closed the connection.
        self.aborted = False
        task = asyncio.current_task()
        assert task is not None
        self.task = task

    def abort(self) -> None:
        self.aborted = True
        self._client.transport.abort()
        self._node.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One whole HTTP request (head and body), or None when the client closed."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        assert name.strip().lower() != b"transfer-encoding", "chunked requests are not proxied"
    return head + await reader.readexactly(length)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy answers from the node to the client until the node closes."""
    with contextlib.suppress(ConnectionError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()
