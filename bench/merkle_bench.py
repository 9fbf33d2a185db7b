"""Merkle tree benchmark: ours against OpenZeppelin's JS tree and blockcerts merkletools.

    .venv/bin/python -m bench.merkle_bench [--sizes 100000,1000000] [--oz-max 100000]

Every implementation gets the same random 32-byte leaves, written once to a
temporary file. Each case runs in its own process, which reports its build
time, the time to produce every leaf's proof, and its peak RSS (getrusage;
node's resourceUsage), so no case inherits another's memory. Cases:

- ours: ``MerkleTree(digests)``, then every proof from ``tree.proofs()``.
- ours, pure Python: the same with the C accelerator swapped for the reference.
- OpenZeppelin JS: ``StandardMerkleTree.of(values, ["bytes32"])`` and
  ``getProof(i)`` for every leaf; above ``--oz-max`` leaves it is not run and
  its time is extrapolated linearly from the largest size measured.
- merkletools: blockcerts ``MerkleTools(hash_type="sha256")``, ``add_leaf(hex
  list)`` and ``make_tree()`` as build, ``get_proof(i)`` for every leaf (a
  SHA-256 tree of the leaves as given: it hashes no leaf, so it does N - 1
  hashes where we do 3N - 1).
- lower bound: our format needs 3N - 1 Keccak-256 calls (two per leaf, one
  per inner node); this is that count times the fastest per-call time
  measured in this run.

Writes its section of docs/benchmarks.md (between the bench:merkle markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.report import write_section

ROOT = Path(__file__).resolve().parents[1]
OZ_SCRIPT = ROOT / "bench" / "js" / "oz_tree_bench.mjs"
BEGIN, END = "<!-- bench:merkle -->", "<!-- /bench:merkle -->"
COMMAND = ".venv/bin/python -m bench.merkle_bench"
SEED = 2024
CASES = (
    ("ours (C accelerator)", "ours"),
    ("ours, pure Python", "ours-pure"),
    ("merkletools (sha256)", "merkletools"),
)


@dataclass(frozen=True)
class Result:
    """One implementation at one size; times None when not run."""

    name: str
    leaves: int
    build_s: float | None
    proofs_s: float | None
    peak_rss_mb: float | None
    note: str = ""

    @property
    def total_s(self) -> float | None:
        if self.build_s is None or self.proofs_s is None:
            return None
        return self.build_s + self.proofs_s


# -- cases, each run in a child process ------------------------------------------


def _read_leaves(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def _case_ours(path: Path, pure: bool) -> dict[str, float]:
    from ledger.core import merkle

    if pure:
        merkle._hash_leaves = merkle.reference_hash_leaves
        merkle._hash_pairs = merkle.reference_hash_pairs
    leaves = _read_leaves(path)
    started = time.perf_counter()
    tree = merkle.MerkleTree(leaves)
    built = time.perf_counter()
    hashes = sum(len(proof) for proof in tree.proofs())
    proved = time.perf_counter()
    return {"build_s": built - started, "proofs_s": proved - built, "proof_hashes": hashes}


def _case_merkletools(path: Path) -> dict[str, float]:
    from blockcerts_merkletools import MerkleTools

    hex_leaves = [leaf.hex() for leaf in _read_leaves(path)]
    started = time.perf_counter()
    tools = MerkleTools(hash_type="sha256")
    tools.add_leaf(hex_leaves)
    tools.make_tree()
    built = time.perf_counter()
    hashes = sum(len(tools.get_proof(i)) for i in range(len(hex_leaves)))
    proved = time.perf_counter()
    return {"build_s": built - started, "proofs_s": proved - built, "proof_hashes": hashes}


def _run_case(case: str, path: Path) -> None:
    """Child process entry: run one case and print its JSON result line."""
    cases: dict[str, Callable[[], dict[str, float]]] = {
        "ours": lambda: _case_ours(path, pure=False),
        "ours-pure": lambda: _case_ours(path, pure=True),
        "merkletools": lambda: _case_merkletools(path),
    }
    result = cases[case]()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _child(command: list[str]) -> dict[str, float]:
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _measure(name: str, leaves: int, command: list[str], repeat: int) -> Result:
    """Best time of ``repeat`` runs (the machine may be shared); the largest peak RSS."""
    runs = []
    for attempt in range(repeat):
        print(f"  {name} at {leaves:,} leaves, run {attempt + 1}", file=sys.stderr, flush=True)
        runs.append(_child(command))
    best = min(runs, key=lambda got: got["build_s"] + got["proofs_s"])
    rss = max(got["peak_rss_mb"] for got in runs)
    return Result(name, leaves, best["build_s"], best["proofs_s"], rss)


# -- the hashing lower bound ---------------------------------------------------


def fastest_keccak_s() -> tuple[float, str]:
    """Seconds per Keccak-256 call of 32 or 64 bytes, the fastest way this machine has.

    Best of three runs each: pysha3 one call at a time, and our C batch
    functions (leaf hashing is two calls per digest).
    """
    import sha3

    from ledger.core import merkle

    calls = 200_000
    digest = os.urandom(32)

    def one_at_a_time() -> None:
        for _ in range(calls):
            sha3.keccak_256(digest).digest()

    candidates = [(_best_of_3(one_at_a_time) / calls, "pysha3 keccak_256, one call at a time")]
    if merkle.ACCELERATED:
        pairs, digests = os.urandom(64 * calls), os.urandom(32 * calls)
        batch = min(
            _best_of_3(lambda: merkle._hash_pairs(pairs)) / calls,
            _best_of_3(lambda: merkle._hash_leaves(digests)) / (2 * calls),
        )
        candidates.append((batch, "our C batch functions"))
    return min(candidates)


def _best_of_3(work: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


# -- orchestration ---------------------------------------------------------------


def run(sizes: list[int], oz_max: int, repeat: int) -> tuple[list[Result], str]:
    """Every case at every size; also the description of the fastest keccak."""
    per_call, keccak_name = fastest_keccak_s()
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = Path(tmp) / f"leaves-{size}.bin"
            path.write_bytes(random.Random(SEED + size).randbytes(32 * size))
            me = [sys.executable, "-m", "bench.merkle_bench", "--case"]
            for name, case in CASES:
                results.append(_measure(name, size, [*me, case, str(path)], repeat))
            results.append(_oz(size, oz_max, path, results))
            bound = (3 * size - 1) * per_call
            results.append(Result("lower bound: 3N-1 keccak", size, bound, None, None))
    return results, f"{per_call * 1e9:.0f} ns per call ({keccak_name})"


def _oz(size: int, oz_max: int, path: Path, earlier: list[Result]) -> Result:
    name = "OpenZeppelin JS"
    if size <= oz_max:
        # One run only: at 100k leaves it takes minutes, and no goal is close.
        return _measure(name, size, ["node", str(OZ_SCRIPT), str(path)], 1)
    measured = [r for r in earlier if r.name == name and r.build_s is not None]
    if not measured:
        return Result(name, size, None, None, None, "not run")
    base = max(measured, key=lambda r: r.leaves)
    scale = size / base.leaves
    return Result(
        name,
        size,
        (base.build_s or 0) * scale,
        (base.proofs_s or 0) * scale,
        None,
        f"extrapolated x{scale:g} from {base.leaves:,}",
    )


# -- report ----------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def _find(results: list[Result], name: str, size: int) -> Result | None:
    return next((r for r in results if r.name.startswith(name) and r.leaves == size), None)


def _table(results: list[Result]) -> list[str]:
    lines = [
        "| implementation | leaves | build (s) | all proofs (s) | total (s) | peak RSS (MB) "
        "| build vs ours |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ours = _find(results, "ours (C", r.leaves)
        ratio = "-"
        if ours and ours.build_s and r.build_s is not None:
            ratio = f"{r.build_s / ours.build_s:.1f}x"
        rss = "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}"
        name = f"{r.name} ({r.note})" if r.note else r.name
        lines.append(
            f"| {name} | {r.leaves:,} | {_seconds(r.build_s)} | {_seconds(r.proofs_s)} "
            f"| {_seconds(r.total_s)} | {rss} | {ratio} |"
        )
    return lines


def _goals(results: list[Result]) -> list[str]:
    lines = []
    ours_100k, oz_100k = _find(results, "ours (C", 100_000), _find(results, "OpenZeppelin", 100_000)
    tools_100k = _find(results, "merkletools", 100_000)
    if ours_100k and ours_100k.build_s:
        if oz_100k and oz_100k.build_s:
            speedup = oz_100k.build_s / ours_100k.build_s
            verdict = "met" if speedup >= 50 else "NOT met"
            lines.append(
                f"- 100k build at least 50x faster than OpenZeppelin JS: {speedup:.0f}x, {verdict}."
            )
        if tools_100k and tools_100k.build_s:
            verdict = "met" if ours_100k.build_s <= tools_100k.build_s else "NOT met"
            lines.append(
                f"- 100k build no slower than merkletools: {ours_100k.build_s:.3f} s against "
                f"{tools_100k.build_s:.3f} s, {verdict}."
            )
    ours_1m = _find(results, "ours (C", 1_000_000)
    if ours_1m and ours_1m.total_s is not None and ours_1m.peak_rss_mb is not None:
        verdict = "met" if ours_1m.total_s < 5 and ours_1m.peak_rss_mb < 1024 else "NOT met"
        lines.append(
            f"- 1M leaves with all proofs under 5 s and 1 GB: {ours_1m.total_s:.2f} s, "
            f"{ours_1m.peak_rss_mb:.0f} MB peak RSS, {verdict}."
        )
    return lines


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"node {node.stdout.strip() or 'missing'}"
    )


def section(results: list[Result], keccak: str, repeat: int) -> str:
    """The markdown written between the markers."""
    lines = [
        BEGIN,
        "## Merkle tree",
        "",
        f"Command: `{COMMAND}`, run {datetime.now(UTC):%Y-%m-%d} on {_machine()}.",
        "",
        "Same random leaves for every implementation; each case in its own process; "
        '"all proofs" produces every leaf\'s proof once. Times are the best of '
        f"{repeat} runs (OpenZeppelin JS: one run); peak RSS is the largest of them, for the "
        "whole process (interpreter and input included).",
        "",
        *_table(results),
        "",
        "Goals:",
        "",
        *_goals(results),
        "",
        f"Fastest Keccak-256 measured: {keccak}. merkletools builds a SHA-256 tree of the "
        "leaves as given (N - 1 hashes); ours hashes each leaf twice, as the format requires "
        "(3N - 1 Keccak calls). OpenZeppelin JS above the size it was run at is a linear "
        "extrapolation, not a measurement.",
        END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print the table and update docs/benchmarks.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.merkle_bench", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated leaf counts")
    parser.add_argument("--oz-max", type=int, default=100_000, help="largest size to run OZ at")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case but OZ; best kept")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument("--case", nargs=2, metavar=("NAME", "LEAVES_FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        _run_case(args.case[0], Path(args.case[1]))
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    results, keccak = run(sizes, args.oz_max, args.repeat)
    text = section(results, keccak, args.repeat)
    print(text)
    if not args.no_write:
        write_section("merkle", text)


if __name__ == "__main__":
    main()
