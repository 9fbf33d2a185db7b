"""The web-licensing step of `ledger demo` (docs/web-licensing.md, "The crawler").

On the demo's running service: a creator's files sit on a local origin behind the
licensing Worker (workerd, through Miniflare); its priced manifest is anchored and its
split registered; a buyer deposits and crawls the site with `ledger crawl`'s client
(robots.txt → the creator's RSL document → registration → a token per file → the fetch
through the Worker); the Worker meters each fetch to `/v1/usage`, the service anchors
and settles it on anvil, and the creator's statement shows each fetch. Skipped, not
failed, where node or Miniflare is missing.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import web

from ledger.app.clock import now_ms
from ledger.app.payments import Chain, address_of, deposit, register_splits, set_limits
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP
from ledger.chain.rpc import connect
from ledger.cli import worker
from ledger.cli.client import LedgerClient
from ledger.cli.crawl import Fetched, Refused, crawl
from ledger.cli.demo_royalty import SOURCE
from ledger.config import Settings
from ledger.core.creators import sign_action
from ledger.core.hashing import sha256
from ledger.core.manifest import Manifest
from ledger.core.royalty.terms import asset_terms
from ledger.core.signing import EthSigningKey, SigningKey, sign_manifest
from ledger.errors import LedgerError
from ledger.keyfile import generate_key
from ledger.run.compose import Service

CREATOR_ID = "creator:dee-web"
CREATOR_KEY, BUYER_KEY = DEV_KEYS[6], DEV_KEYS[2]
FILES = 3
PRICE = 10**12  # wei per use: one licensed fetch is one use

Say = Callable[[str], None]


@dataclass(frozen=True)
class WebPlan:
    """Where the Worker will listen, fixed before the service starts: the service's
    RSL documents name the files at the Worker."""

    worker_port: int

    @property
    def site(self) -> str:
        """The site the crawler is pointed at: the Worker."""
        return f"http://127.0.0.1:{self.worker_port}"


@dataclass
class WebOutcome:
    """What the web step did; `ok` when every file was fetched, settled once at its price
    and shown on the creator's statement."""

    fetched: int = 0
    settled: int = 0
    spent: int = 0
    statement_units: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every file fetched, settled and on the statement, to the wei."""
        return (not self.problems and self.fetched == self.settled == self.statement_units
                == FILES and self.spent == FILES * PRICE)

    def rows(self) -> list[tuple[str, str]]:
        """Summary lines for the demo's table."""
        return [
            ("web: fetched through the Worker",
             f"{self.fetched}/{FILES} (step {self.seconds:.1f} s)"),
            ("web: uses settled on chain", f"{self.settled} ({self.spent:,} wei)"),
            ("web: statement = fetches", "yes" if self.ok else
             "NO: " + "; ".join(self.problems[:3] or ["counts differ"])),
        ]


def plan_web(settings: Settings, say: Say) -> tuple[Settings, WebPlan | None]:
    """The demo's settings with the web step's ports, and its plan; (settings, None)
    with a line saying why when the Worker cannot run here."""
    why = worker.missing()
    if why is not None:
        say(f"web: skipped, {why}")
        return settings, None
    plan = WebPlan(worker.free_port())
    return replace(settings, port=worker.free_port(),
                   rsl_asset_url=plan.site + "/files/{sha256}").validate(), plan


async def register_creator(client: LedgerClient, creator_id: str, key: SigningKey) -> None:
    """Register `creator_id` with `key`; plain names are approved at once on the demo's
    local chain, and the recovery key is thrown away."""
    recovery = generate_key("p256")
    action = sign_action("register", creator_id, [key.public_id], now_ms(), [key, recovery],
                         deployment=await client.deployment(), recovery_key=recovery.public_id)
    await client.creator_action(action)


async def run_web(service: Service, url: str, plan: WebPlan, scratch: Path, say: Say
                  ) -> WebOutcome:
    """Run the web step on the running demo service."""
    started = time.monotonic()
    outcome = WebOutcome()
    usage_keys = json.loads(service.settings.usage_keys or "{}")
    secret = usage_keys["sources"][SOURCE][0]["secret"]
    bodies = {sha256(b).hex(): b for b in (secrets.token_bytes(4096) for _ in range(FILES))}
    folder = scratch / "web-origin"
    folder.mkdir()
    for digest, body in bodies.items():
        (folder / digest).write_bytes(body)
    w3 = connect(service.rpc_url)
    try:
        chain = Chain.open(w3, service.deployment)
        async with LedgerClient(url) as client:
            manifest = await _publish(client, list(bodies))
            await register_splits(chain, CREATOR_KEY, manifest)
            await _fund(chain, manifest)
            say(f"web: {CREATOR_ID}'s {FILES} files anchored at {PRICE:,} wei per use; "
                "buyer funded")
            async with _Origin(folder) as origin:
                edge = await worker.start_edge(scratch / "web-queue", {
                    "ISSUER": url, "ORIGIN": origin, "LEDGER_URL": url,
                    "RSL_URL": f"{url}/rsl/creators/{CREATOR_ID}.xml",
                    "LICENSED_PREFIX": "/files/", "USAGE_SOURCE": SOURCE,
                    "USAGE_SECRET": secret, "QUEUE_FLUSH_DELAY_MS": "100"}, plan.worker_port)
                try:
                    say(f"web: the Worker serves {edge.url} in workerd; crawling it")
                    fetched = await _crawl(plan.site, scratch / "web-crawl", say, outcome)
                    await _settle(service, fetched, say, outcome)
                finally:
                    await edge.stop()
            outcome.spent = int((await chain.splitter.account(address_of(BUYER_KEY), "ETH")
                                 ).spent)
            await _statement(client, manifest, say, outcome)
    finally:
        await w3.provider.disconnect()
    outcome.seconds = time.monotonic() - started
    return outcome


