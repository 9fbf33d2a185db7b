"""CLI start-up (issue 12: ``ledger --help`` and ``ledger verify`` in at most 0.3 s; issue
15: ``ledger verify evidence.json --block-hash`` in at most 0.5 s).

    .venv/bin/python -m bench.startup_bench [--runs N]

Each command runs ``--runs`` times in turn with ``python -c pass`` as the
reference measured in the same run; wall time and CPU (user + system, from the
children's rusage) per run, median and best. ``ledger verify`` checks a proof
bundle of tests/vectors/proofs.json offline, and the valid P-256 (1.1) and Ethereum
(1.0) evidence packages of tests/vectors/evidence.json header-only, with their pins on
the command line. Writes the ``bench:startup`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.report import write_section
from bench.service_bench import wait_idle

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ".venv/bin/python -m bench.startup_bench"


def _bundle(folder: Path) -> Path:
    vectors = json.loads((ROOT / "tests" / "vectors" / "proofs.json").read_text())
    path = folder / "bundle.json"
    path.write_text(vectors["valid"][0]["json"])
    return path


def _evidence(folder: Path, case: str) -> list[str]:
    """``verify`` arguments for the valid vector package ``case``, written into ``folder``."""
    vectors = json.loads((ROOT / "tests" / "vectors" / "evidence.json").read_text())
    found = next(c for c in vectors["cases"] if c["name"] == f"{case}: valid, header only")
    path = folder / f"evidence-{case}.json"
    path.write_text(json.dumps(found["package"]))
    pins = vectors["pins"]
    return ["verify", str(path), "--registry", pins["registry"], "--chain-id",
            str(pins["chainId"]), "--code-hash", pins["codeHash"], "--block-hash",
            found["blockHash"]]


def timed(cmd: Sequence[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of running ``cmd`` from the checkout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def measure(runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU seconds of each command, `runs` times, interleaved."""
    with tempfile.TemporaryDirectory() as scratch:
        bundle = _bundle(Path(scratch))
        ledger = [sys.executable, "-m", "ledger.cli"]
        commands = {
            "python -c pass (reference)": [sys.executable, "-c", "pass"],
            "ledger --help": [*ledger, "--help"],
            "ledger verify --help": [*ledger, "verify", "--help"],
            "ledger verify bundle.json (offline)": [*ledger, "verify", str(bundle)],
            **{f"ledger verify evidence.json --block-hash ({kind} package)":
               [*ledger, *_evidence(Path(scratch), case)]
               for kind, case in (("a P-256", "p256-1.1"), ("an Ethereum", "eth-1.0"))},
        }
        times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                wall, cpu = timed(cmd)
                times[name][0].append(wall)
                times[name][1].append(cpu)
    return times


def render(times: dict[str, tuple[list[float], list[float]]], runs: int, busy: float) -> str:
    """The ``bench:startup`` section."""
    lines = [
        "<!-- bench:startup -->",
        "## CLI start-up",
        "",
        f"`{COMMAND} --runs {runs}`, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores; "
        f"the commands interleaved, page cache warm; other work used {busy:.0%} of the CPU "
        "before the run.",
        "",
        "| command | wall median | wall best | CPU median | goal |",
        "|---|---:|---:|---:|---|",
    ]
    for name, (wall, cpu) in times.items():
        goal = "" if "reference" in name else "≤ 0.5 s" if "evidence" in name else "≤ 0.3 s"
        lines.append(f"| `{name}` | {statistics.median(wall):.3f} s | {min(wall):.3f} s | "
                     f"{statistics.median(cpu):.3f} s | {goal} |")
    lines += ["<!-- /bench:startup -->"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Measure, print and write the section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    busy = wait_idle(60.0)
    text = render(measure(args.runs), args.runs, busy)
    print(text)
    if not args.no_write:
        write_section("startup", text)


if __name__ == "__main__":
    main()
