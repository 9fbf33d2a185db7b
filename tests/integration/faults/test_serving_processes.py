"""`serve_processes` = 2: two serving processes on one port under a supervisor. Both
answer single and batch requests, /metrics from either shows both, a serving process
killed with SIGKILL is started again without losing what it had accepted, SIGTERM
stops them all, and they stop by themselves when their supervisor is killed."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from ledger.cli.client import LedgerClient
from ledger.core.signing import SigningKey
from tests.integration.faults.conftest import (
    Chain,
    check_anchored_once,
    check_proofs,
    eventually,
    new_creator,
    proofs,
)
from tests.integration.faults.service_proc import ServiceProcess
from tests.integration.service.conftest import manifest

pytestmark = pytest.mark.chain

PROCESSES = {"LEDGER_SERVE_PROCESSES": "2"}


def serving_processes(supervisor: int) -> set[int]:
    """The pids of the supervisor's serving processes (not its resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == supervisor and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


async def replica_values(url: str, name: str) -> dict[str, float]:
    """A metric's value for each ``replica`` label in /metrics."""
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
        text = await response.text()
    return {m[1]: float(m[2])
            for m in re.finditer(rf'^{name}{{replica="([^"]+)"}} (\S+)$', text, re.MULTILINE)}


async def submit(url: str, creator: str, key: SigningKey, numbers: range) -> list[str]:
    """Submit manifests `numbers` over one new connection each (so both processes get
    some); the digests, all answered 202."""
    async def one(n: int) -> str:
        async with LedgerClient(url) as client:
            status, body = await client.submit(manifest(creator, key, n))
        assert status == 202, body
        return str(body["manifestDigest"])

    return list(await asyncio.gather(*(one(n) for n in numbers)))


async def test_two_processes_share_a_port_and_one_killed_is_replaced(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain, PROCESSES)
    await service.start()

    async def both_serving() -> bool:
        values = await replica_values(service.url, "ledger_leader")
        return len(serving_processes(service.pid)) == 2 and len(values) == 2

    await eventually(both_serving, "two serving processes")
    async with LedgerClient(service.url) as client:
        key = await new_creator(client, "creator:procs")
    digests = await submit(service.url, "creator:procs", key, range(40))

    async def counted(total: int) -> bool:
        values = await replica_values(service.url, "ledger_manifests_accepted_total")
        return sum(values.values()) == total

    await eventually(lambda: counted(40), "every acceptance in /metrics")

    async def one_leader() -> bool:
        # Counts are shared at once, gauges every second: the leader's may lag its lease.
        leaders = await replica_values(service.url, "ledger_leader")
        return sorted(leaders.values()) == [0.0, 1.0]  # one seals and anchors, the other not

    await eventually(one_leader, "one leader in /metrics")

    before = serving_processes(service.pid)
    os.kill(min(before), 9)

    async def replaced() -> bool:
        now = serving_processes(service.pid)
        return len(now) == 2 and now != before and len(await replica_values(
            service.url, "ledger_leader")) == 2

    await eventually(replaced, "the killed process started again", timeout=60.0)
    assert "exited (code -9): starting it again" in service.log_text()
    digests += await submit(service.url, "creator:procs", key, range(40, 80))
    async with LedgerClient(service.url) as client:
        # A batch goes to the serving process's verifier worker, single ones are checked
        # in the serving process itself.
        results = await client.submit_many([manifest("creator:procs", key, n)
                                            for n in range(80, 100)])
        assert {r["status"] for r in results} == {"pending"}, results
        digests += [r["manifestDigest"] for r in results]
        bundles = await proofs(client, digests)
    await check_proofs(chain, bundles.values())
    children = serving_processes(service.pid)
    assert service.stop() == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)
    await check_anchored_once(chain, service.data_dir)


async def test_serving_processes_stop_when_their_supervisor_is_killed(
    chain: Chain, services: Callable[..., ServiceProcess]
) -> None:
    service = services(chain, PROCESSES)
    await service.start()
    await eventually(lambda: _count(service, 2), "two serving processes")
    children = serving_processes(service.pid)
    service.kill()

    async def gone() -> bool:
        return not any(Path(f"/proc/{pid}").exists() for pid in children)

    await eventually(gone, "the serving processes to stop", timeout=30.0)


async def _count(service: ServiceProcess, wanted: int) -> bool:
    return len(serving_processes(service.pid)) == wanted
