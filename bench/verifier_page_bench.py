"""The verifier page (issue 16): its size, and how long it takes to a verdict.

    .venv/bin/python -m bench.verifier_page_bench [--runs N] [--no-write]
        [--evidence FILE --block-hash 0x… --chain-id N --registry 0x… [--service-key K]]

- size: ledger/api/static/verify.html, the page with its libraries inlined, raw and
  gzipped (-9), against the 400 KB budget.
- verdict: in the system's Chromium (tests/browser/driver.mjs), each run loads the page
  afresh from file://, picks the package, types the pins and the trusted block hash, and
  times the click on Check to the verdict on screen; median and worst of ``--runs``.
  By default the valid header-only packages of tests/vectors/evidence.json (P-256 1.1
  and Ethereum 1.0); ``--evidence`` times another package (e.g. the 12 KB package of a
  million-asset library that bench.evidence_bench fetches) with its pins.

A default run replaces the ``bench:verifier-page`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import write_section
from ledger.chain.contracts.artifacts import load_artifact
from tests.browser.page import PAGE, drive, pin_fields

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ".venv/bin/python -m bench.verifier_page_bench"
BUDGET_KB = 400
GOAL_S = 1.0


def vector_packages(folder: Path) -> list[tuple[str, Path, dict[str, str]]]:
    """The valid header-only vector packages: (name, file, the page's fields)."""
    vectors = json.loads((ROOT / "tests" / "vectors" / "evidence.json").read_text())
    pins = vectors["pins"]
    out: list[tuple[str, Path, dict[str, str]]] = []
    for case in vectors["cases"]:
        if case["name"].endswith(": valid, header only"):
            path = folder / f"{len(out)}.json"
            path.write_text(json.dumps(case["package"], separators=(",", ":")))
            out.append((case["name"].split(":")[0], path, pin_fields(
                pins["chainId"], pins["registry"], pins["codeHash"], pins["serviceKey"],
                case["blockHash"])))
    return out


def time_verdicts(packages: list[tuple[str, Path, dict[str, str]]], runs: int
                  ) -> list[dict[str, Any]]:
    """Median and worst click-to-verdict time of each package over `runs` fresh loads."""
    scenarios = [{"name": name, "evidence": str(path), "fields": fields}
                 for _ in range(runs) for name, path, fields in packages]
    results = drive(PAGE.as_uri(), scenarios)
    rows = []
    for name, path, _ in packages:
        mine = [r for r in results if r["name"] == name]
        assert all(r["verified"] for r in mine), mine[0]["statement"]
        times = [r["elapsedMs"] / 1000 for r in mine]
        rows.append({"package": name, "bytes": path.stat().st_size,
                     "median": statistics.median(times), "worst": max(times)})
    return rows


def report(rows: list[dict[str, Any]], runs: int) -> str:
    page = PAGE.read_bytes()
    packed = len(gzip.compress(page, 9))
    lines = [
        "<!-- bench:verifier-page -->",
        "## Verifier page",
        "",
        f"`{COMMAND} --runs {runs}`, {datetime.now(UTC):%Y-%m-%d}, 2 cores, the system's "
        "Chromium (headless), the page loaded afresh from file:// for every run.",
        "",
        "| what | measured | goal |",
        "|---|---:|---|",
        f"| page with its libraries (`ledger/api/static/verify.html`) | {len(page) / 1024:.1f} KB"
        " | |",
        f"| the same, gzipped | {packed / 1024:.1f} KB | ≤ {BUDGET_KB} KB |",
    ]
    for row in rows:
        lines.append(f"| verdict, {row['package']} package ({row['bytes'] / 1024:.1f} KB), "
                     f"median / worst | {row['median']:.2f} s / {row['worst']:.2f} s "
                     f"| ≤ {GOAL_S:.0f} s |")
    lines += [
        "",
        "The verdict time runs from the click on Check to the verdict on screen: reading the "
        "package, the SHA-256 and Keccak folds, the signature checks (P-256, or secp256k1 "
        "recovery for EIP-712) of the manifest, the key records and the receipt, and the "
        "header, account and storage proofs. A package of a million-asset library "
        "(12 KB) adds 20 sibling hashes to the asset proof, a few microseconds of Keccak.",
        "<!-- /bench:verifier-page -->",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--evidence", type=Path)
    parser.add_argument("--block-hash", default="")
    parser.add_argument("--chain-id", type=int, default=31337)
    parser.add_argument("--registry", default="")
    parser.add_argument("--service-key")
    args = parser.parse_args()
    code_hash = "0x" + load_artifact("AnchorRegistry").code_hash().hex()
    with tempfile.TemporaryDirectory() as folder:
        if args.evidence:
            packages = [(args.evidence.name, args.evidence, pin_fields(
                args.chain_id, args.registry, code_hash, args.service_key, args.block_hash))]
        else:
            packages = vector_packages(Path(folder))
        rows = time_verdicts(packages, args.runs)
    section = report(rows, args.runs)
    print(section)
    if not args.no_write and not args.evidence:
        write_section("verifier-page", section)


if __name__ == "__main__":
    main()
