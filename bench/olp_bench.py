"""Licence-token issuance (issue 19): tokens/s of the OLP token endpoint's use case.

    .venv/bin/python -m bench.olp_bench [--assets N] [--tokens N] [--write]

In one process (one core), over a fresh SQLite database with the licence server's
tables: one client registered, ``--assets`` priced assets offered, then ``--tokens``
calls of `LicenceServer.issue` round-robin over the assets: the ``<license>`` parsed,
the resource resolved, the lifecycle replayed, the licence matched, the funds check
(an in-memory account: the splitter's two chain reads are not included), the ES256
signature (joserfc) and the token's row written, 64 requests in flight (their rows
share commits). HTTP and form parsing are not included. The reference, measured in
the same run, is ``joserfc.jwt.encode`` alone of the same claims with the same key:
the ratio says what the endpoint adds to the signature it cannot avoid. The goal is
1,000 tokens/s.

Then the marketplace's RSL document (``GET /rsl.xml``) over ``--assets`` anchored assets
on SQLite (`bench.lifecycle_bench.fill`: a thousand a manifest, a lifecycle statement
about every fifth), built from the store on each request (the statements of all its
assets in one read, through `StatusBook.histories`) and kept between requests (one
read of `PublishedAssets.version` each), against reading the published rows alone,
measured in the same run.

``--write`` replaces the ``bench:olp`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from eth_account import Account
from joserfc import jwt

from bench.lifecycle_bench import T0, fill
from bench.report import write_section
from ledger.app.clock import now_ms
from ledger.app.histories import HeldHistories
from ledger.app.licence_server import LicenceServer
from ledger.app.olp_keys import OlpKeys
from ledger.app.rsl import RslPublisher
from ledger.app.status_book import StatusBook
from ledger.core.canonical import canonicalize
from ledger.core.manifest import Manifest
from ledger.core.royalty.terms import AssetTerms, asset_terms
from ledger.core.rsl import REGISTER_TAG
from ledger.core.signing import EthSigningKey, sign_manifest, sign_message
from ledger.storage.assets import AssetStore
from ledger.storage.engine import open_engine
from ledger.storage.licence_server import LicenceServerStore
from ledger.storage.models import Base
from ledger.storage.published import PublishedAsset, PublishedAssets
from ledger.storage.schema import prepare
from ledger.storage.statements import StatementStore

GOAL_PER_S = 1_000
#: Requests of the RSL document timed each way.
RSL_ROUNDS = 20
#: Requests in flight at once, as crawlers would keep them; their token rows share
#: commits (group commit), each answered once its row is durable.
CONCURRENCY = 64
CREATOR_KEY = "0x" + "c1" * 32
BUYER_KEY = "0x" + "b1" * 32
LICENCE = ('<license xmlns="https://rslstandard.org/rsl">'
           '<permits type="usage">ai-train</permits></license>')


def _manifest(n: int) -> Manifest:
    assets = [{"id": f"asset:b-{i}", "type": "image/png", "hash": "sha256:" + f"{i:064x}",
               "url": f"https://cdn.example/{i}.png", "licenses": ["non-exclusive-training"],
               "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                              "unit": "sample", "amount": "1000"}} for i in range(n)]
    return Manifest.from_obj(sign_manifest({
        "manifestVersion": "1.0", "creator": {
            "id": "creator:bench", "wallet": str(Account.from_key(CREATOR_KEY).address)},
        "assets": assets}, EthSigningKey.from_hex(CREATOR_KEY)))


class _Published:
    def __init__(self, m: Manifest) -> None:
        self.rows = [PublishedAsset(m.digest(), i, a.id, canonicalize(a.to_obj()),
                                    "creator:bench", 0) for i, a in enumerate(m.assets)]

    async def assets(self, **_: Any) -> list[PublishedAsset]:
        return self.rows


class _Terms:
    def __init__(self, m: Manifest) -> None:
        self._m = m

    async def asset_terms(self, digest: bytes, asset_id: str, where: str = "") -> AssetTerms:
        return asset_terms(self._m, digest, asset_id, where)


class _Funds:
    async def shortfall(self, buyer: str, terms: AssetTerms) -> str | None:
        return None


async def _run(assets: int, tokens: int, folder: Path) -> dict[str, float]:
    engine = open_engine(f"sqlite+aiosqlite:///{folder / 'olp.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    m = _manifest(assets)
    publisher = RslPublisher(_Published(m), HeldHistories(), base_url="https://l.example",
                             chain_id=31337, refresh_s=3600)
    store = LicenceServerStore(engine)
    keys = OlpKeys(store, lifetime_ms=300_000, rotation_ms=86_400_000)
    server = LicenceServer(store, keys, publisher, HeldHistories(), _Terms(m),  # type: ignore[arg-type]
                           _Funds(), lifetime_s=300)
    body: dict[str, Any] = {"wallet": str(Account.from_key(BUYER_KEY).address),
                            "name": "bench", "issuedAt": now_ms(), "server": publisher.server}
    body["signature"] = sign_message(REGISTER_TAG, canonicalize(body),
                                     EthSigningKey.from_hex(BUYER_KEY))
    answer = await server.register(canonicalize(body))
    client = await server.authenticate(answer["client_id"], answer["client_secret"])
    forms = [{"grant_type": "rsl", "resource": f"https://cdn.example/{i}.png",
              "license": LICENCE} for i in range(assets)]
    server.start()
    await server.issue(client, forms[0])  # the key made, the index built

    async def crawler(first: int) -> None:
        for i in range(first, tokens, CONCURRENCY):
            await server.issue(client, forms[i % assets])

    start = time.perf_counter()
    await asyncio.gather(*(crawler(k) for k in range(CONCURRENCY)))
    issued = tokens / (time.perf_counter() - start)
    await server.close()
    key = await keys.signing_key(now_ms())
    claims = jwt.decode(
        (await server.issue(client, forms[0]))["access_token"], key).claims
    header = {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
    start = time.perf_counter()
    for _ in range(tokens):
        jwt.encode(header, claims, key)
    signed = tokens / (time.perf_counter() - start)
    await engine.dispose()
    return {"issued": issued, "signed": signed}


def _anchor_all(path: Path) -> None:
    """Every manifest `fill` stored, in one confirmed batch."""
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO batches (number, root, leaf_count, sealed_at, status, "
                 "confirmed_at) VALUES (1, ?, 1, ?, 'confirmed', ?)", (bytes(32), T0, T0))
    conn.execute("UPDATE manifests SET batch_number = 1, leaf_index = seq - 1")
    conn.commit()
    conn.close()


async def _rsl(assets: int, folder: Path) -> dict[str, float]:
    """Documents (or reads of the rows) a second, each way."""
    path = folder / "rsl.db"
    engine = open_engine(f"sqlite+aiosqlite:///{path}")
    await prepare(engine, auto_upgrade=True)
    await engine.dispose()
    fill(path, assets, assets // 5)
    _anchor_all(path)
    engine = open_engine(f"sqlite+aiosqlite:///{path}")
    published = PublishedAssets(engine)
    book = StatusBook(StatementStore(engine), AssetStore(engine))
    at = T0 + 10 * 86_400_000
    ways: dict[str, Callable[[], Awaitable[object]]] = {"rows": published.assets}
    for name, versions in (("built", None), ("kept", published)):
        publisher = RslPublisher(published, book, base_url="https://l.example",
                                 chain_id=31337, asset_url="https://cdn.example/{sha256}",
                                 versions=versions)
        ways[name] = partial(publisher.document, at)
    rates = {}
    for name, way in ways.items():
        await way()  # warm: the page cache, and the kept document
        start = time.perf_counter()
        for _ in range(RSL_ROUNDS):
            await way()
        rates[name] = RSL_ROUNDS / (time.perf_counter() - start)
    await engine.dispose()
    return rates


def _section(args: argparse.Namespace, r: dict[str, float]) -> str:
    command = "python -m bench.olp_bench" + (
        f" --assets {args.assets} --tokens {args.tokens}" if (args.assets, args.tokens)
        != (1_000, 5_000) else "")
    verdict = "meets" if r["issued"] >= GOAL_PER_S else "misses"
    return f"""<!-- bench:olp -->
