"""A bounded load test of the audit's exhaustion attacks (issue 11) on `ledger serve` as
a child process: stalled large bodies, 500 connections with unfinished headers and a
gzip bomb at once. The service's memory stays bounded, every attacking connection is
closed by the service's timeouts, and `/readyz` keeps answering within 1 s."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.cli.client import LedgerClient
from tests.integration.faults.conftest import Chain
from tests.integration.faults.service_proc import ServiceProcess

pytestmark = [pytest.mark.chain, pytest.mark.slow]

KEYS = json.dumps({"version": "ledger-usage-keys/1",
                   "sources": {"edge-a": [{"id": "k1", "secret": "aa" * 32}]}})
STALLED = 40
SLOW_HEADERS = 500
DEADLINE_S = 60.0


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def descriptors(pid: int) -> int:
    """Open file descriptors of process `pid`."""
    return len(os.listdir(f"/proc/{pid}/fd"))


async def open_stalled(port: int, head: bytes, body: bytes
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that sent `head` and `body` and then sends nothing more."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    return reader, writer


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the service closes the connection before the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            if not await asyncio.wait_for(reader.read(1 << 16), DEADLINE_S):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


async def test_exhaustion_attacks_are_bounded_and_readyz_keeps_answering(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain, {"LEDGER_USAGE_KEYS": KEYS, "LEDGER_IDLE_TIMEOUT_S": "3",
                               "LEDGER_BODY_TIMEOUT_S": "3"})
    await service.start()
    pid, port = service.pid, service.port
    async with LedgerClient(service.url) as client:
        assert (await client.ready())[0] == 200
        rss_before, fds_before = rss_mb(pid), descriptors(pid)

        usage_head = (b"POST /v1/usage HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (7 << 20))
        manifest_head = (b"POST /v1/manifests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                         % (1 << 20))
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        bomb = (packer.compress(bytes(16 << 20)) + packer.flush()) * 64
        bomb_head = (b"POST /v1/manifests:batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb))
        attackers = [
            # Unauthenticated 7 MiB usage uploads, 4 MiB sent: refused from the headers,
            # so none of it is kept (the audit's 40 took the service from 166 to 615 MB).
            *[await open_stalled(port, usage_head, b" " * (4 << 20)) for _ in range(STALLED)],
            # Anonymous manifest uploads just under their route's limit, never finished.
            *[await open_stalled(port, manifest_head, b" " * ((1 << 20) - 64))
              for _ in range(STALLED)],
            # Headers that never end.
            *[await open_stalled(port, b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"")
              for _ in range(SLOW_HEADERS)],
            await open_stalled(port, bomb_head, bomb),
        ]
        rss_peak, latencies = 0.0, []
        for _ in range(5):
            started = time.monotonic()
            status, _ = await asyncio.wait_for(client.ready(), 1.0)
            latencies.append(time.monotonic() - started)
            assert status == 200
            rss_peak = max(rss_peak, rss_mb(pid))
            await asyncio.sleep(0.2)
        fds_during = descriptors(pid)

        assert all(await asyncio.gather(*(closed(reader) for reader, _ in attackers)))
        for _, writer in attackers:
            with contextlib.suppress(OSError):
                writer.close()
        deadline = time.monotonic() + DEADLINE_S
        while descriptors(pid) > fds_before + 10:
            assert time.monotonic() < deadline, descriptors(pid)
            await asyncio.sleep(0.1)
        rss_after = rss_mb(pid)
        assert (await client.ready())[0] == 200

    print(f"\nrss MB before {rss_before:.0f} peak {rss_peak:.0f} after {rss_after:.0f}; "
          f"fds before {fds_before} during {fds_during} after {descriptors(pid)}; "
          f"readyz max {max(latencies) * 1000:.0f} ms")
    # At most the 40 manifest bodies (1 MiB each) are ever held, never the usage uploads.
    assert rss_peak - rss_before < 40 * 1.0 + 60
