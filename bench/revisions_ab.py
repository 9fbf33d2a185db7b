"""The same benchmarks on two revisions of the tree, taken in turn (issue 13: "no worse").

    .venv/bin/python -m bench.revisions_ab --base REV [--rounds 3] [--no-write]

The base revision is checked out into a temporary git worktree beside this one (its
contracts' build and node packages are this tree's, its C accelerator is copied
over); both run from this tree's virtual environment, each with its own tree first on
``PYTHONPATH``. Every round runs, base then this tree, ``bench.royalty_bench --events
20000 --singles 2000`` (usage intake: batches of 1,000 and single events) and
``bench.service_bench --parts intake --small`` (manifest intake: single and batch,
P-256 and Ethereum). The figures are the median over the rounds of each side; on 2
shared cores a single run varies by 10-20 %, so read the ratio against its spread
(min-max, printed beside it). Replaces the ``bench:revisions`` section of
docs/benchmarks.md unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.report import write_section

ROOT = Path(__file__).resolve().parents[1]
#: (label, module arguments, table row prefix, unit) of each figure compared.
FIGURES = (
    ("usage events, batches of 1,000", "royalty", "| usage events accepted, `{\"events\"", "/s"),
    ("usage events, one per request", "royalty", "| usage events accepted, one per request", "/s"),
    ("manifests, P-256, single POSTs", "service", "| `POST /v1/manifests`, p256", "/s"),
    ("manifests, P-256, batch endpoint", "service", "| `POST /v1/manifests:batch`, p256", "/s"),
    ("manifests, eth, single POSTs", "service", "| `POST /v1/manifests`, eth", "/s"),
    ("manifests, eth, batch endpoint", "service", "| `POST /v1/manifests:batch`, eth", "/s"),
)
COMMANDS = {
    "royalty": ["-m", "bench.royalty_bench", "--events", "20000", "--singles", "2000",
                "--no-write"],
    "service": ["-m", "bench.service_bench", "--parts", "intake", "--small", "--no-write"],
}


def base_tree(rev: str, into: Path) -> Path:
    """A worktree of ``rev`` at ``into`` that can run the benchmarks."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(into),
                    rev], check=True, capture_output=True)
    (into / "node_modules").symlink_to(ROOT / "node_modules")
    shutil.copytree(ROOT / "contracts" / "out", into / "contracts" / "out",
                    dirs_exist_ok=True)
    for built in (ROOT / "ledger" / "core").glob("_keccak*.so"):
        shutil.copy2(built, into / "ledger" / "core" / built.name)
    return into


def run_side(tree: Path, which: str) -> str:
    """The table the benchmark ``which`` prints, run from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, *COMMANDS[which]], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=1200, check=True)
    return done.stdout


def figure(output: str, prefix: str) -> float:
    """The first number of the result column of the row starting with ``prefix``."""
    for line in output.splitlines():
        if line.startswith(prefix):
            result = line.split("|")[2]
            found = re.search(r"[\d,]+(\.\d+)?", result)
            if found:
                return float(found.group(0).replace(",", ""))
    raise SystemExit(f"no row {prefix!r} in the benchmark's output")


def measure(base: Path, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Each figure of each side, one value a round."""
    values: dict[str, dict[str, list[float]]] = {"base": {}, "head": {}}
    for round_ in range(rounds):
        for side, tree in (("base", base), ("head", ROOT)):
            outputs = {which: run_side(tree, which) for which in COMMANDS}
            for label, which, prefix, _ in FIGURES:
                values[side].setdefault(label, []).append(figure(outputs[which], prefix))
            print(f"round {round_ + 1} {side} done", file=sys.stderr)
    return values


def table(rev: str, head: str, rounds: int, values: dict[str, dict[str, list[float]]]) -> str:
    """The section: medians, spreads and the ratio head / base."""
    when = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [
        "<!-- bench:revisions -->",
        "## Two revisions side by side",
        "",
        f"Command: `.venv/bin/python -m bench.revisions_ab --base {rev} --rounds {rounds}`, "
        f"run {when}: base `{rev}` against `{head}`, {rounds} rounds taken in turn on the "
        "same 2 cores (see the module's docstring for what each round runs).",
        "",
        "| figure | base: median (min-max) | head: median (min-max) | head / base |",
        "|---|---:|---:|---:|",
    ]
    for label, _, _, unit in FIGURES:
        a, b = values["base"][label], values["head"][label]
        ratio = statistics.median(b) / statistics.median(a)
        lines.append(f"| {label} | {_spread(a)} {unit} | {_spread(b)} {unit} | {ratio:.2f} |")
    lines.append("<!-- /bench:revisions -->")
    return "\n".join(lines) + "\n"


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="ledger-base-") as scratch:
        base = base_tree(args.base, Path(scratch) / "base")
        try:
            section = table(args.base, head, args.rounds, measure(base, args.rounds))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(base)], check=False, capture_output=True)
    print(section)
    if not args.no_write:
        write_section("revisions", section)


if __name__ == "__main__":
    main()
