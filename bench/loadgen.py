"""Load generator for the service benchmarks, run as its own process on loopback.

    python -m bench.loadgen post URL PATH BODIES OUT [--concurrency 64] [--warmup 500]
        [--client lean|aiohttp]
    python -m bench.loadgen get URL PATHS OUT [--concurrency 64] [--duration 10] [--warmup-s 2]
    python -m bench.loadgen proof-latency URL BODIES OUT [--rate 50] [--poll 0.05]

``post`` sends every line of BODIES (one request body per line, pre-signed by
the caller) to URL + PATH from ``concurrency`` workers, closed loop: each
worker sends its next body as soon as its last answer arrived. The first
``warmup`` lines are sent first and left out of the figures. A body of the
batch endpoint counts its items by their ``http_status``. The ``lean`` client
(the default) is a minimal HTTP/1.1 keep-alive client, one connection a
worker: it costs about a quarter of the CPU of aiohttp's client per request,
which matters when the load and the service share two cores; ``aiohttp``
uses aiohttp's client, as earlier runs did.

``get`` fetches the paths in PATHS (one a line, cycled) for ``duration``
seconds after ``warmup_s`` seconds of warm-up, closed loop.

``proof-latency`` submits one manifest of BODIES every 1/``rate`` s through
the single endpoint, watches ``GET /v1/batches`` every ``poll`` s, and once a
manifest's batch is confirmed fetches its proof and checks it offline (parse,
Merkle path to the root); the time from sending the manifest to that point is
its latency (see `ProofWatch`).
Afterwards, untimed, every bundle is checked against the chain it names
(``verify_anchor_on_chain``) through the node in ``--rpc-url``.

Each mode writes one JSON report to OUT: counts, elapsed seconds, statuses,
latency percentiles in milliseconds, and this process's CPU seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

JSON = {"Content-Type": "application/json"}


@dataclass
class Tally:
    """What one measured phase saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    item_statuses: Counter[int] = field(default_factory=Counter)
    first_sent: float = math.inf
    last_done: float = 0.0

    def record(self, sent: float, done: float, status: int) -> None:
        """One request sent at `sent`, answered with `status` at `done`."""
        self.latencies.append(done - sent)
        self.statuses[status] += 1
        self.first_sent = min(self.first_sent, sent)
        self.last_done = max(self.last_done, done)

    def count_items(self, status: int, payload: bytes) -> None:
        """Count the items of a batch endpoint's answer by their own status."""
        if status == 200 and payload.startswith(b'{"results"'):
            for item in json.loads(payload)["results"]:
                self.item_statuses[item["httpStatus"]] += 1

    def report(self, cpu_s: float) -> dict[str, Any]:
        """The JSON report of this phase."""
        elapsed = max(self.last_done - self.first_sent, 1e-9)
        return {
            "requests": len(self.latencies),
            "elapsed_s": elapsed,
            "requests_per_s": len(self.latencies) / elapsed,
            "items_ok": self.item_statuses[202] if self.item_statuses else self.statuses[202],
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "item_statuses": {str(k): v for k, v in sorted(self.item_statuses.items())},
            "latency_ms": percentiles(self.latencies),
            "client_cpu_s": cpu_s,
        }


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds (nearest-rank), or {} when empty."""
    if not samples:
        return {}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000

    return {
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "max": ordered[-1] * 1000,
        "mean": sum(ordered) / len(ordered) * 1000,
    }


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def session(concurrency: int) -> aiohttp.ClientSession:
    """A keep-alive session with one connection per worker."""
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300))


# -- post ---------------------------------------------------------------------------


async def post_phase(
    http: aiohttp.ClientSession, url: str, bodies: Sequence[bytes], concurrency: int
) -> Tally:
    """Send every body, `concurrency` at a time, closed loop, through aiohttp's client."""
    tally = Tally()
    queue = iter(bodies)

    async def worker() -> None:
        for body in queue:
            sent = time.perf_counter()
            async with http.post(url, data=body, headers=JSON) as response:
                payload = await response.read()
                status = response.status
            tally.record(sent, time.perf_counter(), status)
            tally.count_items(status, payload)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


class LeanConnection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection that sends a request once the last is answered.

    Just enough HTTP for the service's answers (which carry Content-Length).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._answer: asyncio.Future[tuple[int, bytes]] | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(ConnectionError(f"connection closed: {exc}"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0 or self._answer is None or self._answer.done():
            return
        lines = bytes(self._buffer[:end]).split(b"\r\n")
        headers = dict(line.split(b":", 1) for line in lines[1:])
        length = int({k.strip().lower(): v for k, v in headers.items()}[b"content-length"])
        if len(self._buffer) < end + 4 + length:
            return
        body = bytes(self._buffer[end + 4 : end + 4 + length])
        del self._buffer[: end + 4 + length]
        self._answer.set_result((int(lines[0].split(b" ", 2)[1]), body))

    async def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        """(status, body) of one POST whose request line and headers are `head`."""
        assert self._transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return await self._answer

    def close(self) -> None:
        """Close the connection."""
        if self._transport is not None:
            self._transport.close()


