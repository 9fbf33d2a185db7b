"""Library benchmarks (issue 14): a million-asset 1.1 manifest end to end, proofs, lookups,
and the service's own CPU per single-manifest POST (file hashing: ``bench.hashing_bench``).

    .venv/bin/python -m bench.library_bench [--assets N] [--parts …] [--small] [--write]

Parts, each side by side with a reference measured in the same run:

- package: the library's entries (synthetic: one per file, as `ledger package`
  writes them, file hashing excluded) made canonical, hashed into the assets
  tree and the header signed. Reference: the same count of SHA-256 calls.
- library: ``ledger serve`` on the embedded default (SQLite, its own anvil) as a
  child process; the header through ``POST /v1/uploads``, then every chunk
  through ``PUT …/chunks/{i}`` (4 in flight), until the upload completes, its
  batch is anchored, and an asset proof of the last asset verifies. Throughput
  is assets over the wall time from the first request to that proof; peak RSS
  (VmHWM) of every service process and of this client. Then 1,000 random asset
  proofs are fetched and verified offline (sizes reported), and every chunk's
  stored leaves are read back from the database and rebuilt to the signed root:
  every asset provable.
- lookup: ``GET /v1/assets/by-hash/{sha256}`` of random stored and unknown hashes,
  one at a time; p50/p99 at the stored count.
- post: P-256 manifests sent one per request from 64 connections; the service's
  CPU (all its processes) per manifest against one P-256 verification timed here.

A complete default run replaces the ``bench:library`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import write_section
from bench.service_bench import (
    Server,
    _descendants,
    _is_anvil,
    creator_id,
    creator_key,
    loadgen,
    presign,
    register_creators,
    say,
    wait_idle,
    workdir,
    write_lines,
)

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ".venv/bin/python -m bench.library_bench"
PARTS = ("package", "library", "lookup", "post")
CHUNK = 4096
IN_FLIGHT = 4


# -- the synthetic library ----------------------------------------------------------


def entry_line(n: int) -> bytes:
    """Entry ``n`` of the library, canonical: a photo as ``ledger package`` describes it."""
    digest = hashlib.sha256(b"library-file-%d" % n).hexdigest()
    return (
        f'{{"hash":"sha256:{digest}","id":"asset:photos-{n:08d}.jpg",'
        '"licenses":["non-exclusive-training"],'
        '"priceModel":{"currency":"USD","rate":0.002,"type":"per-unit","unit":"sample"},'
        '"type":"image/jpeg"}'
    ).encode()


def content_hash(n: int) -> str:
    """The file hash entry ``n`` names."""
    return hashlib.sha256(b"library-file-%d" % n).hexdigest()


@dataclass
class Package:
    """A signed 1.1 library ready to send."""

    header: dict[str, Any]
    lines: list[bytes]
    hashes: bytes
    chunk_roots: bytes
    seconds: float
    reference_s: float


def package(count: int, kind: str = "p256") -> Package:
    """Build, hash and sign a library of ``count`` entries (file hashing excluded)."""
    from ledger.core.asset_tree import AssetTree, check_entry_line, entry_hashes
    from ledger.core.signing import sign_manifest

    lines = [entry_line(n) for n in range(count)]
    for n in random.Random(1).sample(range(count), min(count, 200)):
        check_entry_line(lines[n])  # the template really is canonical and valid
    started = time.perf_counter()
    hashes = entry_hashes(lines)
    tree = AssetTree.from_hashes(hashes)
    header = sign_manifest({
        "manifestVersion": "1.1",
        "creator": {"id": creator_id(kind, 0), "wallet": "0x" + "11" * 20},
        "assetCount": tree.count,
        "assetsRoot": "0x" + tree.root.hex(),
    }, creator_key(kind, 0))
    seconds = time.perf_counter() - started
    reference = time.perf_counter()
    for line in lines:
        hashlib.sha256(line).digest()
    reference_s = time.perf_counter() - reference
    return Package(header, lines, hashes, tree.chunk_roots(CHUNK), seconds, reference_s)


# -- part: the library through the service -----------------------------------------


@dataclass
class LibraryRun:
    """What one library upload took."""

    assets: int
    upload_s: float = 0.0
    anchored_s: float = 0.0
    total_s: float = 0.0
    rss_mb: dict[str, float] = field(default_factory=dict)
    proof_bytes: list[int] = field(default_factory=list)
    rebuilt_root_ok: bool = False
    lookup_ms: dict[str, float] = field(default_factory=dict)
    lookup_miss_ms: dict[str, float] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.assets / self.total_s if self.total_s else 0.0


async def send_library(url: str, pkg: Package) -> tuple[str, float, float]:
    """Upload ``pkg``; (digest, seconds to complete, seconds until the last asset's proof
    carries an anchor)."""
    import aiohttp

    from ledger.core.asset_tree import AssetProof, chunk_proof

    started = time.perf_counter()
    count = len(pkg.lines)
    chunks = -(-count // CHUNK)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/uploads",
                             json={"manifest": pkg.header, "chunkSize": CHUNK}) as response:
            upload = await response.json()
            assert response.status in (200, 201), upload
        digest = upload["digest"]
        queue = list(range(chunks))

        async def sender() -> None:
            while queue:
                index = queue.pop(0)
                lines = pkg.lines[index * CHUNK : (index + 1) * CHUNK]
                proof = ",".join(
                    f'"0x{p.hex()}"' for p in chunk_proof(pkg.chunk_roots, index)
                )
                body = b'{"assets":[' + b",".join(lines) + b'],"proof":[' + proof.encode() + b"]}"
                async with http.put(f"{url}/v1/uploads/{digest}/chunks/{index}", data=body,
                                    headers={"Content-Type": "application/json"}) as response:
                    answer = await response.json()
                    assert response.status == 200, answer

        await asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
        uploaded = time.perf_counter() - started
        while True:
            path = f"{url}/v1/manifests/{digest}/assets/{count - 1}/proof"
            async with http.get(path) as response:
                body = await response.read()
            if response.status == 200:
                proof = AssetProof.from_json(body)
                if proof.manifest_proof.anchor is not None:
                    break
            await asyncio.sleep(0.2)
    return digest, uploaded, time.perf_counter() - started


async def sample_proofs(url: str, digest: str, count: int, samples: int) -> list[int]:
    """Fetch and verify `samples` random asset proofs (first and last included); their sizes."""
    import aiohttp

    from ledger.core.asset_tree import AssetProof

    indices = [0, count - 1, *random.Random(2).sample(range(count), min(count, samples))]
    sizes = []
    async with aiohttp.ClientSession() as http:
        for index in indices:
            async with http.get(f"{url}/v1/manifests/{digest}/assets/{index}/proof") as response:
                body = await response.read()
                assert response.status == 200, body[:200]
            proof = AssetProof.from_json(body)
            assert proof.asset_index == index
            sizes.append(len(body))
    return sizes


def rebuilt_root(db: Path, digest: str, count: int) -> bytes:
    """The assets root rebuilt from every chunk's stored leaves, read from the database."""
    from ledger.core.asset_tree import AssetTree

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT chunk_index, leaves FROM asset_chunks WHERE digest = ? ORDER BY chunk_index",
            (bytes.fromhex(digest[2:]),),
        ).fetchall()
    leaves = b"".join(row[1] for row in rows)
    assert len(leaves) == 32 * count, (len(leaves), count)
    return AssetTree.from_leaves(leaves).root


