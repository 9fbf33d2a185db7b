"""The chain node, reached through a proxy, turns slow, then cut off, then a blackhole
that accepts requests and never answers, then healthy again: intake answers 202
quickly throughout, /healthz and /metrics report the chain failing and then back,
no request to the node outlives the RPC timeout, and everything is anchored once.
Below that, the RPC client itself: one timeout per silent request, and still usable
after calls were cancelled mid-flight."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from ledger.chain.anvil import AnvilProcess
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient, ServiceError
from ledger.core.signing import SigningKey
from tests.integration.faults.conftest import (
    ANCHORER_KEY,
    FAST_ENV,
    check_anchored_once,
    check_proofs,
    eventually,
    metric,
    new_creator,
    proofs,
    running_chain,
)
from tests.integration.faults.rpcproxy import Mode, RpcProxy
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest

pytestmark = pytest.mark.chain

#: What `ledger.chain.rpc.connect` gives a request before giving up (the runtime's default).
RPC_TIMEOUT_S = 10.0
#: What the runtime's chain health probe waits (`_ping_chain`).
HEALTH_TIMEOUT_S = 2.0
#: Slower than the health probe waits, well within the RPC timeout.
SLOW_MS = 2_500


@dataclass
class Trickle:
    """One manifest every `every` seconds, each answer's status and time recorded."""

    client: LedgerClient
    creator_id: str
    key: SigningKey
    every: float = 0.15
    accepted: list[str] = field(default_factory=list)
    #: (phase, HTTP status or None for no answer, seconds the answer took)
    answers: list[tuple[str, int | None, float]] = field(default_factory=list)
    phase: str = "pass"

    async def run(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            doc = manifest(self.creator_id, self.key, n)
            n += 1
            started = time.monotonic()
            status: int | None
            try:
                status, body = await self.client.submit(doc)
                self.accepted.append(body["manifestDigest"])
            except ServiceError as exc:
                status = exc.status
            self.answers.append((self.phase, status, time.monotonic() - started))
            await asyncio.sleep(self.every)


@contextlib.asynccontextmanager
async def trickling(trickle: Trickle) -> AsyncIterator[Trickle]:
    """Run `trickle` for the block."""
    stop = asyncio.Event()
    task = asyncio.create_task(trickle.run(stop))
    try:
        yield trickle
    finally:
        stop.set()
        await task


async def chain_failing(client: LedgerClient) -> bool:
    """True when /healthz answers 503 naming the chain (and only the chain)."""
    status, health = await client.health()
    return (
        status == 503
        and str(health["chain"]).startswith("unavailable")
        and health["database"] == "ok"
    )


async def test_slow_cut_and_blackholed_node_then_recovery(tmp_path: Path) -> None:
    async with running_chain(tmp_path) as chain:
        proxy = RpcProxy(chain.anvil.rpc_url)
        await proxy.start()
        service = ServiceProcess(
            tmp_path / "data",
            rpc_url=proxy.url,
            deployment_file=chain.deployment_file,
            anchorer_key=ANCHORER_KEY,
            env={**FAST_ENV, "LEDGER_BATCH_MAX_AGE_S": "0.5"},
        )
        try:
            await service.start()
            async with LedgerClient(service.url, timeout=10.0) as client:
                key = await new_creator(client, "creator:rpc")
                trickle = Trickle(client, "creator:rpc", key)
                async with trickling(trickle):
                    await _faults(client, proxy, service, trickle)
                bundles = await proofs(client, trickle.accepted)
            await check_proofs(chain, bundles.values())
            assert service.stop() == 0
            await check_anchored_once(chain, service.data_dir)
        finally:
            service.stop()
            await proxy.stop()

    answers = trickle.answers
    assert {status for _, status, _ in answers} == {202}, answers
    assert {phase for phase, _, _ in answers} >= {"pass", "slow", "cut", "blackhole", "restored"}
    # Intake never waits for the chain: no answer during a fault comes near one slowed
    # node request, let alone the RPC timeout. (The first answers, before any fault, may
    # wait for the verifier workers to start on a busy machine.)
    faulted = [a for a in answers if a[0] != "pass"]
    assert max(took for _, _, took in faulted) < SLOW_MS / 1000 - 0.5, max(
        faulted, key=lambda a: a[2])
    # Every blackholed request was given up by the service, none after the RPC timeout;
    # the longest was the anchorer's, which waited for that timeout, not for ever.
    waits = [hold.waited for hold in proxy.holds]
    assert waits and None not in waits, proxy.holds
    longest = max(w for w in waits if w is not None)
    assert RPC_TIMEOUT_S - 1 <= longest <= RPC_TIMEOUT_S + 1.5, waits


async def _faults(
    client: LedgerClient, proxy: RpcProxy, service: ServiceProcess, trickle: Trickle
) -> None:
    async def anchored_some() -> bool:
        return await metric(service.url, "ledger_batches_anchored_total") >= 2

    await eventually(anchored_some, "the first anchors")
    assert (await client.health())[0] == 200
    assert await metric(service.url, "ledger_chain_up") == 1

    trickle.phase = "slow"
    await proxy.set_mode(Mode.DELAY, delay_ms=SLOW_MS)
    await eventually(lambda: chain_failing(client), "/healthz to report a slow node")
    # Intake does not need the chain: a load balancer keyed on /readyz keeps sending.
    assert await client.ready() == (200, {"ready": True, "database": "ok"})
    assert await metric(service.url, "ledger_chain_up") == 0
    # The probe waited out its timeout (asyncio may fire a timer up to its clock's
    # resolution early, so "about", not "at least").
    probe_s = await metric(service.url, "ledger_chain_probe_seconds")
    assert probe_s >= HEALTH_TIMEOUT_S - 0.05, probe_s
    await asyncio.sleep(0.5)

    trickle.phase = "cut"
    errors_before = await metric(service.url, "ledger_rpc_errors_total")
    await proxy.set_mode(Mode.CUT)
    assert await chain_failing(client)

    async def errors_rising() -> bool:
        return await metric(service.url, "ledger_rpc_errors_total") > errors_before + 2

    await eventually(errors_rising, "RPC errors counted in /metrics")

    trickle.phase = "blackhole"
    await proxy.set_mode(Mode.BLACKHOLE)
    started = time.monotonic()
    assert await chain_failing(client)
    assert (await client.ready())[0] == 200
    # The probe gives up on its own timeout: /healthz answers, it does not hang.
    assert time.monotonic() - started < HEALTH_TIMEOUT_S + 1.0

    async def anchorer_held() -> bool:
        return len(proxy.holds) >= 2

    await eventually(anchorer_held, "the anchorer's request held in the blackhole")
    await asyncio.sleep(1.0)
    errors_before = await metric(service.url, "ledger_rpc_errors_total")

    trickle.phase = "restored"
    await proxy.set_mode(Mode.PASS)

    async def healthy() -> bool:
        return (await client.health())[0] == 200

    await eventually(healthy, "/healthz to report the node back")
    assert await metric(service.url, "ledger_chain_up") == 1

    async def held_requests_timed_out() -> bool:
        return all(hold.released_at is not None for hold in proxy.holds)

    # The held requests stay held after the restore: only the client's timeout ends them.
    await eventually(held_requests_timed_out, "the blackholed requests to time out",
                     timeout=RPC_TIMEOUT_S + 5)
    assert await metric(service.url, "ledger_rpc_errors_total") > errors_before


async def test_rpc_client_times_out_once_and_survives_cancelled_calls() -> None:
    anvil = AnvilProcess()
    await anvil.start()
    proxy = RpcProxy(anvil.rpc_url)
    await proxy.start()
    w3 = connect(proxy.url, timeout=1.0, attempts=3)
    try:
        assert await w3.eth.block_number == 0
        await proxy.set_mode(Mode.BLACKHOLE)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await w3.eth.block_number
        # One request, given up after one timeout: not tried again on the same silence
        # (a second try would end 2 s in; the margin is for a loaded machine).
        assert time.monotonic() - started < 1.9
        assert len(proxy.holds) == 1

        await proxy.set_mode(Mode.CUT)
        started = time.monotonic()
        with pytest.raises(aiohttp.ClientConnectorError):
            await w3.eth.block_number
        # A refusal is tried again at once, a few times, not waited out.
        assert time.monotonic() - started < 0.5

        await proxy.set_mode(Mode.PASS)

        async def cancelled(after: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(w3.eth.block_number, after)

        # Calls cancelled at every stage, as a health probe's timeout cancels them:
        # web3.py's own session lock would be left held and the next call hang.
        for _ in range(5):
            await asyncio.gather(*(cancelled(0.0005 * (i % 7)) for i in range(40)))
        assert await asyncio.wait_for(w3.eth.block_number, 5.0) == 0
    finally:
        await w3.provider.disconnect()
        await proxy.stop()
        await anvil.stop()
