"""Service benchmarks (issue 4): intake, submit→proof latency, proof reads at 1M, storage, gas.

    .venv/bin/python -m bench.service_bench [--parts intake,latency,proofs,breakdown] [--small]

Every part runs the real service, ``ledger serve`` on the embedded default
(SQLite in a fresh data dir, its own anvil), as a child process, and drives it
with ``bench.loadgen`` in another process over loopback. This process only
prepares, starts and stops things, so it is idle while anything is timed.

- intake: manifests signed beforehand (deterministic keys, four creators per
  scheme, registered through ``POST /v1/creators``), then sent through
  ``POST /v1/manifests`` from 64 connections and through
  ``POST /v1/manifests:batch`` (1,000 a request, 4 requests in flight); the
  service verifies every signature. P-256 and Ethereum (EIP-712) separately.
  Batcher and anchorer run as in production meanwhile.
- latency: one manifest every 1/50 s through the single endpoint, batches of
  at most 1 s; the client polls ``GET /v1/batches`` every 50 ms and, once a
  manifest's batch is confirmed, fetches its proof and verifies it offline.
  Afterwards (untimed) every bundle is checked on chain.
- proofs: 1,000,000 manifests put straight into the database through
  ``ManifestStore.add`` (bodies of the intake manifests' shape and size; not
  verified, as intake is measured above), sealed by the ``Batcher`` into
  batches of 100,000, plus one batch of 100 and one of 10,000 for the gas
  figures, all anchored by the service's own anchorer once it starts. Then
  proof reads of random manifests at several concurrencies; then the
  database size after a WAL checkpoint, and the gas of every anchor.
- breakdown: the intake steps timed one by one in this process on one core,
  to show where a manifest's time goes.

``--small`` runs every part at a size that takes about a minute; ``--help``
lists the sizes. ``--profile`` runs the intake service under cProfile and
prints its hottest functions. A complete default run (about 5 minutes)
replaces the ``bench:service`` section of docs/benchmarks.md; a subset or
``--small`` only prints it, unless ``--write`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import DOC, write_section
from ledger.app.clock import now_ms

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench:service -->", "<!-- /bench:service -->"
COMMAND = ".venv/bin/python -m bench.service_bench"
PARTS = ("intake", "latency", "proofs", "breakdown")
CREATORS = 4
# Each phase signs manifests numbered from its own base, so none repeats.
BASES = {"intake": 0, "latency": 20_000_000, "breakdown": 30_000_000}
GROUP = 64  # manifests per storage transaction in the breakdown (one per connection)


# -- manifests and keys ---------------------------------------------------------------


def creator_id(kind: str, index: int) -> str:
    """The creator id of bench creator `index` signing with `kind` ("p256" or "eth")."""
    return f"creator:bench-{kind}-{index}"


def creator_key(kind: str, index: int) -> Any:
    """A fixed signing key, so every run signs the same manifests."""
    from ledger.core.signing import EthSigningKey, P256SigningKey

    if kind == "p256":
        return P256SigningKey.from_secret(0xB0_0000 + index)
    return EthSigningKey((0xE0_0000 + index).to_bytes(32, "big"))


def manifest_obj(creator: str, n: int) -> dict[str, Any]:
    """A one-asset manifest like a creator's photo upload, distinct for each `n`."""
    return {
        "manifestVersion": "1.0",
        "creator": {"id": creator, "name": "Bench Creator", "wallet": "0x" + "11" * 20},
        "assets": [
            {
                "id": f"asset:photo-{n:08d}",
                "type": "image/jpeg",
                "url": f"r2://bench-media/photos/{n:08d}.jpg",
                "hash": "sha256:" + hashlib.sha256(n.to_bytes(8, "big")).hexdigest(),
                "captureDate": "2024-05-01T12:00:00Z",
                "licenses": ["non-exclusive-training"],
                "priceModel": {
                    "type": "per-unit",
                    "rate": 0.002,
                    "currency": "USD",
                    "unit": "sample",
                },
                "tags": ["photo", "bench"],
            }
        ],
    }


def compact(obj: Any) -> bytes:
    """JSON as a client sends it: one line, no spaces."""
    return json.dumps(obj, separators=(",", ":")).encode()


def sign_range(kind: str, index: int, start: int, count: int) -> list[bytes]:
    """Manifests start…start+count-1 of creator `index`, signed, one JSON line each."""
    from ledger.core.signing import sign_manifest

    key, creator = creator_key(kind, index), creator_id(kind, index)
    return [
        compact(sign_manifest(manifest_obj(creator, n), key)) for n in range(start, start + count)
    ]