async def _publish(client: LedgerClient, digests: list[str]) -> Manifest:
    key = EthSigningKey.from_hex(CREATOR_KEY)
    await register_creator(client, CREATOR_ID, key)
    doc = sign_manifest({
        "manifestVersion": "1.0",
        "creator": {"id": CREATOR_ID, "wallet": address_of(CREATOR_KEY)},
        "assets": [{"id": f"asset:web-photo-{i}", "type": "application/octet-stream",
                    "hash": "sha256:" + digest, "licenses": ["training"],
                    "priceModel": {"type": "per-unit", "rate": PRICE / 10**18,
                                   "currency": "ETH", "unit": "sample", "amount": str(PRICE)}}
                   for i, digest in enumerate(digests)]}, key)
    status, body = await client.submit(doc)
    if status not in (200, 202):
        raise LedgerError(f"web: the creator's manifest was refused: {body}")
    manifest = Manifest.from_obj(doc)
    deadline = time.monotonic() + 120
    while (await client.proof(manifest.digest_hex()))[0] != 200:
        if time.monotonic() > deadline:
            raise LedgerError("web: the creator's manifest was not anchored in 120 s")
        await asyncio.sleep(0.2)
    return manifest


async def _fund(chain: Chain, manifest: Manifest) -> None:
    await deposit(chain, BUYER_KEY, "ETH", 10**17)
    prices = {asset_terms(manifest, manifest.digest(), a.id).asset_key: ANY_PRICE
              for a in manifest.assets}
    await set_limits(chain, BUYER_KEY, "ETH", spending_cap=NO_CAP, max_prices=prices)


class _Origin:
    """A plain file server (a bucket) holding `folder` under /files/; its base URL."""

    def __init__(self, folder: Path) -> None:
        app = web.Application()
        app.router.add_static("/files", folder)
        self._runner = web.AppRunner(app, access_log=None)

    async def __aenter__(self) -> str:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def __aexit__(self, *_: object) -> None:
        await self._runner.cleanup()


async def _crawl(site: str, out: Path, say: Say, outcome: WebOutcome
                 ) -> dict[str, Fetched]:
    key = EthSigningKey.from_hex(BUYER_KEY)
    results = await asyncio.to_thread(crawl, site, key, "ledger-demo", out=out)
    fetched: dict[str, Fetched] = {}
    for url, result in results.items():
        if isinstance(result, Refused):
            outcome.problems.append(f"{url} refused at {result}")
            say(f"web: {url} refused at {result}")
            continue
        fetched[url] = result
        say(f"web: token {result.token_id} → fetched {url.rsplit('/', 1)[-1][:12]}… "
            f"({result.size:,} bytes) → usage event {result.usage_event}")
    outcome.fetched = len(fetched)
    return fetched


async def _settle(service: Service, fetched: dict[str, Fetched], say: Say,
                  outcome: WebOutcome, timeout: float = 120.0) -> None:
    waiting = {f.usage_event for f in fetched.values()}
    deadline = time.monotonic() + timeout
    while waiting:
        for event_id in sorted(waiting):
            view = await _event(service, event_id)
            tx = (view.get("settlement") or {}).get("txHash") if view else None
            if view and view["status"] == "settled" and tx:
                waiting.discard(event_id)
                outcome.settled += 1
                say(f"web: usage event {event_id} settled in tx {tx}")
        if waiting and time.monotonic() > deadline:
            outcome.problems.append(f"{len(waiting)} usage events not settled in {timeout:g} s")
            return
        await asyncio.sleep(0.25)


async def _event(service: Service, event_id: str) -> dict[str, Any] | None:
    usage = service.ctx.usage
    try:
        return await usage.event_json(await usage.stored_event(SOURCE, event_id))
    except LedgerError:
        return None  # not delivered by the Worker yet


async def _statement(client: LedgerClient, manifest: Manifest, say: Say,
                     outcome: WebOutcome) -> None:
    _, statement = await client.read_own(f"/v1/creators/{CREATOR_ID}/statement",
                                         EthSigningKey.from_hex(CREATOR_KEY))
    ours = {a.id for a in manifest.assets}
    for row in statement.get("usage", []):
        if row.get("assetId") not in ours:
            continue
        outcome.statement_units += int(row["unitsUsed"])
        if int(row["settled"]) != PRICE * int(row["unitsUsed"]):
            outcome.problems.append(f"{row['assetId']}: settled {row['settled']} wei")
        say(f"web: statement of {CREATOR_ID}: {row['assetId']}  buyer {row['buyer']}  "
            f"{row['unitsUsed']} use, {int(row['settled']):,} wei settled")