async def lean_post_phase(
    connections: Sequence[LeanConnection], url: str, bodies: Sequence[bytes]
) -> Tally:
    """`post_phase` through lean connections, one worker each."""
    parts = urlsplit(url)
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/json\r\n"
    ).encode()
    tally = Tally()
    queue = iter(bodies)

    async def worker(connection: LeanConnection) -> None:
        for body in queue:
            sent = time.perf_counter()
            status, payload = await connection.post(head, body)
            tally.record(sent, time.perf_counter(), status)
            tally.count_items(status, payload)

    await asyncio.gather(*(worker(c) for c in connections))
    return tally


async def lean_connections(url: str, count: int) -> list[LeanConnection]:
    """`count` open lean connections to the host of `url`."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    connections = []
    for _ in range(count):
        _, connection = await loop.create_connection(
            LeanConnection, str(parts.hostname), parts.port or 80
        )
        connections.append(connection)
    return connections


async def run_post(args: argparse.Namespace) -> dict[str, Any]:
    bodies = Path(args.bodies).read_bytes().splitlines()
    url = args.url.rstrip("/") + args.path
    warmup, measured = bodies[: args.warmup], bodies[args.warmup :]
    if args.client == "lean":
        connections = await lean_connections(url, args.concurrency)
        try:
            await lean_post_phase(connections, url, warmup)
            cpu = cpu_seconds()
            tally = await lean_post_phase(connections, url, measured)
            return tally.report(cpu_seconds() - cpu)
        finally:
            for connection in connections:
                connection.close()
    async with session(args.concurrency) as http:
        await post_phase(http, url, warmup, args.concurrency)
        cpu = cpu_seconds()
        tally = await post_phase(http, url, measured, args.concurrency)
        return tally.report(cpu_seconds() - cpu)


# -- get ----------------------------------------------------------------------------


async def get_phase(
    http: aiohttp.ClientSession, base: str, paths: Sequence[str], concurrency: int, seconds: float
) -> Tally:
    """GET the paths round-robin from `concurrency` workers for `seconds`."""
    tally = Tally()
    stop = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker() -> None:
        while time.perf_counter() < stop:
            path = paths[next(counter) % len(paths)]
            sent = time.perf_counter()
            async with http.get(base + path) as response:
                await response.read()
                status = response.status
            tally.record(sent, time.perf_counter(), status)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


async def run_get(args: argparse.Namespace) -> dict[str, Any]:
    paths = Path(args.paths).read_text().split()
    base = args.url.rstrip("/")
    async with session(args.concurrency) as http:
        await get_phase(http, base, paths, args.concurrency, args.warmup_s)
        cpu = cpu_seconds()
        tally = await get_phase(http, base, paths[::-1], args.concurrency, args.duration)
        return tally.report(cpu_seconds() - cpu)


# -- proof latency --------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    """A manifest the service accepted: when it was sent (ours) and accepted (its clock)."""

    digest: str
    sent: float
    accepted_at: int


class ProofWatch:
    """Submits manifests and collects each one's proof as soon as its batch is confirmed.

    The client learns of confirmed batches by polling ``GET /v1/batches`` every
    ``poll`` seconds; for each newly confirmed batch it fetches the proof of every
    manifest of its own accepted before the batch was sealed. This costs the
    service one list request per poll, not one request per manifest per poll,
    so the measurement does not load the service it measures.
    """

    def __init__(self, http: aiohttp.ClientSession, base: str, poll: float) -> None:
        self._http, self._base, self._poll = http, base, poll
        self.pending: dict[str, Submitted] = {}
        self.proved: list[tuple[float, bytes]] = []
        self.submitting = True
        self._after = 0  # batches up to this number are handled
        self._sealed_at = -1  # when the last of them was sealed (service clock)

    async def submit(self, body: bytes) -> None:
        """POST one manifest; it then waits for its batch."""
        sent = time.perf_counter()
        async with self._http.post(self._base + "/v1/manifests", data=body, headers=JSON) as r:
            accepted = await r.json()
            if r.status != 202:
                raise RuntimeError(f"submit answered {r.status}: {accepted}")
        submitted = Submitted(accepted["manifestDigest"], sent, accepted["acceptedAt"])
        self.pending[submitted.digest] = submitted
        if submitted.accepted_at <= self._sealed_at:
            await self._fetch(submitted)  # its batch was handled before this answer arrived

    async def watch(self, timeout: float) -> None:
        """Poll for confirmed batches until every submitted manifest is proved."""
        deadline = time.perf_counter() + timeout
        while self.submitting or self.pending:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{len(self.pending)} manifests unproved after {timeout:g} s")
            await asyncio.sleep(self._poll)
            url = f"{self._base}/v1/batches?after={self._after}&limit=1000"
            async with self._http.get(url) as response:
                batches = (await response.json())["batches"]
            for batch in batches:
                if batch["status"] != "confirmed":
                    break  # anchors confirm in batch order
                due = [s for s in self.pending.values() if s.accepted_at <= batch["sealedAt"]]
                self._after, self._sealed_at = batch["number"], batch["sealedAt"]
                await asyncio.gather(*(self._fetch(s) for s in due))

    async def _fetch(self, submitted: Submitted) -> None:
        from ledger.core.proof import ProofBundle

        url = f"{self._base}/v1/manifests/{submitted.digest}/proof"
        async with self._http.get(url) as response:
            payload = await response.read()
            status = response.status
        if status != 200 or submitted.digest not in self.pending:
            return  # in a later batch (the sealed one was full), or fetched meanwhile
        bundle = ProofBundle.from_json(payload)  # parses and checks the Merkle path
        if "0x" + bundle.manifest_digest.hex() != submitted.digest:
            raise RuntimeError(f"the bundle for {submitted.digest} names another manifest")
        self.proved.append((time.perf_counter() - submitted.sent, payload))
        del self.pending[submitted.digest]


async def check_on_chain(rpc_url: str, service_url: str, bundles: Sequence[bytes]) -> int:
    """How many bundles the chain confirms (registry record, verifyInclusion, receipt)
    against the chain and registry the service publishes at /v1/service."""
    from ledger.chain.contracts.artifacts import load_artifact
    from ledger.chain.rpc import connect
    from ledger.chain.verify import verify_anchor_on_chain
    from ledger.cli.client import LedgerClient
    from ledger.core.proof import ProofBundle
    from ledger.core.trust import TrustRoot
    from ledger.errors import LedgerError

    async with LedgerClient(service_url) as client:
        trust = TrustRoot.from_service_json(await client.service(), service_url)
    w3 = connect(rpc_url)
    artifact = load_artifact("AnchorRegistry")
    good = 0
    try:
        for payload in bundles:
            try:
                await verify_anchor_on_chain(w3, ProofBundle.from_json(payload), trust, artifact)
                good += 1
            except LedgerError as exc:
                print(f"on-chain check failed: {exc}")
    finally:
        await w3.provider.disconnect()
    return good


async def run_proof_latency(args: argparse.Namespace) -> dict[str, Any]:
    bodies = Path(args.bodies).read_bytes().splitlines()
    base = args.url.rstrip("/")
    async with session(64) as http:
        watch = ProofWatch(http, base, args.poll)
        watcher = asyncio.create_task(watch.watch(args.timeout))
        start = time.perf_counter()
        sends = []
        for index, body in enumerate(bodies):
            await asyncio.sleep(max(0.0, start + index / args.rate - time.perf_counter()))
            sends.append(asyncio.create_task(watch.submit(body)))
        await asyncio.gather(*sends)
        watch.submitting = False
        await watcher
    latencies = [latency for latency, _ in watch.proved]
    bundles = [bundle for _, bundle in watch.proved]
    verified = await check_on_chain(args.rpc_url, base, bundles) if args.rpc_url else 0
    return {
        "manifests": len(latencies),
        "latency_ms": percentiles(latencies),
        "verified_on_chain": verified,
    }


# -- command line -------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """The command line of the load generator."""
    top = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    modes = top.add_subparsers(dest="mode", required=True)
    post = modes.add_parser("post", help="POST pre-built bodies, closed loop")
    post.add_argument("url")
    post.add_argument("path")
    post.add_argument("bodies")
    post.add_argument("out")
    post.add_argument("--concurrency", type=int, default=64)
    post.add_argument("--warmup", type=int, default=0, help="leading bodies not measured")
    post.add_argument(
        "--client", choices=("lean", "aiohttp"), default="lean", help="the HTTP client"
    )
    get = modes.add_parser("get", help="GET paths for a while, closed loop")
    get.add_argument("url")
    get.add_argument("paths")
    get.add_argument("out")
    get.add_argument("--concurrency", type=int, default=64)
    get.add_argument("--duration", type=float, default=10.0)
    get.add_argument("--warmup-s", type=float, default=2.0)
    latency = modes.add_parser("proof-latency", help="submit → verified proof, per manifest")
    latency.add_argument("url")
    latency.add_argument("bodies")
    latency.add_argument("out")
    latency.add_argument("--rate", type=float, default=50.0, help="manifests per second")
    latency.add_argument("--poll", type=float, default=0.05, help="seconds between batch polls")
    latency.add_argument("--timeout", type=float, default=120.0)
    latency.add_argument("--rpc-url", help="also check every bundle on this chain (untimed)")
    return top


def main(argv: Sequence[str] | None = None) -> None:
    """Run one mode and write its JSON report."""
    args = parser().parse_args(argv)
    runners = {"post": run_post, "get": run_get, "proof-latency": run_proof_latency}
    report = asyncio.run(runners[args.mode](args))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