def presign(pool: ProcessPoolExecutor, kind: str, start: int, count: int) -> list[bytes]:
    """`count` signed manifests spread over the creators, signed on every core."""
    chunk = 100 if kind == "eth" else 1000
    futures = [
        pool.submit(sign_range, kind, (s // chunk) % CREATORS, s, min(chunk, start + count - s))
        for s in range(start, start + count, chunk)
    ]
    return [line for future in futures for line in future.result()]


# -- the service under test -------------------------------------------------------------


class Server:
    """``ledger serve`` in a child process on a data dir; `url` once it listens."""

    def __init__(
        self, data_dir: Path, settings: dict[str, str], *, profile: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self.profile = profile
        self.url = self.rpc_url = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}-serve.log"

    def __enter__(self) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        endpoint = self.data_dir / "endpoint.json"
        endpoint.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env.update(LEDGER_DATA_DIR=str(self.data_dir), LEDGER_PORT="0", LEDGER_LOG_LEVEL="warning")
        env.update({f"LEDGER_{k.upper()}": v for k, v in self.settings.items()})
        cmd = [sys.executable]
        if self.profile is not None:
            cmd += ["-m", "cProfile", "-o", str(self.profile)]
        cmd += ["-m", "ledger.cli", "serve"]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 180
        while not endpoint.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ledger serve did not start; see {self.log}")
            time.sleep(0.1)
        time.sleep(0.1)  # the file is written in one call; let it land
        info = json.loads(endpoint.read_text())
        self.url, self.rpc_url = info["url"], info["rpcUrl"]
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """SIGINT (a clean stop: anvil too), then SIGKILL if it hangs."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(90)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server process has used so far."""
        assert self._proc is not None
        return _process_cpu(self._proc.pid)

    def worker_cpu_seconds(self) -> float:
        """CPU seconds of the server's own other processes (its verifier workers), not anvil."""
        assert self._proc is not None
        return sum(_process_cpu(pid) for pid in _descendants(self._proc.pid) if not _is_anvil(pid))

    def get(self, path: str) -> Any:
        """GET a JSON document from the service."""
        return asyncio.run(_get_json(self.url + path))


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # it ended meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _is_anvil(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "anvil"
    except OSError:
        return False


async def _get_json(url: str) -> Any:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return await response.json()


def register_creators(url: str, kinds: Sequence[str]) -> None:
    """Register every bench creator of `kinds` with its key."""
    from ledger.cli.client import LedgerClient
    from ledger.core.creators import sign_action
    from ledger.keyfile import generate_key

    async def run() -> None:
        async with LedgerClient(url) as client:
            deployment = await client.deployment()
            for kind in kinds:
                for index in range(CREATORS):
                    key, recovery = creator_key(kind, index), generate_key("p256")
                    action = sign_action(
                        "register", creator_id(kind, index), [key.public_id], now_ms(),
                        [key, recovery], deployment=deployment, recovery_key=recovery.public_id,
                    )
                    await client.creator_action(action)

    asyncio.run(run())


def loadgen(work: Path, name: str, *args: str) -> dict[str, Any]:
    """Run one `bench.loadgen` mode in its own process; its JSON report."""
    out = work / f"{name}.json"
    cmd = [sys.executable, "-m", "bench.loadgen", *args, str(out)]
    subprocess.run(cmd, cwd=ROOT, check=True)
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def write_lines(path: Path, lines: Sequence[bytes]) -> Path:
    """One request body (or path) a line."""
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


# -- part 1: intake ------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeRun:
    """One load run against an intake endpoint."""

    label: str
    kind: str
    endpoint: str  # "single" or "batch"
    per_request: int
    concurrency: int
    report: dict[str, Any]
    server_cpu_s: float
    worker_cpu_s: float
    manifests_sent: int

    @property
    def per_s(self) -> float:
        return float(self.report["items_ok"]) / float(self.report["elapsed_s"])

    @property
    def server_cpu_ms_per_manifest(self) -> float:
        """The service process's CPU (event loop and its threads) per manifest."""
        return self.server_cpu_s * 1000 / self.manifests_sent

    @property
    def worker_cpu_ms_per_manifest(self) -> float:
        """The verifier workers' CPU per manifest."""
        return self.worker_cpu_s * 1000 / self.manifests_sent

    @property
    def client_cpu_ms_per_request(self) -> float:
        """The load generator's CPU per measured request."""
        return float(self.report["client_cpu_s"]) * 1000 / max(1, int(self.report["requests"]))


@dataclass(frozen=True)
class IntakePlan:
    """How much to send in each intake run."""

    kind: str
    endpoint: str
    warmup: int  # manifests
    measured: int  # manifests
    per_request: int
    concurrency: int


def intake_plans(args: argparse.Namespace) -> list[IntakePlan]:
    """The four intake runs: P-256 and eth, single and batch endpoint."""
    # eth_keys' pure-Python backend takes ~20 ms a signature: keep its requests small.
    eth_batch = args.batch_size if fast_eth() else min(args.batch_size, 100)
    return [
        IntakePlan("p256", "single", args.single // 10, args.single, 1, args.concurrency),
        IntakePlan(
            "p256",
            "batch",
            args.batch_size * args.batch_concurrency,
            args.batch_size * args.batch_requests,
            args.batch_size,
            args.batch_concurrency,
        ),
        IntakePlan("eth", "single", args.concurrency, args.eth, 1, args.concurrency),
        IntakePlan(
            "eth",
            "batch",
            eth_batch,  # the P-256 runs warmed the service up already
            max(1, args.eth // eth_batch) * eth_batch,
            eth_batch,
            args.batch_concurrency,
        ),
    ]


def request_bodies(manifests: Sequence[bytes], plan: IntakePlan) -> list[bytes]:
    """Single-endpoint bodies are the manifests; batch bodies wrap `per_request` of them."""
    if plan.endpoint == "single":
        return list(manifests)
    return [
        b'{"manifests":[' + b",".join(manifests[i : i + plan.per_request]) + b"]}"
        for i in range(0, len(manifests), plan.per_request)
    ]


def run_intake(work: Path, args: argparse.Namespace, pool: ProcessPoolExecutor) -> list[IntakeRun]:
    """Every intake run against one service, manifests signed before it starts."""
    plans = intake_plans(args)
    files: list[tuple[IntakePlan, Path]] = []
    for index, plan in enumerate(plans):
        start = BASES["intake"] + index * 2_000_000
        manifests = presign(pool, plan.kind, start, plan.warmup + plan.measured)
        name = f"bodies-{plan.kind}-{plan.endpoint}.jsonl"
        files.append((plan, write_lines(work / name, request_bodies(manifests, plan))))
        say(f"signed {len(manifests):,} {plan.kind} manifests for the {plan.endpoint} endpoint")
    runs = []
    settings = {"confirmations": "1"}
    profile = work / "intake.prof" if args.profile else None
    with Server(work / "intake", settings, profile=profile) as server:
        register_creators(server.url, ("p256", "eth"))
        for plan, path in files:
            warmup_requests = plan.warmup // plan.per_request
            route = "/v1/manifests" if plan.endpoint == "single" else "/v1/manifests:batch"
            cpu, workers_cpu = server.cpu_seconds(), server.worker_cpu_seconds()
            report = loadgen(
                work,
                f"intake-{plan.kind}-{plan.endpoint}",
                "post",
                server.url,
                route,
                str(path),
                f"--concurrency={plan.concurrency}",
                f"--warmup={warmup_requests}",
                f"--client={args.client}",
            )
            run = IntakeRun(
                label=f"{plan.kind} {plan.endpoint}",
                kind=plan.kind,
                endpoint=plan.endpoint,
                per_request=plan.per_request,
                concurrency=plan.concurrency,
                report=report,
                server_cpu_s=server.cpu_seconds() - cpu,
                worker_cpu_s=server.worker_cpu_seconds() - workers_cpu,
                manifests_sent=plan.warmup + plan.measured,
            )
            runs.append(run)
            say(
                f"{run.label}: {run.per_s:,.0f} manifests/s, p50 "
                f"{report['latency_ms']['p50']:.1f} ms, p99 {report['latency_ms']['p99']:.1f} ms, "
                f"statuses {report['statuses']} {report['item_statuses']}"
            )
    if profile is not None:
        print_profile(profile)
    return runs


def print_profile(path: Path) -> None:
    """The server's hottest functions, by own time and by cumulative time."""
    import pstats

    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


# -- part 2: submit → verified proof ----------------------------------------------------------


def run_latency(work: Path, args: argparse.Namespace, pool: ProcessPoolExecutor) -> dict[str, Any]:
    """Submit→verified-proof latency with batches sealed at most 1 s after their oldest."""
    manifests = presign(pool, "p256", BASES["latency"], args.latency_manifests)
    path = write_lines(work / "bodies-latency.jsonl", manifests)
    settings = {"batch_max_age_s": "1.0", "confirmations": "1", "poll_interval_s": "0.1"}
    with Server(work / "latency", settings) as server:
        register_creators(server.url, ("p256",))
        report = loadgen(
            work,
            "latency",
            "proof-latency",
            server.url,
            str(path),
            f"--rate={args.latency_rate}",
            "--poll=0.05",
            f"--rpc-url={server.rpc_url}",
        )
        batches = server.get("/v1/batches?limit=1000")["batches"]
    report["batches"], report["rate"] = len(batches), args.latency_rate
    report["stages"] = latency_stages(work / "latency" / "ledger.db")
    say(
        f"submit→proof: p50 {report['latency_ms']['p50']:.0f} ms, p99 "
        f"{report['latency_ms']['p99']:.0f} ms over {report['manifests']} manifests, "
        f"{report['verified_on_chain']} verified on chain"
    )
    return report


def latency_stages(db: Path) -> dict[str, dict[str, float]]:
    """Per manifest, from the service's own clock: accepted → batch sealed → anchor confirmed."""
    from bench.loadgen import percentiles

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT m.accepted_at, b.sealed_at, b.confirmed_at FROM manifests m "
            "JOIN batches b ON b.number = m.batch_number"
        ).fetchall()
    return {
        "waiting for its batch": percentiles([(s - a) / 1000 for a, s, _ in rows]),
        "anchoring (sealed → confirmed)": percentiles([(c - s) / 1000 for _, s, c in rows]),
    }


# -- part 3: proof reads at 1M, storage, gas ------------------------------------------------------


@dataclass
class StateResults:
    """The large anchored state and what was measured on it."""

    manifests: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    insert_s: float = 0.0
    seal_s: float = 0.0
    anchor_s: float = 0.0
    reads: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    db_bytes: int = 0
    db_parts: dict[str, int] = field(default_factory=dict)
    read_steps: dict[str, dict[str, float]] = field(default_factory=dict)
    levels_column: tuple[int, int] | None = None  # (index, columns) when not the last column


def body_factory() -> tuple[Callable[[int], bytes], str, str]:
    """Canonical bodies of the intake manifests' shape; (make(n), creator id, signing key).

    One real signed manifest is the template; each body swaps in its own
    asset id, url and hash, so it has the real size but not a valid signature.
    """
    from ledger.core.manifest import Manifest

    creator, key = creator_id("p256", 0), creator_key("p256", 0)
    signed = json.loads(sign_range("p256", 0, 0, 1)[0])
    template = Manifest.from_obj(signed).to_json()
    zero_hash = hashlib.sha256((0).to_bytes(8, "big")).hexdigest().encode()
    assert template.count(b"00000000") == 2 and template.count(zero_hash) == 1
    pieces = template.replace(zero_hash, b"\0H\0").replace(b"00000000", b"\0N\0").split(b"\0")

    def make(n: int) -> bytes:
        swap = {b"H": hashlib.sha256(n.to_bytes(8, "big")).hexdigest().encode(), b"N": b"%08d" % n}
        return b"".join(swap.get(piece, piece) for piece in pieces)

    return make, creator, key.public_id


async def build_state(data_dir: Path, sizes: Sequence[int], result: StateResults) -> None:
    """Insert and seal batches of `sizes` manifests straight into the database."""
    from ledger.config import Settings
    from ledger.core.records import NewManifest
    from ledger.metrics import Metrics
    from ledger.storage.engine import open_engine
    from ledger.storage.manifests import ManifestStore
    from ledger.storage.schema import upgrade
    from ledger.workers.anchoring import Batcher

    make, creator, signing_key = body_factory()
    engine = open_engine(Settings(data_dir=data_dir).database_url())
    data_dir.mkdir(parents=True, exist_ok=True)
    await upgrade(engine)
    store, metrics = ManifestStore(engine), Metrics()
    n = 0
    try:
        for size in sizes:
            started = time.perf_counter()
            for start in range(n, n + size, 20_000):
                bodies = [make(i) for i in range(start, min(start + 20_000, n + size))]
                accepted = now_ms()
                await store.add(
                    [
                        NewManifest(hashlib.sha256(b).digest(), creator, signing_key, b, accepted)
                        for b in bodies
                    ]
                )
            sealing = time.perf_counter()
            batcher = Batcher(store, metrics, max_size=size, max_age_s=3600)
            batch = await batcher.step(now_ms())
            assert batch is not None and batch.leaf_count == size
            result.insert_s += sealing - started
            result.seal_s += time.perf_counter() - sealing
            n += size
            say(f"stored and sealed batch {batch.number} of {size:,} ({n:,} manifests)")
    finally:
        await engine.dispose()
    result.manifests, result.batch_sizes = n, list(sizes)


def sample_proof_paths(db: Path, manifests: int, count: int) -> list[bytes]:
    """Proof URLs of `count` manifests picked at random."""
    seqs = random.Random(7).sample(range(1, manifests + 1), min(count, manifests))
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        digests = []
        for i in range(0, len(seqs), 500):
            chunk = seqs[i : i + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT digest FROM manifests WHERE seq IN ({marks})"
            digests += [row[0] for row in conn.execute(query, chunk)]
    random.Random(8).shuffle(digests)
    return [f"/v1/manifests/0x{d.hex()}/proof".encode() for d in digests]


def levels_before_others(db: Path) -> tuple[int, int] | None:
    """(position, column count) of `batches.levels` when other columns follow it."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = [row[1] for row in conn.execute("PRAGMA table_info(batches)")]
    if "levels" not in names or names[-1] == "levels":
        return None
    return names.index("levels"), len(names)


def database_size(db: Path) -> tuple[int, dict[str, int]]:
    """File size after a full WAL checkpoint, and bytes per table or index (dbstat)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        parts = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0), parts


def run_proofs(work: Path, args: argparse.Namespace) -> StateResults:
    """Build the anchored state, read proofs from it, then measure size and gas."""
    result = StateResults()
    sizes = [*args.gas_sizes, *[args.state_batch] * (args.state // args.state_batch)]
    data_dir = work / "proofs"
    asyncio.run(build_state(data_dir, sizes, result))
    started = time.perf_counter()
    settings = {"confirmations": "1", "poll_interval_s": "0.1"}
    with Server(data_dir, settings) as server:
        while True:
            batches = server.get("/v1/batches?limit=1000")["batches"]
            if len(batches) == len(sizes) and all(b["status"] == "confirmed" for b in batches):
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"batches not anchored within 600 s; see {server.log}")
            time.sleep(0.2)
        result.anchor_s = time.perf_counter() - started
        result.batches = batches
        say(f"{len(batches)} batches anchored in {result.anchor_s:.1f} s (service start included)")
        paths = sample_proof_paths(data_dir / "ledger.db", result.manifests, 20_000)
        paths_file = write_lines(work / "proof-paths.txt", paths)
        for concurrency in args.read_concurrency:
            report = loadgen(
                work,
                f"reads-{concurrency}",
                "get",
                server.url,
                str(paths_file),
                f"--concurrency={concurrency}",
                f"--duration={args.read_seconds}",
                "--warmup-s=2",
            )
            report["concurrency"] = concurrency
            result.reads.append(report)
            say(
                f"proof reads at concurrency {concurrency}: {report['requests_per_s']:,.0f}/s, "
                f"p50 {report['latency_ms']['p50']:.2f} ms, "
                f"p99 {report['latency_ms']['p99']:.2f} ms, statuses {report['statuses']}"
            )
    result.read_steps = asyncio.run(read_steps(data_dir, paths[:300]))
    result.levels_column = levels_before_others(data_dir / "ledger.db")
    result.db_bytes, result.db_parts = database_size(data_dir / "ledger.db")
    return result


async def read_steps(data_dir: Path, paths: Sequence[bytes]) -> dict[str, dict[str, float]]:
    """A proof read's steps timed one by one in this process (the service stopped).

    The same lookups through plain sqlite3 show what the database itself costs.
    """
    from bench.loadgen import percentiles
    from ledger.config import Settings
    from ledger.core.merkle import split_levels
    from ledger.core.proof import ProofBundle
    from ledger.storage.engine import open_engine
    from ledger.storage.manifests import ManifestStore

    digests = [bytes.fromhex(p.decode().split("/")[3][2:]) for p in paths]
    engine = open_engine(Settings(data_dir=data_dir).database_url())
    store, trees = ManifestStore(engine), {}
    steps: dict[str, list[float]] = {"ManifestStore.get": [], "ManifestStore.batch": []}
    steps["tree (cached) → ProofBundle.build → to_json"] = []
    try:
        for digest in digests:
            started = time.perf_counter()
            record = await store.get(digest)
            got = time.perf_counter()
            assert record is not None and record.batch_number is not None
            batch = await store.batch(record.batch_number)
            fetched = time.perf_counter()
            assert batch is not None and record.leaf_index is not None
            if batch.number not in trees:
                levels = await store.levels(batch.number)
                assert levels is not None
                trees[batch.number] = split_levels(levels, batch.leaf_count)
            built = time.perf_counter()
            ProofBundle.build(trees[batch.number], record.leaf_index, digest).to_json()
            done = time.perf_counter()
            steps["ManifestStore.get"].append(got - started)
            steps["ManifestStore.batch"].append(fetched - got)
            steps["tree (cached) → ProofBundle.build → to_json"].append(done - built)
    finally:
        await engine.dispose()
    steps["the same two lookups in plain sqlite3"] = _raw_lookups(data_dir / "ledger.db", digests)
    return {name: percentiles(samples) for name, samples in steps.items()}


def _raw_lookups(db: Path, digests: Sequence[bytes]) -> list[float]:
    manifest_sql = (
        "SELECT m.digest, m.creator_id, m.signing_key, m.accepted_at, m.batch_number, "
        "m.leaf_index, b.status FROM manifests m LEFT JOIN batches b "
        "ON b.number = m.batch_number WHERE m.digest = ?"
    )
    batch_sql = (
        "SELECT number, root, leaf_count, sealed_at, status, tx_hash, block_number, "
        "block_hash, block_timestamp, gas_used, confirmed_at FROM batches WHERE number = ?"
    )
    samples = []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for digest in digests:
            started = time.perf_counter()
            row = conn.execute(manifest_sql, (digest,)).fetchone()
            conn.execute(batch_sql, (row[4],)).fetchone()
            samples.append(time.perf_counter() - started)
    return samples


# -- part 4: where a manifest's time goes -------------------------------------------------------


def timed(fn: Callable[[int], object], count: int) -> float:
    """Mean microseconds of fn(i) over i < count."""
    started = time.perf_counter()
    for i in range(count):
        fn(i)
    return (time.perf_counter() - started) / count * 1e6


def run_breakdown(work: Path, pool: ProcessPoolExecutor, count: int) -> dict[str, float]:
    """Each intake step's cost per manifest, in µs, in this process."""
    from ledger.core.canonical import parse_strict
    from ledger.core.manifest import Manifest
    from ledger.core.receipt import ReceiptSigner
    from ledger.core.signing import verify_manifest

    eth_count = max(10, count // 25)
    raw = presign(pool, "p256", BASES["breakdown"], count)
    raw_eth = presign(pool, "eth", BASES["breakdown"], eth_count)
    objs = [parse_strict(r) for r in raw]
    manifests = [Manifest.from_obj(o) for o in objs]
    eth = [Manifest.from_json(r) for r in raw_eth]
    for manifest in [*manifests, *eth]:
        manifest.signing_payload()  # cached, so verification is timed alone
    signer = ReceiptSigner(creator_key("p256", 3))
    out = {
        "parse_strict (request bytes → objects)": timed(lambda i: parse_strict(raw[i]), count),
        "Manifest.from_obj (validation)": timed(lambda i: Manifest.from_obj(objs[i]), count),
        "canonical bytes U, digest, stored body": timed(
            lambda i: _canonical(Manifest.from_obj(objs[i])), count
        )
        - timed(lambda i: Manifest.from_obj(objs[i]), count),
        "verify P-256 signature": timed(lambda i: verify_manifest(manifests[i]), count),
        "verify eth (EIP-712) signature": timed(lambda i: verify_manifest(eth[i]), eth_count),
        "sign the receipt (P-256)": timed(
            lambda i: signer.sign(manifests[i].digest(), 1_700_000_000_000, 1_700_000_300_000),
            count,
        ),
    }
    out[f"store (ManifestStore.add, groups of {GROUP})"] = asyncio.run(
        _store_cost(work / "breakdown", manifests)
    )
    return out


def _canonical(manifest: Any) -> tuple[bytes, bytes]:
    return manifest.signing_payload(), manifest.digest()


async def _store_cost(data_dir: Path, manifests: Sequence[Any]) -> float:
    from ledger.config import Settings
    from ledger.core.records import NewManifest
    from ledger.storage.engine import open_engine
    from ledger.storage.manifests import ManifestStore
    from ledger.storage.schema import upgrade

    data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_engine(Settings(data_dir=data_dir).database_url())
    await upgrade(engine)
    store = ManifestStore(engine)
    rows = [
        NewManifest(m.digest(), m.creator.id, m.creator.signing_key, m.to_json(), now_ms())
        for m in manifests
    ]
    started = time.perf_counter()
    for i in range(0, len(rows), GROUP):
        await store.add(rows[i : i + GROUP])
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed / len(rows) * 1e6


# -- report ---------------------------------------------------------------------------------


@dataclass
class Results:
    """Everything one run measured; parts not run stay empty."""

    args: argparse.Namespace
    busy: float = 0.0  # share of the machine's CPU in use just before the run
    intake: list[IntakeRun] = field(default_factory=list)
    latency: dict[str, Any] | None = None
    state: StateResults | None = None
    breakdown: dict[str, float] | None = None


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    """Milliseconds with about three significant digits."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(results: Results) -> str:
    """The bench:service section of docs/benchmarks.md."""
    args = results.args
    lines = [
        BEGIN,
        "## Service",
        "",
        f"Command: `{COMMAND}`, run {datetime.now(UTC):%Y-%m-%d} on {_machine()}; "
        f"eth_keys backend {_eth_backend()}. Other work used {results.busy:.0%} of the "
        "machine's CPU in the 3 s before the run (it shares the 2 cores with the service and "
        "the load generator, so anything but a few per cent makes the figures pessimistic).",
        "",
        "The service is `ledger serve` on the embedded default (SQLite with WAL and "
        "synchronous=FULL, its own anvil with automine): one process with the event loop "
        f"({_event_loop()}) and one verifier worker process per core; the load comes from "
        f"`bench.loadgen`, another process, over loopback, with its {args.client} HTTP client"
        + (
            " (a minimal HTTP/1.1 keep-alive client: a quarter of the CPU of aiohttp's per "
            "request, which the service would otherwise lose on these 2 cores)"
            if args.client == "lean"
            else ""
        )
        + ". All share the 2 cores. Manifests are signed before any timing; the service "
        "validates each, verifies its signature, stores it durably (group commit) and signs a "
        "receipt before answering 202. Batcher and anchorer run meanwhile. Latencies are per "
        "HTTP request, seen by the client. Settings: defaults (batches of at most 10,000 or "
        "5 s) with `confirmations = 1` for intake and proof reads; `batch_max_age_s = 1`, "
        "`confirmations = 1`, `poll_interval_s = 0.1` for the latency run.",
        "",
        "| Measure | Result | Goal | |",
        "|---|---:|---:|---|",
        *_intake_rows(results.intake),
        *_latency_rows(results.latency),
        *_state_rows(results.state),
        "",
    ]
    lines += _intake_notes(results.intake)
    lines += _state_notes(results.state, args)
    lines += _read_step_notes(results.state)
    lines += _breakdown_notes(results.breakdown, results.intake)
    lines.append(END)
    return "\n".join(lines) + "\n"


def _intake_rows(runs: Sequence[IntakeRun]) -> list[str]:
    rows = []
    for run in runs:
        lat = run.report["latency_ms"]
        what = (
            f"`POST /v1/manifests`, {run.kind}, {run.concurrency} connections"
            if run.endpoint == "single"
            else f"`POST /v1/manifests:batch`, {run.kind}, {run.per_request:,} a request, "
            f"{run.concurrency} in flight"
        )
        unit = "request" if run.endpoint == "batch" else "POST"
        target = 2_000 if run.endpoint == "single" else 20_000
        goal, verdict = (
            (f"≥ {target:,}/s", _met(run.per_s >= target)) if run.kind == "p256" else ("", "")
        )
        rows.append(
            f"| {what} | {_n(run.per_s)} manifests/s; per {unit} p50 {_ms(lat['p50'])} ms, "
            f"p99 {_ms(lat['p99'])} ms | {goal} | {verdict} |"
        )
    return rows


def _latency_rows(report: dict[str, Any] | None) -> list[str]:
    if report is None:
        return []
    lat = report["latency_ms"]
    stages = "; ".join(
        f"{name} p50 {_n(p['p50'])} ms, p99 {_n(p['p99'])} ms"
        for name, p in report["stages"].items()
    )
    return [
        f"| Submit → verified proof, batches of at most 1 s ({report['manifests']} manifests at "
        f"{report['rate']:g}/s, {report['verified_on_chain']} then verified on chain too) | "
        f"p50 {_n(lat['p50'])} ms, p99 {_n(lat['p99'])} ms; service clock: {stages} | | |"
    ]


def _state_rows(state: StateResults | None) -> list[str]:
    if state is None:
        return []
    rows = []
    for read in state.reads:
        lat = read["latency_ms"]
        rows.append(
            f"| Proof reads (`GET …/proof`), {state.manifests:,} anchored manifests, "
            f"{read['concurrency']} connection{'s' if read['concurrency'] > 1 else ''} | "
            f"{_n(read['requests_per_s'])}/s; p50 {_ms(lat['p50'])} ms, p99 {_ms(lat['p99'])} ms | "
            f"p99 < 10 ms | {_met(lat['p99'] < 10)} |"
        )
    rows.append(
        f"| Database bytes per manifest (SQLite file after checkpoint / {state.manifests:,}) | "
        f"{_n(state.db_bytes / state.manifests)} | | |"
    )
    for size, gas in gas_by_size(state.batches).items():
        goal = size >= 100_000
        rows.append(
            f"| Gas per manifest, batch of {size:,} (`anchor` transaction {gas:,} gas) | "
            f"{gas / size:,.{3 if gas / size < 10 else 1}f} | {'≤ 1' if goal else ''} | "
            f"{_met(gas / size <= 1) if goal else ''} |"
        )
    return rows


def gas_by_size(batches: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Anchor gas of the first batch of each size, smallest size first."""
    out: dict[int, int] = {}
    for batch in sorted(batches, key=lambda b: (b["leafCount"], b["number"])):
        out.setdefault(batch["leafCount"], batch["anchor"]["gasUsed"])
    return out


def _intake_notes(runs: Sequence[IntakeRun]) -> list[str]:
    if not runs:
        return []
    lines = [
        "Intake runs (measured manifests after a warm-up; the service's CPU over warm-up and "
        "run, split into its own process, the event loop with its threads, and its verifier "
        "workers; the load process's CPU over the run):",
        "",
        "| Run | Manifests | Requests | Seconds | Service process CPU per manifest "
        "| Workers' CPU per manifest | Client CPU per request | Statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        rep = run.report
        statuses = rep["item_statuses"] or rep["statuses"]
        lines.append(
            f"| {run.label} | {rep['items_ok']:,} | {rep['requests']:,} | {rep['elapsed_s']:.1f} | "
            f"{run.server_cpu_ms_per_manifest:.2f} ms | {run.worker_cpu_ms_per_manifest:.2f} ms | "
            f"{run.client_cpu_ms_per_request:.3f} ms | "
            f"{', '.join(f'{k}: {v:,}' for k, v in statuses.items())} |"
        )
    return [*lines, ""]


def _state_notes(state: StateResults | None, args: argparse.Namespace) -> list[str]:
    if state is None:
        return []
    sizes = ", ".join(f"{s:,}" for s in sorted(set(state.batch_sizes)))
    parts = sorted(state.db_parts.items(), key=lambda kv: -kv[1])
    big = [(name, size) for name, size in parts if size >= state.manifests]
    rest = sum(state.db_parts.values()) - sum(size for _, size in big)
    shown = ", ".join(f"`{name}` {_n(size / state.manifests)}" for name, size in big)
    shown += f", everything else {rest / state.manifests:.1f}"
    return [
        f"Proof state: {state.manifests:,} manifests in {len(state.batch_sizes)} batches "
        f"(sizes {sizes}), inserted through `ManifestStore.add` in transactions of 20,000 "
        f"({state.insert_s:.0f} s), sealed by the `Batcher` ({state.seal_s:.0f} s) and anchored "
        f"by the service's own anchorer on its anvil ({state.anchor_s:.0f} s, service start "
        "included). Bodies are canonical manifests of the intake runs' shape and size with their "
        "own asset id, url and hash, but one template's signature: they are not verified here. "
        f"Reads: {args.read_seconds:g} s per concurrency after 2 s of warm-up, closed loop, over "
        "20,000 random manifests; every batch's tree is in the service's cache after warm-up. "
        f"Bytes per manifest by table and index (dbstat; `batches` holds every tree's levels, "
        f"about 64 bytes a leaf): {shown}.",
        "",
    ]


def _breakdown_notes(breakdown: dict[str, float] | None, runs: Sequence[IntakeRun]) -> list[str]:
    if breakdown is None:
        return []
    lines = [
        "Where a manifest's time goes: each intake step timed alone on one core in the bench "
        "process (µs per manifest). In the service, parsing a single POST, HTTP, storing and "
        "JSON answers run in its process (the event loop, and the sqlite3 writer thread); "
        "validation, verification and the receipt signature run in its verifier workers; "
        "the rest is the workers' round trips, asyncio, and the batcher and anchorer.",
        "",
        "| Step | µs per manifest |",
        "|---|---:|",
        *(f"| {name} | {_n(us)} |" for name, us in breakdown.items()),
    ]
    p256_steps = sum(us for name, us in breakdown.items() if "eth" not in name)
    lines.append(f"| sum of the P-256 steps | {_n(p256_steps)} |")
    for run in runs:
        if run.kind == "p256":
            lines.append(
                f"| CPU per manifest, {run.label} (measured above: service process + workers) | "
                f"{_n((run.server_cpu_ms_per_manifest + run.worker_cpu_ms_per_manifest) * 1000)} |"
            )
    lines.append("")
    verify = breakdown.get("verify P-256 signature")
    ceilings = [_ceiling(run) for run in runs if run.kind == "p256"]
    if ceilings and verify is not None:
        lines += [
            "Ceiling: "
            + "; ".join(ceilings)
            + ". 20,000/s on 2 cores allows 100 µs per manifest for everything, which one "
            f"P-256 verification ({_n(verify)} µs here) already exceeds.",
            "",
        ]
    return lines


def _ceiling(run: IntakeRun) -> str:
    """What 2 cores allow for a run's CPU costs, and what one event loop allows."""
    loop = run.server_cpu_ms_per_manifest * 1000
    client = run.client_cpu_ms_per_request * 1000 / run.per_request
    total = loop + run.worker_cpu_ms_per_manifest * 1000 + client
    return (
        f"{run.label}: {_n(loop)} µs a manifest in the service process, "
        f"{_n(run.worker_cpu_ms_per_manifest * 1000)} µs in its workers and {_n(client)} µs "
        f"in the load generator make both cores, fully used, worth {_n(2e6 / total)}/s, and the "
        f"service process alone (one event loop, one core) {_n(1e6 / loop)}/s"
    )


def _read_step_notes(state: StateResults | None) -> list[str]:
    if state is None or not state.read_steps:
        return []
    layout = ""
    if state.levels_column is not None:
        leaves = max(state.batch_sizes)
        layout = (
            f" In this schema `batches.levels` (a batch's tree, {64 * leaves / 1e6:.1f} MB at "
            f"{leaves:,} leaves) is column {state.levels_column[0] + 1} of "
            f"{state.levels_column[1]}, before the anchor columns: SQLite stores a row's "
            "columns in order and keeps the tail of a large value in a chain of overflow pages "
            f"(about {64 * leaves // 4096:,} of 4 KiB here), which it walks to reach any later "
            "column, so reading a batch's status or anchor reads its whole tree; this is most "
            "of the plain sqlite3 time."
        )
    return [
        "Where a proof read's time goes: its steps timed one by one in the bench process on "
        "the same database, the service stopped, over 300 of the manifests read above." + layout,
        "",
        "| Step | p50 ms | p99 ms |",
        "|---|---:|---:|",
        *(
            f"| {name} | {_ms(p['p50'])} | {_ms(p['p99'])} |"
            for name, p in state.read_steps.items()
        ),
        "",
    ]


def _event_loop() -> str:
    """Which event loop `ledger serve` runs: uvloop when it is installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"uvloop {version('uvloop')}"
    except PackageNotFoundError:
        return "asyncio's own"


def fast_eth() -> bool:
    """Whether eth_keys recovers signatures natively (coincurve), not in pure Python."""
    return "CoinCurve" in _eth_backend()


def _eth_backend() -> str:
    from eth_keys.main import KeyAPI

    return type(KeyAPI().backend).__name__


def _machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


# -- command line --------------------------------------------------------------------------------


def say(message: str) -> None:
    """Progress on stderr, so stdout holds only the section."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


SMALL = {
    "single": 2_000,
    "batch_requests": 4,
    "eth": 1_000,
    "latency_manifests": 60,
    "state": 20_000,
    "state_batch": 10_000,
    "gas_sizes": [100],
    "read_seconds": 3.0,
    "breakdown": 200,
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Options; `--small` changes the defaults of the size options not given."""
    parser = argparse.ArgumentParser(prog="python -m bench.service_bench", description=__doc__)
    add = parser.add_argument
    add("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    add("--small", action="store_true", help="every part at a quick size (not written)")
    add("--single", type=int, help="P-256 manifests measured through the single endpoint")
    add("--concurrency", type=int, default=64, help="connections for the single endpoint")
    add("--batch-size", type=int, default=1000, help="manifests per batch request")
    add("--batch-requests", type=int, help="P-256 batch requests measured")
    add("--batch-concurrency", type=int, default=4, help="batch requests in flight")
    add("--eth", type=int, help="eth manifests measured per endpoint")
    add("--latency-manifests", type=int, help="manifests timed submit → proof")
    add("--latency-rate", type=float, default=50.0, help="manifests submitted per second")
    add("--state", type=int, help="manifests in 100k batches for the proof reads")
    add("--state-batch", type=int, help="batch size of the proof-read state")
    add("--gas-sizes", type=_ints, help="extra batch sizes for the gas figures")
    add("--read-concurrency", type=_ints, default=[1, 8, 64], help="e.g. 1,8,64")
    add("--read-seconds", type=float, help="measured seconds per read concurrency")
    add("--breakdown", type=int, help="manifests per step in the breakdown")
    add(
        "--client",
        choices=("lean", "aiohttp"),
        default="lean",
        help="the load generator's HTTP client for intake (see bench.loadgen)",
    )
    add("--profile", action="store_true", help="run the intake server under cProfile")
    add("--wait-idle", type=float, default=0.0, help="first wait up to this many s for an idle CPU")
    add("--keep", action="store_true", help="keep the work directory")
    add("--no-write", action="store_true", help="print the section only")
    add("--write", action="store_true", help="write even a partial or --small run")
    args = parser.parse_args(argv)
    defaults: dict[str, Any] = {
        "single": 15_000,
        "batch_requests": 16,
        "eth": 4_000,
        "latency_manifests": 300,
        "state": 1_000_000,
        "state_batch": 100_000,
        "gas_sizes": [100, 10_000],
        "read_seconds": 10.0,
        "breakdown": 1_000,
    }
    sizes = dict(SMALL if args.small else defaults)
    if not fast_eth():
        sizes["eth"] = 60 if args.small else 300
    for name, value in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.parts = [part for part in args.parts.split(",") if part]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return args


def machine_busy(seconds: float = 3.0) -> float:
    """The share of all cores busy over `seconds` (from /proc/stat), this process idle."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values[:8]) - idle, sum(values[:8])

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_idle(timeout: float, below: float = 0.1) -> float:
    """Wait up to `timeout` s for other work to use under `below` of the CPU; its last share."""
    deadline = time.monotonic() + timeout
    busy = machine_busy()
    while busy >= below and time.monotonic() < deadline:
        say(f"other work uses {busy:.0%} of the CPU; waiting for it to fall under {below:.0%}")
        time.sleep(10)
        busy = machine_busy()
    return busy


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    """A scratch directory for data dirs, bodies and reports."""
    path = Path(tempfile.mkdtemp(prefix="ledger-service-bench-"))
    try:
        yield path
    finally:
        if keep:
            say(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen parts, print the section, and write it when the run was complete."""
    args = parse_args(argv)
    results = Results(args=args, busy=wait_idle(args.wait_idle))
    say(f"CPU in use by other work before the run: {results.busy:.0%}")
    started = time.perf_counter()
    with workdir(args.keep) as work, ProcessPoolExecutor(os.cpu_count()) as pool:
        if "breakdown" in args.parts:
            results.breakdown = run_breakdown(work, pool, args.breakdown)
        if "intake" in args.parts:
            results.intake = run_intake(work, args, pool)
        if "latency" in args.parts:
            results.latency = run_latency(work, args, pool)
        if "proofs" in args.parts:
            results.state = run_proofs(work, args)
    say(f"done in {time.perf_counter() - started:.0f} s")
    text = render(results)
    print(text)
    complete = set(args.parts) == set(PARTS) and not args.small
    if args.write or (complete and not args.no_write):
        write_section("service", text)
        say(f"wrote the {BEGIN} section of {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
