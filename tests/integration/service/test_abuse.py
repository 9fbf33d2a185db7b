"""The HTTP service under abuse (issue 11), over real HTTP on 127.0.0.1: compressed
bodies, oversized and slow bodies, slow headers, aborted uploads, unauthenticated
usage uploads. Each test is an attack from the audit, bounded in count and time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ledger.cli.client import LedgerClient
from ledger.run.serve import running
from tests.integration.service.conftest import FAST, Running

SOURCE_KEYS = json.dumps({"version": "ledger-usage-keys/1",
                          "sources": {"edge-a": [{"id": "k1", "secret": "aa" * 32}]}})
LIMITED = replace(FAST, small_body_bytes=1024, body_timeout_s=1.0, idle_timeout_s=1.0,
                  usage_keys=SOURCE_KEYS)
BOUND_S = 20.0  # a deadline for what should take well under a second, never a speed goal


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Running]:
    """The service with small limits: 1 KiB small bodies, 1 s body and header timeouts."""
    settings = replace(LIMITED, data_dir=tmp_path / "data")
    async with running(settings) as (service, url), LedgerClient(url) as client:
        yield Running(service, url, client)


def gzip_bomb(inflated_mib: int) -> bytes:
    """Gzip that inflates to `inflated_mib` MiB of zeros, about 1,000 times its size:
    one 16 MiB member repeated (gzip readers inflate concatenated members in turn)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = packer.compress(bytes(16 << 20)) + packer.flush()
    return member * (inflated_mib // 16)


async def connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw TCP connection to the service."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port
    return await asyncio.open_connection(parts.hostname, parts.port)


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 request line and headers, with the blank line that ends them."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in
                                                              headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], object]:
    """Status, headers (lower-case names) and JSON body of one HTTP answer."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), BOUND_S)
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines if line)}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), BOUND_S)
    return int(status_line.split()[1]), headers, json.loads(body)


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection (EOF or reset) within the bound."""
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        try:
            if not await asyncio.wait_for(reader.read(1 << 16), BOUND_S):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records at ERROR or with a traceback."""
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR or r.exc_info is not None]


async def test_gzip_bomb_is_refused_unread_and_the_service_keeps_answering(
    svc: Running, caplog: pytest.LogCaptureFixture
) -> None:
    bomb = gzip_bomb(1024)
    assert len(bomb) < 2 << 20
    reader, writer = await connect(svc.url)
    writer.write(request_head("POST", "/v1/manifests", {
        "Content-Type": "application/json", "Content-Encoding": "gzip",
        "Content-Length": str(len(bomb))}))
    writer.write(bomb)
    status, headers, body = await read_answer(reader)
    assert status == 415 and headers["connection"] == "close"
    assert body == {"error": {"code": "unsupported_encoding", "field": "Content-Encoding",
                              "message": "send the body uncompressed (no Content-Encoding)"}}
    # The service answers others at once while it discards the rest of the bomb.
    assert (await svc.client.ready())[0] == 200
    assert await closed_by_server(reader)
    writer.close()
    assert problems(caplog) == []


async def test_declared_length_over_the_route_limit_is_413_before_reading(
    limited: Running,
) -> None:
    reader, writer = await connect(limited.url)
    # Only the headers are sent: the answer must not wait for the body.
    writer.write(request_head("POST", "/v1/creators", {
        "Content-Type": "application/json", "Content-Length": "1025"}))
    status, headers, body = await read_answer(reader)
    assert status == 413 and headers["connection"] == "close"
    assert body["error"]["code"] == "body_too_large"  # type: ignore[index]
    assert "1024 bytes" in body["error"]["message"]  # type: ignore[index]
    writer.close()


async def test_chunked_body_is_cut_off_at_the_route_limit(limited: Running) -> None:
    reader, writer = await connect(limited.url)
    writer.write(request_head("POST", "/v1/creators", {
        "Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
    chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
    writer.write(chunk * 2)  # 2 KiB, and the chunked body never ends
    status, headers, body = await read_answer(reader)
    assert status == 413 and headers["connection"] == "close"
    assert "1024 bytes" in body["error"]["message"]  # type: ignore[index]
    assert await closed_by_server(reader)
    writer.close()


async def test_manifest_route_has_its_own_limit(svc: Running) -> None:
    limit = svc.service.settings.http.body_limit("manifest")
    assert limit < svc.service.settings.http.body_limit("batch")
    reader, writer = await connect(svc.url)
    writer.write(request_head("POST", "/v1/manifests", {
        "Content-Type": "application/json", "Content-Length": str(limit + 1)}))
    status, _, body = await read_answer(reader)
    assert status == 413
    assert body["error"]["message"] == (  # type: ignore[index]
        f"the request body is over this route's limit of {limit} bytes")
    writer.close()


async def test_slow_body_times_out(limited: Running) -> None:
    reader, writer = await connect(limited.url)
    writer.write(request_head("POST", "/v1/creators", {
        "Content-Type": "application/json", "Content-Length": "100"}) + b'{"action"')
    status, headers, body = await read_answer(reader)
    assert status == 408 and headers["connection"] == "close"
    assert body["error"]["code"] == "body_timeout"  # type: ignore[index]
    writer.close()


async def test_unfinished_headers_are_closed_after_the_idle_timeout(limited: Running) -> None:
    conns = [await connect(limited.url) for _ in range(300)]
    for _, writer in conns:
        writer.write(b"POST /v1/manifests HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    # The service answers others meanwhile...
    assert (await limited.client.ready())[0] == 200
    # ...and drops every stalled connection once idle_timeout_s (1 s) passes.
    closed = await asyncio.gather(*(closed_by_server(reader) for reader, _ in conns))
    assert all(closed)
    for _, writer in conns:
        writer.close()


async def test_aborted_upload_logs_one_warning_line(
    limited: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    _, writer = await connect(limited.url)
    writer.write(request_head("POST", "/v1/manifests", {
        "Content-Type": "application/json", "Content-Length": "100000"}) + b"{" * 1000)
    await writer.drain()
    await asyncio.sleep(0.1)  # let the handler start reading before the client leaves
    writer.transport.abort()
    deadline = time.monotonic() + BOUND_S
    while not any("client left" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        await asyncio.sleep(0.05)
    left = [r for r in caplog.records if "client left" in r.getMessage()]
    assert len(left) == 1 and left[0].levelno == logging.WARNING
    assert left[0].getMessage() == "POST /v1/manifests: client left after 1000 bytes"
    assert problems(caplog) == []


async def test_unauthenticated_usage_upload_is_401_before_its_body(limited: Running) -> None:
    for headers in ({}, {"X-Ledger-Source": "nobody", "X-Ledger-Timestamp": "1",
                         "X-Ledger-Signature": "v1=" + "00" * 32},
                    {"X-Ledger-Source": "edge-a", "X-Ledger-Timestamp": "1",
                     "X-Ledger-Signature": "v1=" + "00" * 32}):
        reader, writer = await connect(limited.url)
        # 4 MiB declared, nothing sent: the answer comes from the headers alone.
        writer.write(request_head("POST", "/v1/usage", {
            "Content-Type": "application/json", "Content-Length": str(4 << 20), **headers}))
        status, answer_headers, body = await read_answer(reader)
        assert status == 401 and answer_headers["connection"] == "close", body
        writer.close()


async def test_oversized_usage_upload_of_a_known_source_is_413(limited: Running) -> None:
    limit = limited.service.settings.http.body_limit("usage")
    stamp = str(int(time.time()))
    reader, writer = await connect(limited.url)
    writer.write(request_head("POST", "/v1/usage", {
        "Content-Type": "application/json", "Content-Length": str(limit + 1),
        "X-Ledger-Source": "edge-a", "X-Ledger-Timestamp": stamp,
        "X-Ledger-Signature": "v1=" + "00" * 32}))
    status, _, body = await read_answer(reader)
    assert status == 413, body
    with contextlib.suppress(OSError):
        writer.close()
