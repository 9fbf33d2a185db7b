"""Serving processes (`serve_processes`, issue 4): intake with 1, 2 and 3 processes on one port.

    .venv/bin/python -m bench.processes_bench [--processes 1,2,3] [--rounds 2]
        [--single N] [--batches N] [--no-write]

Each run is a fresh ``ledger serve`` on the embedded default (SQLite, its own
anvil, ``confirmations = 1``) with ``serve_processes`` set; P-256 manifests signed
beforehand go through ``POST /v1/manifests`` (64 connections) and then
``POST /v1/manifests:batch`` (1,000 a request, 4 in flight) from `bench.loadgen`
in its own process with its lean client, after a warm-up. Rounds go through every
process count in turn, so a slow spell of the shared machine spreads over all of
them; a figure is the median (and range) over the rounds. CPU per manifest is the
whole service's (supervisor, serving processes, verifier workers; not anvil) over
warm-up and run.

Replaces the ``bench:processes`` section of docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.report import write_section
from bench.service_bench import (
    Server,
    loadgen,
    machine_busy,
    presign,
    register_creators,
    say,
    workdir,
    write_lines,
)

NAME = "processes"
COMMAND = ".venv/bin/python -m bench.processes_bench"
BATCH = 1_000


@dataclass(frozen=True)
class Run:
    """One load run: manifests accepted per second and CPU per manifest."""

    processes: int
    endpoint: str
    per_s: float
    p99_ms: float
    service_cpu_us: float
    client_cpu_us: float


def run_once(work: Path, processes: int, bodies: dict[str, Path], sizes: dict[str, tuple[int, int]],
             round_no: int) -> list[Run]:
    """Both endpoints against one fresh service with `processes` serving processes."""
    runs = []
    settings = {"confirmations": "1", "serve_processes": str(processes)}
    with Server(work / f"service-{processes}-{round_no}", settings) as server:
        register_creators(server.url, ("p256",))
        for endpoint, path in bodies.items():
            warmup, measured = sizes[endpoint]
            per_request = 1 if endpoint == "single" else BATCH
            route = "/v1/manifests" if endpoint == "single" else "/v1/manifests:batch"
            before = server.cpu_seconds() + server.worker_cpu_seconds()
            report = loadgen(
                work, f"load-{processes}-{endpoint}-{round_no}", "post", server.url, route,
                str(path), f"--concurrency={64 if endpoint == 'single' else 4}",
                f"--warmup={warmup // per_request}",
            )
            cpu = server.cpu_seconds() + server.worker_cpu_seconds() - before
            run = Run(
                processes, endpoint,
                per_s=float(report["items_ok"]) / float(report["elapsed_s"]),
                p99_ms=float(report["latency_ms"]["p99"]),
                service_cpu_us=cpu * 1e6 / (warmup + measured),
                client_cpu_us=float(report["client_cpu_s"]) * 1e6 / int(report["requests"]),
            )
            assert report["items_ok"] == measured, report["item_statuses"]
            say(f"{processes} processes, {endpoint}: {run.per_s:,.0f}/s, p99 {run.p99_ms:.0f} ms, "
                f"{run.service_cpu_us:.0f} µs of service CPU a manifest")
            runs.append(run)
    return runs


def render(runs: Sequence[Run], args: argparse.Namespace, busy: float) -> str:
    """The ``bench:processes`` section."""
    lines = [
        f"<!-- bench:{NAME} -->",
        "## Serving processes",
        "",
        f"Command: `{COMMAND}`, run {date.today().isoformat()} on {os.cpu_count()} cores; "
        f"other work used {busy:.0%} of the CPU just before. "
        f"{args.rounds} rounds; each run is a fresh `ledger serve` on the embedded default "
        "(SQLite, own anvil, `confirmations = 1`) with `serve_processes` set (docs/operations.md, "
        "section 3a), loaded over loopback by `bench.loadgen` (lean client) on the same 2 cores: "
        f"{args.single:,} P-256 manifests through `POST /v1/manifests` from 64 connections, then "
        f"{args.batches * BATCH:,} through `POST /v1/manifests:batch` ({BATCH:,} a request, 4 in "
        "flight), each after a warm-up. Median (range) over the rounds; CPU is the whole "
        "service's (supervisor, serving processes, verifier workers; not anvil) per manifest, "
        "warm-up included.",
        "",
        "| Serving processes | Checks in | Single POST /s | p99 ms | Service CPU µs a manifest "
        "| Batch endpoint /s | p99 ms | Service CPU µs a manifest |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for processes in args.processes:
        cells = [str(processes), "2 verifier workers" if processes == 1 else "serving process"]
        for endpoint in ("single", "batch"):
            mine = [r for r in runs if r.processes == processes and r.endpoint == endpoint]
            rates = [r.per_s for r in mine]
            cells += [
                f"{statistics.median(rates):,.0f} ({min(rates):,.0f} to {max(rates):,.0f})",
                f"{statistics.median(r.p99_ms for r in mine):,.0f}",
                f"{statistics.median(r.service_cpu_us for r in mine):,.0f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    client = statistics.median(r.client_cpu_us for r in runs if r.endpoint == "single")
    cores = os.cpu_count() or 1
    ceilings = []
    for processes in args.processes:
        service = statistics.median(r.service_cpu_us for r in runs
                                    if r.processes == processes and r.endpoint == "single")
        ceilings.append(f"{processes}: {cores * 1e6 / (service + client):,.0f}/s")
    lines += [
        "",
        f"The load generator used {client:.0f} µs of CPU a single POST. Single POSTs are "
        "bound by the CPU: at the measured CPU a request (service and load generator), "
        f"both cores fully busy would answer, by serving processes, {'; '.join(ceilings)}. "
        "Several serving processes spend less CPU a request than one event loop handing "
        "checks to verifier workers (no round trip to a worker) and use both cores for HTTP "
        "and storage. A batch request is worked through in one serving process's event loop "
        "(about 0.4 s for 1,000 manifests), so other requests on that process wait meanwhile; "
        "`intake_workers` ≥ 1 sends batches to workers instead (docs/operations.md, "
        "section 3a).",
        f"<!-- /bench:{NAME} -->",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.processes_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", default="1,2,3", help="serving process counts")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--single", type=int, default=15_000, help="measured single POSTs")
    parser.add_argument("--batches", type=int, default=16, help="measured batch requests")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    args.processes = [int(p) for p in args.processes.split(",") if p]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Run every round, print the section, and write it unless told not to."""
    args = parse_args(argv)
    busy = machine_busy()
    started = time.perf_counter()
    sizes = {"single": (args.single // 10, args.single),
             "batch": (4 * BATCH, args.batches * BATCH)}
    runs: list[Run] = []
    with workdir(False) as work, ProcessPoolExecutor(os.cpu_count()) as pool:
        bodies = {}
        start = 40_000_000
        for endpoint, (warmup, measured) in sizes.items():
            manifests = presign(pool, "p256", start, warmup + measured)
            start += warmup + measured
            if endpoint == "batch":
                manifests = [b'{"manifests":[' + b",".join(manifests[i : i + BATCH]) + b"]}"
                             for i in range(0, len(manifests), BATCH)]
            bodies[endpoint] = write_lines(work / f"{endpoint}.jsonl", manifests)
        for round_no in range(args.rounds):
            for processes in args.processes:
                runs += run_once(work, processes, bodies, sizes, round_no)
    say(f"done in {time.perf_counter() - started:.0f} s")
    section = render(runs, args, busy)
    print(section)
    if not args.no_write:
        write_section(NAME, section)


if __name__ == "__main__":
    main()
