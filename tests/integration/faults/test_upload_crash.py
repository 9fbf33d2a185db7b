"""`kill -9` of the service while a 1.1 library streams in: every chunk the service
acknowledged is still stored after each restart, the upload completes once the client
sends what is missing, and the manifest is registered exactly once with every asset."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable

import aiohttp
import pytest

from ledger.cli.client import LedgerClient
from ledger.core.canonical import canonicalize
from tests.integration.faults.conftest import Chain, db_rows, new_creator
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.libraries import Library, library

pytestmark = pytest.mark.chain

SEED = int(os.environ.get("FAULTS_SEED", "20240604"))
CYCLES = 4
CREATOR = "creator:streamer"


async def _send(url: str, lib: Library, acked: set[int], stop: asyncio.Event) -> None:
    """Send the chunks the service says are missing, two at a time, until `stop` or done;
    an answered PUT is acknowledged, a refused connection is retried later."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        while not stop.is_set():
            try:
                async with http.get(f"{url}/v1/uploads/{lib.digest}") as response:
                    view = await response.json()
                if view["status"] == "complete":
                    return
                for start in range(0, len(view["missingChunks"]), 2):
                    await asyncio.gather(*(_put(http, url, lib, index, acked)
                                           for index in view["missingChunks"][start:start + 2]))
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(0.1)


async def _put(http: aiohttp.ClientSession, url: str, lib: Library, index: int,
               acked: set[int]) -> None:
    async with http.put(f"{url}/v1/uploads/{lib.digest}/chunks/{index}",
                        data=lib.chunk_body(index)) as response:
        assert response.status == 200, await response.text()
        acked.add(index)


def _stored_chunks(service: ServiceProcess, lib: Library) -> set[int]:
    digest = bytes.fromhex(lib.digest[2:])
    rows = db_rows(service.data_dir, "SELECT chunk_index FROM asset_chunks WHERE digest = ?",
                   digest)
    return {index for (index,) in rows}


async def test_kill_9_during_a_chunked_upload_loses_no_acknowledged_chunk(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    rng = random.Random(SEED)
    service = services(chain)
    await service.start()
    async with LedgerClient(service.url, timeout=10.0) as client:
        key = await new_creator(client, CREATOR)
    lib = library(CREATOR, key, 4096, tag="stream", chunk_size=32)  # 128 chunks
    start = canonicalize(lib.start_body())
    async with (aiohttp.ClientSession() as http,
                http.post(f"{service.url}/v1/uploads", data=start) as response):
        assert response.status == 201, await response.text()
    acked: set[int] = set()
    for _ in range(CYCLES):
        stop = asyncio.Event()
        sender = asyncio.create_task(_send(service.url, lib, acked, stop))
        await asyncio.sleep(rng.uniform(0.3, 1.2))
        service.kill()
        stop.set()
        await asyncio.gather(sender, return_exceptions=True)
        lost = acked - _stored_chunks(service, lib)
        assert not lost, f"acknowledged chunks lost by kill -9: {sorted(lost)}"
        await service.start()
    await _send(service.url, lib, acked, asyncio.Event())
    digest = bytes.fromhex(lib.digest[2:])
    assert _stored_chunks(service, lib) == set(range(lib.chunks))
    ((count, ids),) = db_rows(service.data_dir, "SELECT count(*), count(DISTINCT asset_id) "
                              "FROM assets WHERE manifest_digest = ?", digest)
    assert (count, ids) == (4096, 4096)
    assert db_rows(service.data_dir, "SELECT count(*) FROM manifests WHERE digest = ?",
                   digest) == [(1,)]
    ((completed,),) = db_rows(service.data_dir,
                              "SELECT completed_at FROM uploads WHERE digest = ?", digest)
    assert completed is not None
    print(f"{len(acked)} chunks acknowledged over {service.starts} starts")
