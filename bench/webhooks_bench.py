"""Webhook benchmarks (issue 17): event to first delivery attempt at 200 events a second,
and no event lost over five `kill -9` of the service and a receiver outage.

    .venv/bin/python -m bench.webhooks_bench [--seconds S] [--outage S] [--no-write]

`ledger serve` runs as a child process on an anvil the benchmark owns (SQLite,
confirmations 1, batches sealed every second), so it can be killed with SIGKILL; a
receiver in this process verifies every delivery with `standardwebhooks` and notes
when it arrived. Manifests are sent at 200 a second; each anchored manifest is one
`manifest.anchored` event, announced when its batch confirms (so events come in
bursts of about 200, a batch's worth).

- latency: for `--seconds`, the time from an event's announcement (its payload's
  ``timestamp``) to its first delivery attempt reaching the receiver; p50, p99, max.
- faults: manifests keep coming while the service is killed five times at random
  instants mid-delivery and restarted; then the receiver answers 503 for `--outage`
  seconds (600 by default, run for real) while manifests still come and one more kill
  lands; then it answers again. Every anchored manifest's event must arrive; events
  that arrive twice must carry the same id and bytes. Backoff is capped at 60 s here
  (``webhook_backoff_max_s``; the default is one hour), so the first retry after the
  outage comes within a minute.

Replaces the ``bench:webhooks`` section of docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from eth_account import Account
from standardwebhooks import Webhook

from bench.report import write_section
from bench.service_bench import presign, register_creators
from ledger.chain.anvil import DEV_KEYS, AnvilProcess
from ledger.chain.deploy import deploy_contracts
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient
from ledger.core.manifest import parse_manifest
from tests.integration.faults.service_proc import ServiceProcess

NAME = "webhooks"
COMMAND = ".venv/bin/python -m bench.webhooks_bench"
ANCHORER_KEY = DEV_KEYS[1]
ADMIN = "bench-operator-token-" + "b" * 32
RATE = 200  # manifests (so events) a second
GROUP = 20  # manifests per batch request
KILLS = 5
P99_GOAL_S = 2.0
BASE = 40_000_000  # manifest numbers of this benchmark (bench.service_bench uses others)
ENV = {
    "LEDGER_ADMIN_TOKEN": ADMIN,
    "LEDGER_WEBHOOK_URLS": "any",
    "LEDGER_WEBHOOK_BACKOFF_MAX_S": "60",
    "LEDGER_CONFIRMATIONS": "1",
    "LEDGER_BATCH_MAX_AGE_S": "1",
    "LEDGER_POLL_INTERVAL_S": "0.2",
    "LEDGER_LOG_LEVEL": "warning",
}


@dataclass
class Receiver:
    """Verifies each delivery and notes its first arrival; 503 while `down`."""

    secret: str = ""
    down: bool = False
    first: dict[str, float] = field(default_factory=dict)
    bodies: dict[str, bytes] = field(default_factory=dict)
    digests: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    deliveries: int = 0
    refused: int = 0
    problems: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        arrived = time.time()
        body = await request.read()
        event_id = request.headers.get("webhook-id", "")
        if event_id not in self.first:
            self.first[event_id] = arrived
            payload = orjson.loads(body)
            stamp = datetime.fromisoformat(payload["timestamp"].replace("Z", "+00:00"))
            self.latencies.append(arrived - stamp.timestamp())
        if self.down:
            self.refused += 1
            return web.Response(status=503)
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except Exception as exc:  # every failure is a finding, reported
            self.problems.append(f"{event_id}: {exc}")
            return web.Response(status=400)
        if self.bodies.setdefault(event_id, body) != body:
            self.problems.append(f"{event_id} arrived again with other bytes")
        self.deliveries += 1
        self.digests.add(payload["data"]["manifestDigest"])
        return web.Response(status=204)


@dataclass
class Load:
    """Sends presigned manifests at `RATE` a second, through service restarts."""

    url: str
    docs: list[Any]
    sent: set[str] = field(default_factory=set)
    next: int = 0

    async def run_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        async with LedgerClient(self.url, timeout=10.0) as client:
            while time.monotonic() < deadline and self.next < len(self.docs):
                started = time.monotonic()
                group = self.docs[self.next : self.next + GROUP]
                try:
                    await client.submit_many(group)
                except Exception:  # the service is down: the same group again
                    await asyncio.sleep(0.2)
                    continue
                self.next += len(group)
                self.sent |= {parse_manifest(doc).digest_hex() for doc in group}
                await asyncio.sleep(max(0.0, GROUP / RATE - (time.monotonic() - started)))


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def serve_receiver(receiver: Receiver) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hook"


async def start_service(work: Path, anvil: AnvilProcess) -> ServiceProcess:
    w3 = connect(anvil.rpc_url)
    account = Account.from_key(ANCHORER_KEY).address
    deployment = await deploy_contracts(w3, DEV_KEYS[0], anchorers=[account], meters=[account])
    await w3.provider.disconnect()
    deployment.write(work / "deployment.json")
    (work / "data").mkdir()
    service = ServiceProcess(work / "data", rpc_url=anvil.rpc_url,
                             deployment_file=work / "deployment.json",
                             anchorer_key=ANCHORER_KEY, env=ENV)
    await service.start()
    return service


async def subscribe(url: str, hook: str) -> str:
    async with aiohttp.ClientSession() as http, http.post(
            url + "/v1/webhooks", json={"url": hook, "types": ["manifest.anchored"]},
            headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
        resp.raise_for_status()
        secret: str = (await resp.json())["secret"]
        return secret


async def wait_for(receiver: Receiver, digests: set[str], timeout: float) -> float:
    started = time.monotonic()
    while not digests <= receiver.digests and time.monotonic() - started < timeout:
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    total = RATE * int(args.seconds + 30 + args.outage + 60)
    with ProcessPoolExecutor() as pool:
        lines = presign(pool, "p256", BASE, total)
    docs = [orjson.loads(line) for line in lines]
    rng = random.Random(17)
    receiver = Receiver()
    runner, hook = await serve_receiver(receiver)
    anvil = AnvilProcess()
    await anvil.start()
    service = await start_service(work, anvil)
    try:
        await asyncio.to_thread(register_creators, service.url, ["p256"])
        receiver.secret = await subscribe(service.url, hook)
        load = Load(service.url, docs)
        await load.run_for(args.seconds)
        await wait_for(receiver, load.sent, 60)
        latencies = list(receiver.latencies)
        steady = len(load.sent)
        for _ in range(KILLS):
            await load.run_for(rng.uniform(1.5, 4.0))
            service.kill()
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            await service.start()
        receiver.down = True
        outage_started = time.monotonic()
        await load.run_for(args.outage / 2)
        service.kill()
        await service.start()
        await load.run_for(args.outage - (time.monotonic() - outage_started))
        receiver.down = False
        catch_up = await wait_for(receiver, load.sent, 900)
    finally:
        service.stop()
        await anvil.stop()
        await runner.cleanup()
    lost = load.sent - receiver.digests
    return {
        "rate": RATE, "seconds": args.seconds, "steady_events": steady,
        "p50_s": statistics.median(latencies) if latencies else 0.0,
        "p99_s": percentile(latencies, 0.99), "max_s": max(latencies, default=0.0),
        "events": len(load.sent), "lost": len(lost), "kills": KILLS + 1,
        "outage_s": args.outage, "catch_up_s": catch_up, "deliveries": receiver.deliveries,
        "duplicates": receiver.deliveries - len(receiver.bodies),
        "refused": receiver.refused, "problems": receiver.problems[:5],
        "starts": service.starts,
    }


def render(r: dict[str, Any]) -> str:
    ok = "met" if r["p99_s"] < P99_GOAL_S else "NOT met"
    p99_ms = r["p99_s"] * 1000
    backlog = f"a backlog of about {r['rate'] * r['outage_s']:,.0f} events, sent in order"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return f"""<!-- bench:{NAME} -->
