"""Replica benchmarks (issue 6): intake with 1, 2 and 4 replicas on PostgreSQL, and failover.

    .venv/bin/python -m bench.replica_bench [--single N] [--batches N] [--failovers N] [--no-write]

Runs a throwaway PostgreSQL cluster and an anvil with the contracts deployed;
every replica is ``ledger serve --rpc-url ... --db-url ...`` in its own process.

- intake: for 1, 2 and 4 replicas on a fresh database, P-256 manifests signed
  beforehand go through ``POST /v1/manifests`` (64 connections in all) and
  ``POST /v1/manifests:batch`` (1,000 a request, 4 in flight in all), split
  evenly over the replicas, one load generator process per replica, all at
  once. The figure is every replica's accepted manifests over the longest
  generator's measured time. Everything shares the same 2 cores.
- failover: two replicas with the default lease (10 s); the leader is killed
  with SIGKILL (then, separately, frozen with SIGSTOP) while a client submits a
  manifest every 100 ms to the other. Measured: kill → the other reports itself
  leader (``ledger_leader`` in /metrics), and kill → the first manifest accepted
  after the kill has a confirmed proof.

Replaces the ``bench:replicas`` section of docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account

from bench.report import write_section
from bench.service_bench import (
    ROOT,
    creator_key,
    manifest_obj,
    presign,
    register_creators,
    write_lines,
)
from ledger.chain.anvil import DEV_KEYS, AnvilProcess
from ledger.chain.deploy import deploy_contracts
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient
from ledger.core.signing import sign_manifest
from tests.integration.faults.service_proc import ServiceProcess
from tests.pg import ThrowawayPostgres

NAME = "replicas"
COMMAND = ".venv/bin/python -m bench.replica_bench"
ANCHORER_KEY = DEV_KEYS[1]
REPLICA_COUNTS = (1, 2, 4)
SETTINGS = {"LEDGER_CONFIRMATIONS": "1", "LEDGER_LOG_LEVEL": "warning"}


@dataclass(frozen=True)
class IntakeResult:
    """One intake run over `replicas` replicas."""

    replicas: int
    endpoint: str
    per_s: float
    p50_ms: float
    p99_ms: float
    accepted: int


@dataclass(frozen=True)
class FailoverResult:
    """One leader failure: how long until another leads and until proofs flow again."""

    how: str
    takeover_s: float
    proof_s: float


class Cluster:
    """PostgreSQL and anvil, for replicas to run against."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.postgres = ThrowawayPostgres()
        self.anvil = AnvilProcess()

    async def __aenter__(self) -> Cluster:
        self.postgres.start()
        await self.anvil.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.anvil.stop()
        self.postgres.stop()

    async def replicas(self, label: str, count: int) -> list[ServiceProcess]:
        """`count` replicas (not started) on a fresh database and a fresh deployment:
        a registry already used by another database would refuse its batch numbers."""
        w3 = connect(self.anvil.rpc_url)
        account = Account.from_key(ANCHORER_KEY).address
        deployment = await deploy_contracts(
            w3, DEV_KEYS[0], anchorers=[account], meters=[account]
        )
        await w3.provider.disconnect()
        deployment_file = self.work / f"{label}-deployment.json"
        deployment.write(deployment_file)
        db_url = self.postgres.new_database()
        made = []
        for index in range(count):
            data_dir = self.work / f"{label}-{index}"
            data_dir.mkdir(parents=True)
            made.append(ServiceProcess(
                data_dir, rpc_url=self.anvil.rpc_url, deployment_file=deployment_file,
                anchorer_key=ANCHORER_KEY,
                env={**SETTINGS, "LEDGER_DB_URL": db_url, "LEDGER_REPLICA_ID": f"r{index}"},
            ))
        return made


async def start_all(replicas: Sequence[ServiceProcess]) -> None:
    """Start the first replica (it migrates the empty database), then the others."""
    await replicas[0].start(timeout=120)
    await asyncio.gather(*(r.start(timeout=120) for r in replicas[1:]))


def stop_all(replicas: Sequence[ServiceProcess]) -> None:
    """Stop every replica cleanly."""
    for replica in replicas:
        replica.stop()


