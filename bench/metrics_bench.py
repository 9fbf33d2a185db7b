"""Metrics on the intake hot path (issue 13): prometheus_client against the hand-written registry.

    .venv/bin/python -m bench.metrics_bench [--calls 200000] [--rounds 5] [--no-write]

What a request costs in metrics: one counter increment (``ledger_manifests_accepted_total``
and the like) and, as the worst case, one histogram observation
(``ledger_anchor_latency_seconds``'s buckets). Cases, each in a fresh process and
taken in turn every round, so a slow spell of the shared machine spreads over all:

- hand-written: the registry `ledger/metrics.py` held before issue 13 (its
  ``Counter.inc`` and ``Histogram.observe``, kept below as the baseline);
- prometheus_client, one process: `ledger.metrics.Metrics()`;
- prometheus_client, shared: `Metrics("0")` with ``PROMETHEUS_MULTIPROC_DIR`` set, as
  in each of several serving processes (every value written to a memory-mapped file).

A figure is the best round's CPU ns per call (the least disturbed). The extra cost a
request is set against the service CPU a single POST costs (docs/benchmarks.md,
sections "Service" and "Serving processes"). Also timed: one scrape (`render`) of
the process's own series. Replaces the ``bench:metrics`` section of docs/benchmarks.md
unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import bisect
import multiprocessing
import os
import platform
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date

from bench.report import write_section

CASES = ("hand-written", "prometheus_client, one process", "prometheus_client, shared")
#: Service CPU a single POST costs where each case runs, µs: one process with verifier
#: workers (bench:service), two serving processes (bench:processes).
REQUEST_CPU_US = {CASES[1]: (1_156, "one process"), CASES[2]: (850, "two serving processes")}


class _HandWrittenCounter:
    """The hand-written registry's counter (before issue 13): the baseline."""

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class _HandWrittenHistogram:
    """The hand-written registry's histogram (before issue 13): the baseline."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0.0
        self.observations = 0

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.observations += 1


def _ns_per_call(call: Callable[[], object], calls: int) -> float:
    # CPU time, not wall time: the machine is shared, and a wait for a core is not a cost.
    start = time.process_time_ns()
    for _ in range(calls):
        call()
    return (time.process_time_ns() - start) / calls


def _hot_path(case: str) -> tuple[Callable[[float], None], Callable[[float], None],
                                   Callable[[], object] | None]:
    """`case`'s counter increment, histogram observation and scrape (None: not timed)."""
    from ledger.metrics import ANCHOR_LATENCY_BUCKETS, Metrics  # after the variable is set

    if case == "hand-written":
        return (_HandWrittenCounter().inc,
                _HandWrittenHistogram(ANCHOR_LATENCY_BUCKETS).observe, None)
    metrics = Metrics("0" if case.endswith("shared") else None)
    return metrics.accepted.inc, metrics.anchor_latency.observe, metrics.render


def _measure(case: str, calls: int) -> dict[str, float]:
    """ns per counter increment, per histogram observation and per scrape for `case`,
    in this (fresh) process."""
    with tempfile.TemporaryDirectory() as folder:
        if case.endswith("shared"):
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        inc, observe, render = _hot_path(case)
        figures = {"inc": _ns_per_call(lambda: inc(1.0), calls),
                   "observe": _ns_per_call(lambda: observe(7.0), calls)}
        if render is not None:
            figures["render"] = _ns_per_call(render, 200)
    return figures


def measure(calls: int, rounds: int) -> dict[str, dict[str, float]]:
    """The best round's figures for every case."""
    best: dict[str, dict[str, float]] = {}
    spawn = multiprocessing.get_context("spawn")
    for _ in range(rounds):
        for case in CASES:
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                figures = pool.submit(_measure, case, calls).result()
            kept = best.setdefault(case, figures)
            for name, value in figures.items():
                kept[name] = min(kept[name], value)
    return best


def report(best: dict[str, dict[str, float]], calls: int, rounds: int) -> str:
    """The ``bench:metrics`` section."""
    base = best["hand-written"]
    lines = [
        "<!-- bench:metrics -->",
        "## Metrics on the hot path",
        "",
        f"Command: `.venv/bin/python -m bench.metrics_bench --calls {calls} --rounds {rounds}`, "
        f"run {date.today().isoformat()} on {os.cpu_count()} cores, Python "
        f"{platform.python_version()}. Each case in a fresh process, best of {rounds} "
        "interleaved rounds; a request costs one counter increment, and at worst one "
        "histogram observation too.",
        "",
        "| Registry | Counter `inc`, CPU ns | Histogram `observe`, CPU ns | Both, times the "
        "hand-written | Scrape (`render`) µs |",
        "|---|---:|---:|---:|---:|",
    ]
    for case in CASES:
        f = best[case]
        ratio = (f["inc"] + f["observe"]) / (base["inc"] + base["observe"])
        scrape = f"{f['render'] / 1000:,.0f}" if "render" in f else ""
        lines.append(f"| {case} | {f['inc']:,.0f} | {f['observe']:,.0f} | {ratio:.1f} "
                     f"| {scrape} |")
    lines.append("")
    for case, (cpu, setup) in REQUEST_CPU_US.items():
        extra_us = (best[case]["inc"] + best[case]["observe"]
                    - base["inc"] - base["observe"]) / 1000
        lines.append(f"- {case}: {extra_us:.2f} µs more a request than the hand-written, "
                     f"{extra_us / cpu:.2%} of the {cpu:,} µs of service CPU a single POST "
                     f"costs with {setup}.")
    lines.append("<!-- /bench:metrics -->")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    section = report(measure(args.calls, args.rounds), args.calls, args.rounds)
    print(section)
    if not args.no_write:
        write_section("metrics", section)


if __name__ == "__main__":
    main()