## Webhooks (issue 17)

`{COMMAND}` ({datetime.now(UTC):%Y-%m-%d}, {machine}): `ledger serve` in a child
process on its own anvil, SQLite; manifests sent at {r["rate"]} a second, each anchored
manifest one `manifest.anchored` event delivered to a local receiver that verifies it
with `standardwebhooks`.

| measure | result |
|---|---|
| event → first delivery attempt, p50 | {r["p50_s"] * 1000:,.0f} ms |
| event → first delivery attempt, p99 (goal < {P99_GOAL_S:g} s: {ok}) | {p99_ms:,.0f} ms |
| event → first delivery attempt, max | {r["max_s"] * 1000:,.0f} ms |
| events in the steady {r["seconds"]:g} s | {r["steady_events"]:,} |
| events in the whole run | {r["events"]:,} |
| `kill -9` of the service (five mid-delivery, one during the outage) | {r["kills"]} |
| receiver outage (503 to every attempt) | {r["outage_s"]:g} s ({r["refused"]:,} attempts refused) |
| events lost | **{r["lost"]}** |
| deliveries / duplicates (same id, same bytes) | {r["deliveries"]:,} / {r["duplicates"]:,} |
| after the outage, until every event was delivered | {r["catch_up_s"]:,.0f} s ({backlog}) |
| verification failures | {len(r["problems"])} |

Events are announced when their batch confirms, about {r["rate"]} at once each second, and
each subscriber's are sent one after another in order; the latency includes waiting
behind the rest of the burst. After the outage the first retry comes within the backoff
cap (60 s here, one hour by default), then the queue drains in order.
<!-- /bench:{NAME} -->
"""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--outage", type=float, default=600.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledger-webhooks-bench-") as tmp:
        results = asyncio.run(run(args, Path(tmp)))
    print(json.dumps(results, indent=2))
    if not args.no_write:
        write_section(NAME, render(results))


if __name__ == "__main__":
    main()