def run_generators(work: Path, label: str, urls: Sequence[str], route: str,
                   bodies: Sequence[bytes], concurrency: int, warmup: int) -> list[dict[str, Any]]:
    """One `bench.loadgen post` per URL, all at once, each with its share of `bodies`."""
    procs, outs = [], []
    for index, url in enumerate(urls):
        share = bodies[index :: len(urls)]
        path = write_lines(work / f"{label}-{index}.jsonl", share)
        out = work / f"{label}-{index}.json"
        cmd = [sys.executable, "-m", "bench.loadgen", "post", url, route, str(path), str(out),
               f"--concurrency={max(1, concurrency // len(urls))}",
               f"--warmup={warmup // len(urls)}"]
        procs.append(subprocess.Popen(cmd, cwd=ROOT))
        outs.append(out)
    for proc in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"load generator {proc.pid} failed for {label}")
    return [json.loads(out.read_text()) for out in outs]


def combine(replicas: int, endpoint: str, reports: Sequence[dict[str, Any]]) -> IntakeResult:
    """The replicas' figures as one: total accepted over the longest measured time."""
    accepted = sum(int(r["items_ok"]) for r in reports)
    elapsed = max(float(r["elapsed_s"]) for r in reports)
    return IntakeResult(
        replicas, endpoint, accepted / elapsed,
        max(float(r["latency_ms"].get("p50", 0.0)) for r in reports),
        max(float(r["latency_ms"].get("p99", 0.0)) for r in reports),
        accepted,
    )


