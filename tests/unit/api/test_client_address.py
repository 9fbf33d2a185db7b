"""Whose requests a per-caller limit counts: the peer's address, or, behind
``trusted_proxy_hops`` reverse proxies, the address the nearest of them was given in
``X-Forwarded-For``. By default the header is ignored: a client could write anything
there and so get a fresh allowance with each request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from multidict import CIMultiDict

from ledger.api.client_address import client_address
from ledger.app.clock import now_ms
from ledger.app.licence_server import LicenceServer
from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.storage.licence_server import LicenceServerStore
from tests.unit.api.test_olp_http import Declared, _app
from tests.unit.app.licensing_world import LicensingWorld, registration

PEER = "192.0.2.7"


def _request(*forwarded: str) -> web.Request:
    transport = Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (PEER, 40_000) if name == "peername" else default)
    headers = CIMultiDict(("X-Forwarded-For", value) for value in forwarded)
    return make_mocked_request("POST", "/olp/register", headers=headers, transport=transport)


@pytest.mark.parametrize(("hops", "forwarded", "expected"), [
    (0, (), PEER),
    (0, ("203.0.113.9",), PEER),  # spoofed: ignored by default
    (1, (), PEER),  # not through the proxy: the peer is the client
    (1, ("203.0.113.9",), "203.0.113.9"),
    (1, ("10.9.9.9, 203.0.113.9",), "203.0.113.9"),  # what the client wrote is ignored
    (1, ("10.9.9.9", "203.0.113.9"), "203.0.113.9"),  # the header repeated: one list
    (1, ("203.0.113.9, ",), PEER),  # nothing where the proxy writes: the peer
    (2, ("10.9.9.9, 203.0.113.9, 198.51.100.1",), "203.0.113.9"),
    (2, ("198.51.100.1",), PEER),  # fewer entries than proxies: not through them all
])
def test_the_address_a_limit_counts(hops: int, forwarded: tuple[str, ...],
                                    expected: str) -> None:
    assert client_address(_request(*forwarded), hops) == expected


@pytest.mark.parametrize("hops", [-1, 11])
def test_trusted_proxy_hops_is_checked(hops: int) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings(trusted_proxy_hops=hops).validate()
    assert caught.value.field == "trusted_proxy_hops"


@asynccontextmanager
async def _client(tmp_path: Path, settings: Settings
                  ) -> AsyncIterator[TestClient[Any, Any]]:
    world = await LicensingWorld.open(tmp_path)
    server = LicenceServer(LicenceServerStore(world.engine), world.keys, world.publisher,
                           world.held, None, None, lifetime_s=300,  # type: ignore[arg-type]
                           register_per_minute=1)
    declared = Declared()
    try:
        async with TestClient(TestServer(_app(world, declared, server, settings))) as made:
            yield made
    finally:
        await world.engine.dispose()
    assert declared.problems == []


async def _register(client: TestClient[Any, Any], forwarded: str, n: int) -> int:
    answer = await client.post("/olp/register", json=registration(now_ms(), name=f"c{n}"),
                               headers={"X-Forwarded-For": forwarded})
    return answer.status


async def test_a_spoofed_header_earns_no_new_allowance_by_default(tmp_path: Path) -> None:
    async with _client(tmp_path, Settings()) as client:
        assert [await _register(client, f"203.0.113.{n}", n) for n in range(2)] == [201, 429]


async def test_behind_one_proxy_each_client_has_its_own_allowance(tmp_path: Path) -> None:
    async with _client(tmp_path, Settings(trusted_proxy_hops=1)) as client:
        statuses = [await _register(client, forwarded, n) for n, forwarded in enumerate((
            "203.0.113.1", "203.0.113.2",
            # The same client writing another address first: still its own bucket.
            "10.9.9.9, 203.0.113.1"))]
        assert statuses == [201, 201, 429]