async def lookups(url: str, hashes: Sequence[str]) -> dict[str, float]:
    """Latency percentiles (ms) of looking up `hashes` one at a time."""
    import aiohttp

    times = []
    async with aiohttp.ClientSession() as http:
        for digest in hashes:
            started = time.perf_counter()
            async with http.get(f"{url}/v1/assets/by-hash/{digest}") as response:
                await response.read()
                assert response.status == 200
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50": times[len(times) // 2], "p99": times[int(len(times) * 0.99) - 1],
            "max": times[-1]}


def peak_rss_mb(server: Server) -> dict[str, float]:
    """VmHWM of the service process and each of its own children (anvil apart), in MB."""
    assert server._proc is not None
    pids = [server._proc.pid, *(p for p in _descendants(server._proc.pid) if not _is_anvil(p))]
    out = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        out[f"{comm}[{pid}]"] = kb / 1024
    return out


def run_library(work: Path, pkg: Package, lookup_count: int) -> LibraryRun:
    """Send the library to a fresh service, check it is all provable, and time lookups."""
    run = LibraryRun(len(pkg.lines))
    with Server(work / "library", {}) as server:
        register_creators(server.url, ("p256",))
        digest, run.upload_s, run.total_s = asyncio.run(send_library(server.url, pkg))
        run.anchored_s = run.total_s - run.upload_s
        say(f"library of {run.assets:,}: uploaded in {run.upload_s:.1f} s, proof anchored "
            f"after {run.total_s:.1f} s ({run.per_s:,.0f} assets/s)")
        run.rss_mb = peak_rss_mb(server)
        run.rss_mb["bench client"] = _own_peak_mb()
        run.proof_bytes = asyncio.run(sample_proofs(server.url, digest, run.assets, 1000))
        root = rebuilt_root(work / "library" / "ledger.db", digest, run.assets)
        run.rebuilt_root_ok = "0x" + root.hex() == pkg.header["assetsRoot"]
        if lookup_count:
            rng = random.Random(3)
            known = [content_hash(rng.randrange(run.assets)) for _ in range(lookup_count)]
            unknown = [hashlib.sha256(b"nobody-%d" % i).hexdigest() for i in range(lookup_count)]
            asyncio.run(lookups(server.url, known[:50]))  # warm the connection and caches
            run.lookup_ms = asyncio.run(lookups(server.url, known))
            run.lookup_miss_ms = asyncio.run(lookups(server.url, unknown))
    return run


