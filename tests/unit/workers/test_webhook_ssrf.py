"""Webhook SSRF: under ``webhook_urls = "public"`` the worker checks the addresses it
connects to, not only the name a subscription gave, so a public name that resolves (or
is rebound) to loopback, private, link-local or an address embedding one is never
connected to; redirects are never followed. Names are resolved by a stub: no real DNS.
"""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from ledger.app.webhooks import public_address
from ledger.workers.public_resolver import NotPublicError, PublicResolver
from tests.unit.workers import test_webhooks as base
from tests.unit.workers.test_webhooks import FAST, World, dispatching, receiving, until

engine = base.engine
world = base.world
HOOKS = "hooks.example.test"
PUBLIC = replace(FAST, urls="public")


class StubResolver(AbstractResolver):
    """Resolves the names it was given to the addresses it was given, and nothing else."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.asked.append(host)
        if host.rstrip(".") not in self.names:
            raise OSError(f"{host} is unknown here")
        return [{"hostname": host, "host": address, "port": port, "proto": 0, "flags": 0,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET}
                for address in self.names[host.rstrip(".")]]

    async def close(self) -> None:
        return None


async def last_error(world: World, sub: str) -> str:
    """The subscription's last delivery error, once one is recorded."""
    found: list[str] = []

    async def failed() -> bool:
        error = (await world.webhooks.get(sub))["delivery"]["lastError"]
        found.extend([error] if error else [])
        return bool(error)

    await until(failed)
    return found[0]


async def hooked(world: World, url: str) -> str:
    return str((await world.webhooks.subscribe({"url": url}))["id"])


@pytest.mark.parametrize("address", ["127.0.0.1", "::ffff:127.0.0.1"])
async def test_a_public_name_resolving_to_loopback_is_not_connected_to(
        world: World, address: str) -> None:
    resolver = StubResolver({HOOKS: [address]})
    async with receiving() as receiver, dispatching(world, PUBLIC, resolver=resolver):
        port = receiver.url.rsplit(":", 1)[1]
        sub = await hooked(world, f"http://{HOOKS}:{port}")
        await world.status_changed(1)
        error = await last_error(world, sub)
    assert receiver.requests == []
    assert HOOKS in resolver.asked
    assert "no public address" in error and address in error
    assert (await world.webhooks.get(sub))["disabledAt"] is None  # retried on schedule


async def test_the_any_policy_still_delivers_to_a_local_name(world: World) -> None:
    resolver = StubResolver({HOOKS: ["127.0.0.1"]})
    async with receiving() as receiver, dispatching(world, FAST, resolver=resolver):
        port = receiver.url.rsplit(":", 1)[1]
        made = await world.webhooks.subscribe({"url": f"http://{HOOKS}:{port}"})
        receiver.secret = made["secret"]
        await world.status_changed(1)
        await receiver.wait_for(1)
    assert [p["data"]["n"] for p in receiver.taken()] == [1]


async def test_an_address_url_stored_before_the_policy_was_public_is_not_connected_to(
        world: World) -> None:
    async with receiving() as receiver, dispatching(world, PUBLIC, resolver=StubResolver({})):
        sub = await hooked(world, receiver.url)  # subscribed under "any"
        await world.status_changed(1)
        error = await last_error(world, sub)
    assert receiver.requests == []
    assert "public host" in error


async def test_a_redirect_is_not_followed_and_is_a_failure_naming_it(world: World) -> None:
    async with receiving() as target:
        async def redirect(_n: int) -> web.StreamResponse:
            return web.Response(status=307, headers={"Location": target.url})

        async with receiving(redirect) as receiver, dispatching(
                world, FAST, resolver=StubResolver({})):
            sub = await hooked(world, receiver.url)
            await world.status_changed(1)
            error = await last_error(world, sub)
    assert len(receiver.requests) >= 1 and target.requests == []
    assert error == "HTTP 307: redirects are not followed"


async def test_the_resolver_keeps_only_public_addresses() -> None:
    stub = StubResolver({HOOKS: ["10.0.0.7", "1.1.1.1", "fd00::1", "2606:4700::1111"]})
    found = await PublicResolver(stub).resolve(HOOKS, 443, socket.AF_UNSPEC)
    assert [r["host"] for r in found] == ["1.1.1.1", "2606:4700::1111"]
    assert all(r["port"] == 443 and r["hostname"] == HOOKS for r in found)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
    "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
    "::127.0.0.1", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1", "2001::1",
])
async def test_the_resolver_refuses_a_name_with_no_public_address(address: str) -> None:
    assert not public_address(address)
    with pytest.raises(NotPublicError, match="no public address"):
        await PublicResolver(StubResolver({HOOKS: [address]})).resolve(HOOKS, 80)


@pytest.mark.parametrize("address", ["1.1.1.1", "2606:4700::1111", "::ffff:1.1.1.1",
                                     "2002:101:101::1", "64:ff9b::101:101"])
def test_global_addresses_are_public(address: str) -> None:
    assert public_address(address)