## Licence-token issuance (OLP)

`{command}` on {datetime.now(UTC):%Y-%m-%d}, one process, SQLite, a busy shared machine,
{CONCURRENCY} requests in flight.
`LicenceServer.issue` end to end (licence parsed, resource resolved, lifecycle replayed,
licence matched, funds checked in memory, ES256 signed, token recorded), against the
ES256 signature alone measured in the same run:

| measure | tokens/s | ratio to the signature alone |
|---|---:|---:|
| `jwt.encode` (ES256, joserfc) | {r["signed"]:,.0f} | 1.00 |
| `LicenceServer.issue` | {r["issued"]:,.0f} | {r["issued"] / r["signed"]:.2f} |

Issuance {verdict} the goal of {GOAL_PER_S:,} tokens/s on one core. Not included: HTTP,
and the funds check's two splitter reads on chain (`account`, `maxPricePerUnit`) and its
query of settlements in flight, which a deployment pays per token.

The marketplace's RSL document of {args.assets:,} anchored assets ({args.assets // 5:,}
statements), {RSL_ROUNDS} requests each way, against reading its published rows alone:

| measure | per second | ratio to reading the rows |
|---|---:|---:|
| `PublishedAssets.assets` (the rows) | {r["rows"]:,.1f} | 1.00 |
| `RslPublisher.document`, built each time | {r["built"]:,.1f} | {r["built"] / r["rows"]:.2f} |
| `RslPublisher.document`, kept | {r["kept"]:,.1f} | {r["kept"] / r["rows"]:.2f} |
<!-- /bench:olp -->
"""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (or write) its section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--assets", type=int, default=1_000)
    parser.add_argument("--tokens", type=int, default=5_000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(_run(args.assets, args.tokens, Path(folder)))
        result.update(asyncio.run(_rsl(args.assets, Path(folder))))
    section = _section(args, result)
    if args.write:
        write_section("olp", section)
    sys.stdout.write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