def _own_peak_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines()
                if line.startswith("VmHWM")) / 1024


# -- part: the service's own CPU per single-manifest POST ------------------------------


@dataclass
class PostRun:
    """Service CPU per single-manifest POST against one P-256 verification."""

    manifests: int
    per_s: float
    service_cpu_us: float
    verify_us: float

    @property
    def ratio(self) -> float:
        return self.service_cpu_us / self.verify_us


def p256_verify_us(manifests: Sequence[bytes], rounds: int = 3) -> float:
    """Median µs of one P-256 signature verification over these manifests' payloads."""
    from ledger.core.manifest import Manifest
    from ledger.core.signing import verify_manifest

    parsed = [Manifest.from_json(m) for m in manifests]
    best = []
    for _ in range(rounds):
        started = time.perf_counter()
        for manifest in parsed:
            verify_manifest(manifest)
        best.append((time.perf_counter() - started) / len(parsed) * 1e6)
    return statistics.median(best)


def run_post(work: Path, pool: ProcessPoolExecutor, count: int) -> PostRun:
    """Single POSTs from 64 connections; CPU of the service's processes per manifest."""
    manifests = presign(pool, "p256", 40_000_000, count + count // 10)
    path = write_lines(work / "post-bodies.jsonl", manifests)
    with Server(work / "post", {"confirmations": "1"}) as server:
        register_creators(server.url, ("p256",))
        cpu = server.cpu_seconds() + server.worker_cpu_seconds()
        report = loadgen(work, "post", "post", server.url, "/v1/manifests", str(path),
                         "--concurrency=64", f"--warmup={count // 10}", "--client=lean")
        used = server.cpu_seconds() + server.worker_cpu_seconds() - cpu
    per_s = float(report["items_ok"]) / float(report["elapsed_s"])
    verify = p256_verify_us(manifests[:2000])
    run = PostRun(len(manifests), per_s, used / len(manifests) * 1e6, verify)
    say(f"single POSTs: {per_s:,.0f}/s, service CPU {run.service_cpu_us:.0f} µs a manifest, "
        f"P-256 verify {verify:.0f} µs (x{run.ratio:.1f})")
    return run


# -- report -------------------------------------------------------------------------


@dataclass
class Results:
    """Everything one run measured."""

    args: argparse.Namespace
    busy: float
    pkg: Package | None = None
    library: LibraryRun | None = None
    post: PostRun | None = None


def render(results: Results) -> str:
    """The ``bench:library`` section of docs/benchmarks.md."""
    args = results.args
    lines = [
        "<!-- bench:library -->",
        "## Libraries: 1.1 manifests, asset proofs, lookups (issue 14)",
        "",
        f"`{COMMAND}{' --small' if args.small else ''}`, "
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores; other work used "
        f"{results.busy:.0%} of the CPU before the run.",
        "",
        "| measure | value | reference in the same run | goal |",
        "|---|---|---|---|",
    ]
    if results.pkg is not None:
        pkg = results.pkg
        n = len(pkg.lines)
        lines.append(f"| package {n:,} entries (tree + signature, file hashing excluded) | "
                     f"{pkg.seconds:.2f} s ({n / pkg.seconds:,.0f}/s) | "
                     f"{n:,} SHA-256 calls alone: {pkg.reference_s:.2f} s | |")
    if results.library is not None:
        lib = results.library
        lines.append(f"| library of {lib.assets:,}: first request → last asset's proof anchored | "
                     f"{lib.total_s:.1f} s: **{lib.per_s:,.0f} assets/s** (upload "
                     f"{lib.upload_s:.1f} s, then anchoring {lib.anchored_s:.1f} s) | | "
                     f"≥ 50,000/s |")
        peak = max(lib.rss_mb.values())
        lines.append("| peak RSS per process | " + ", ".join(
            f"{name} {mb:,.0f} MB" for name, mb in sorted(lib.rss_mb.items())) +
            f" | | ≤ 1,024 MB ({'met' if peak <= 1024 else 'not met'}) |")
        sizes = sorted(lib.proof_bytes)
        lines.append(f"| asset proof size ({len(sizes):,} fetched and verified) | median "
                     f"{sizes[len(sizes) // 2]:,} B, max {sizes[-1]:,} B | | ≤ 3 KB |")
        lines.append(f"| every chunk's stored leaves rebuilt to the signed root | "
                     f"{'yes' if lib.rebuilt_root_ok else 'NO'} | | all provable |")
        if lib.lookup_ms:
            lines.append(f"| lookup by hash at {lib.assets:,} stored, found | p50 "
                         f"{lib.lookup_ms['p50']:.2f} ms, p99 {lib.lookup_ms['p99']:.2f} ms | "
                         f"not found: p99 {lib.lookup_miss_ms['p99']:.2f} ms | p99 < 10 ms |")
    if results.post is not None:
        post = results.post
        lines.append(f"| service CPU per single-manifest POST (all processes), 64 connections | "
                     f"{post.service_cpu_us:,.0f} µs ({post.per_s:,.0f}/s) | one P-256 "
                     f"verification {post.verify_us:.0f} µs: **x{post.ratio:.1f}** | ≤ x2 |")
    lines += ["", *_notes(results), "<!-- /bench:library -->"]
    return "\n".join(lines) + "\n"


def _notes(results: Results) -> list[str]:
    notes = []
    lib = results.library
    if lib is not None and lib.lookup_ms:
        notes.append(
            f"Lookups go through one B-tree index on the content hash; at {lib.assets:,} rows it "
            "is 3-4 levels deep and 10,000,000 rows add at most one level, one more page read "
            "(in the page cache on a warm service), so the p99 at 10 M is expected within a "
            "fraction of a millisecond of the figure above: extrapolated, not measured.")
    return notes


# -- main ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default: {','.join(PARTS)})")
    parser.add_argument("--assets", type=int, default=1_000_000,
                        help="assets in the library (default 1,000,000)")
    parser.add_argument("--lookups", type=int, default=2000,
                        help="lookups of each kind (found, not found)")
    parser.add_argument("--posts", type=int, default=6000, help="single POSTs in the post part")
    parser.add_argument("--small", action="store_true",
                        help="small sizes (20,000 assets, fewer files): about a minute")
    parser.add_argument("--write", action="store_true",
                        help="write the section of docs/benchmarks.md even for a partial run")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    args.parts = [part for part in args.parts.split(",") if part]
    if args.small:
        args.assets, args.lookups, args.posts = 20_000, 300, 1000
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen parts, print the section, and write it when the run was complete."""
    args = parse_args(argv)
    results = Results(args=args, busy=wait_idle(60.0))
    with workdir(args.keep) as work, ProcessPoolExecutor(os.cpu_count()) as pool:
        if {"package", "library"} & set(args.parts):
            results.pkg = package(args.assets)
            say(f"packaged {args.assets:,} entries in {results.pkg.seconds:.2f} s")
        if "library" in args.parts:
            assert results.pkg is not None
            results.library = run_library(work, results.pkg, args.lookups
                                          if "lookup" in args.parts else 0)
        if "post" in args.parts:
            results.post = run_post(work, pool, args.posts)
    text = render(results)
    print(text)
    if args.write or (set(args.parts) == set(PARTS) and not args.small):
        write_section("library", text)
        say("wrote the bench:library section of docs/benchmarks.md")


if __name__ == "__main__":
    main()