async def measure_intake(cluster: Cluster, pool: ProcessPoolExecutor, single: int,
                         batches: int) -> list[IntakeResult]:
    """Single and batch intake with 1, 2 and 4 replicas."""
    results = []
    for offset, count in enumerate(REPLICA_COUNTS):
        base = 40_000_000 + offset * 2_000_000
        singles = presign(pool, "p256", base, single + single // 10)
        batch_manifests = presign(pool, "p256", base + 1_000_000, (batches + 4) * 1_000)
        batch_bodies = [b'{"manifests":[' + b",".join(batch_manifests[i : i + 1000]) + b"]}"
                        for i in range(0, len(batch_manifests), 1000)]
        replicas = await cluster.replicas(f"intake{count}", count)
        await start_all(replicas)
        try:
            await asyncio.to_thread(register_creators, replicas[0].url, ("p256",))
            urls = [r.url for r in replicas]
            reports = await asyncio.to_thread(
                run_generators, cluster.work, f"single{count}", urls, "/v1/manifests",
                singles, 64, single // 10)
            results.append(combine(count, "single", reports))
            reports = await asyncio.to_thread(
                run_generators, cluster.work, f"batch{count}", urls, "/v1/manifests:batch",
                batch_bodies, 4, 4)
            results.append(combine(count, "batch", reports))
        finally:
            stop_all(replicas)
        for result in results[-2:]:
            print(f"{count} replica(s), {result.endpoint}: {result.per_s:,.0f} manifests/s, "
                  f"p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms", flush=True)
    return results


async def is_leader(replica: ServiceProcess) -> bool:
    """Whether the replica's /metrics says it leads (False if it does not answer)."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http, \
                http.get(replica.url + "/metrics") as response:
            text = await response.text()
    except (aiohttp.ClientError, TimeoutError):
        return False
    return any(line.split()[1:] in (["1"], ["1.0"])
               for line in text.splitlines() if line.startswith("ledger_leader "))


async def leader(replicas: Sequence[ServiceProcess]) -> ServiceProcess:
    """The replica that leads, waiting for one."""
    while True:
        for replica in replicas:
            if await is_leader(replica):
                return replica
        await asyncio.sleep(0.1)


async def one_failover(replicas: list[ServiceProcess], how: str, serial: int) -> FailoverResult:
    """Fail the leader (`how`: "kill" or "stop"), measure takeover and first proof after."""
    old = await leader(replicas)
    other = next(r for r in replicas if r is not old)
    key = creator_key("p256", 0)
    async with LedgerClient(other.url) as client:
        failed_at = time.monotonic()
        if how == "kill":
            old.kill()
        else:
            old.pause()
        first_digest = None
        n = 0
        while not await is_leader(other):
            number = 50_000_000 + serial * 1000 + n
            doc = sign_manifest(manifest_obj("creator:bench-p256-0", number), key)
            status, body = await client.submit(doc)
            if status == 202 and first_digest is None:
                first_digest = body["manifestDigest"]
            n += 1
            await asyncio.sleep(0.1)
        takeover = time.monotonic() - failed_at
        assert first_digest is not None
        while (await client.proof(first_digest))[0] != 200:
            await asyncio.sleep(0.05)
        proof = time.monotonic() - failed_at
    if how == "kill":
        await old.start(timeout=120)
    else:
        old.resume()
        while await is_leader(old):
            await asyncio.sleep(0.1)
    return FailoverResult(how, takeover, proof)


async def measure_failover(cluster: Cluster, rounds: int) -> list[FailoverResult]:
    """`rounds` SIGKILLs and `rounds` SIGSTOPs of the leader of two replicas."""
    replicas = await cluster.replicas("failover", 2)
    await start_all(replicas)
    results = []
    try:
        await asyncio.to_thread(register_creators, replicas[0].url, ("p256",))
        for serial in range(rounds * 2):
            how = "kill" if serial < rounds else "stop"
            result = await one_failover(replicas, how, serial)
            results.append(result)
            print(f"{how}: takeover {result.takeover_s:.1f} s, first proof "
                  f"{result.proof_s:.1f} s", flush=True)
    finally:
        stop_all(replicas)
    return results


def render(intake: Sequence[IntakeResult], failover: Sequence[FailoverResult]) -> str:
    """The markdown section."""
    cpu = os.cpu_count()
    lines = [
        f"<!-- bench:{NAME} -->",
        "## Replicas on PostgreSQL (issue 6)",
        "",
        f"`{COMMAND}` on {date.today().isoformat()}; {cpu} cores shared by PostgreSQL, anvil, "
        "every replica and the load generators (one per replica).",
        "",
        "| replicas | endpoint | manifests/s | p50 ms | p99 ms | accepted |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in intake:
        lines.append(f"| {r.replicas} | {r.endpoint} | {r.per_s:,.0f} | {r.p50_ms:.0f} | "
                     f"{r.p99_ms:.0f} | {r.accepted:,} |")
    lines += [
        "",
        "More replicas do not add throughput here, and they do not collapse it: every "
        "process shares the same two cores, and a manifest costs the same CPU wherever it "
        "lands (signature check, JSON, receipt signature, PostgreSQL round trip). The limit "
        "is the machine's cores; replicas pay off with more of them (or more machines).",
        "",
        "Leader failure with two replicas and the default lease (`lease_ttl_s` = 10): seconds from "
        "the failure to the other replica leading, and to the first manifest accepted after "
        "the failure having a confirmed proof.",
        "",
        "| failure | takeover s | first proof s |",
        "|---|---:|---:|",
    ]
    for f in failover:
        what = "SIGKILL" if f.how == "kill" else "SIGSTOP"
        lines.append(f"| {what} | {f.takeover_s:.1f} | {f.proof_s:.1f} |")
    lines.append(f"<!-- /bench:{NAME} -->")
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="ledger-replicas-") as tmp, \
            ProcessPoolExecutor() as pool:
        async with Cluster(Path(tmp)) as cluster:
            intake = await measure_intake(cluster, pool, args.single, args.batches)
            failover = await measure_failover(cluster, args.failovers)
    return render(intake, failover)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.replica_bench", description=__doc__)
    parser.add_argument("--single", type=int, default=20_000, help="single POSTs measured per run")
    parser.add_argument("--batches", type=int, default=30, help="1,000-manifest batches per run")
    parser.add_argument("--failovers", type=int, default=3, help="kills and stops of the leader")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    section = asyncio.run(run(args))
    print(section)
    if not args.no_write:
        write_section(NAME, section)


if __name__ == "__main__":
    main()
