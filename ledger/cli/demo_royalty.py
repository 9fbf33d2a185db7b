"""The royalty step of `ledger demo`: a buyer pays per use and creators withdraw.

On the demo's running service: each of three creators signs a manifest with one
asset priced per use (ETH) and its payees (one with a marketplace fee), and
registers the split from its own account; a buyer deposits and sets its limits;
a metering source reports usage events (HMAC-signed, in batches); the service
anchors them, settles them on the splitter, and each creator withdraws. The
step checks every payee's balance against the usage, to the wei, and that each
statement equals the chain.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from ledger.app.payments import (
    Chain,
    address_of,
    deposit,
    register_splits,
    release_all,
    set_limits,
)
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient
from ledger.core.manifest import Manifest
from ledger.core.royalty.auth import request_headers
from ledger.core.royalty.settlement import entitlement
from ledger.core.royalty.terms import asset_terms
from ledger.core.signing import EthSigningKey, SigningKey, sign_manifest
from ledger.errors import LedgerError
from ledger.run.compose import Service

SOURCE = "demo-edge"
EVENTS = 3_000
BUYER = DEV_KEYS[1]
# Wallets that own the P-256 creators' splits and send them (funded dev accounts).
WALLETS = (DEV_KEYS[5], DEV_KEYS[7])
MARKETPLACE = "0x" + "4d" * 20
FUNDER = DEV_KEYS[9]

Say = Callable[[str], None]


def demo_usage_keys() -> str:
    """A fresh keys document (``LEDGER_USAGE_KEYS``) for the demo's metering source."""
    return json.dumps({"version": "ledger-usage-keys/1",
                       "sources": {SOURCE: [{"id": "demo", "secret": secrets.token_hex(32)}]}})


@dataclass
class RoyaltyOutcome:
    """What the royalty step did; `ok` when every balance and statement matched."""

    events: int = 0
    settlements: int = 0
    settle_gas: int = 0
    spent: int = 0
    paid: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every payee's balance and every statement equals the expected amounts."""
        return self.events > 0 and not self.mismatches

    def rows(self) -> list[tuple[str, str]]:
        """Summary lines for the demo's table."""
        rows = [
            ("royalties: usage events", f"{self.events:,}"),
            ("royalties: settlements", f"{self.settlements} ({self.settle_gas:,} gas, "
                                       f"{self.settle_gas / max(self.events, 1):,.1f} per event)"),
            ("royalties: buyer paid", f"{self.spent:,} wei"),
        ]
        rows += [(f"royalties: {who} withdrew", f"{amount:,} wei")
                 for who, amount in self.paid.items()]
        rows.append(("royalties: balances = chain", "yes" if self.ok else
                     "NO: " + "; ".join(self.mismatches[:3])))
        return rows


async def run_royalties(
    service: Service, url: str, keys: dict[str, SigningKey], say: Say
) -> RoyaltyOutcome:
    """Run the royalty step on a running demo service; ``keys`` are the creators' keys."""
    outcome = RoyaltyOutcome()
    usage_keys = service.settings.usage_keys
    if service.deployment.splitter is None or not usage_keys:
        raise LedgerError("the demo service has no splitter or no metering key")
    secret = bytes.fromhex(json.loads(usage_keys)["sources"][SOURCE][0]["secret"])
    w3 = connect(service.rpc_url)
    chain = Chain.open(w3, service.deployment)
    try:
        async with LedgerClient(url) as client, aiohttp.ClientSession() as http:
            owners = await _owners(chain, keys)
            manifests = await _publish(client, keys, owners)
            say(f"royalties: {len(manifests)} priced manifests anchored; registering splits")
            for creator_id, manifest in manifests.items():
                await register_splits(chain, owners[creator_id], manifest)
            prices = {asset_terms(m, m.digest(), m.assets[0].id).asset_key: ANY_PRICE
                      for m in manifests.values()}
            await deposit(chain, BUYER, "ETH", 10**18)
            await set_limits(chain, BUYER, "ETH", spending_cap=NO_CAP, max_prices=prices)
            expected = await _meter(http, url, secret, manifests)
            outcome.events = EVENTS
            say(f"royalties: {EVENTS:,} usage events accepted; waiting for settlement")
            await _settled(service, sum(expected.values()))
            outcome.spent = (await chain.splitter.account(address_of(BUYER), "ETH")).spent
            await _settlement_gas(service, outcome)
            for creator_id in manifests:
                paid = await release_all(chain, owners[creator_id])
                outcome.paid[creator_id] = paid.get("ETH", 0)
            await _check(client, chain, manifests, keys, expected, outcome)
    finally:
        await w3.provider.disconnect()
    return outcome


async def _owners(chain: Chain, keys: dict[str, SigningKey]) -> dict[str, str]:
    """Each creator's split-owner key: its own Ethereum key (funded for gas here),
    else a funded wallet it names in its manifest."""
    owners: dict[str, str] = {}
    wallets = iter(WALLETS)
    for creator_id, key in keys.items():
        if isinstance(key, EthSigningKey):
            owners[creator_id] = key.to_hex()
            # Not account 0: the service sends from it, and one account needs one sender.
            await chain.sender(FUNDER).transact(
                f"demo:fund:{creator_id}", address_of(key.to_hex()), b"", value=10**17)
        else:
            owners[creator_id] = next(wallets)
    return owners


async def _publish(client: LedgerClient, keys: dict[str, SigningKey], owners: dict[str, str]
                   ) -> dict[str, Manifest]:
    shares = ((9_000, "creator"), (1_000, "marketplace"))
    manifests: dict[str, Manifest] = {}
    for index, (creator_id, key) in enumerate(keys.items()):
        owner = address_of(owners[creator_id])
        payees = [{"account": owner, "shareBps": 10_000, "role": "creator"}]
        if index == 1:  # one creator pays the marketplace a fee
            payees = [{"account": a, "shareBps": s, "role": r}
                      for a, (s, r) in zip((owner, MARKETPLACE), shares, strict=True)]
        doc = sign_manifest({
            "manifestVersion": "1.0",
            "creator": {"id": creator_id, "wallet": owner},
            "assets": [{
                "id": f"asset:demo-dataset-{index}", "type": "application/x-tar",
                "hash": "sha256:" + secrets.token_hex(32), "licenses": ["non-exclusive-training"],
                "priceModel": {"type": "per-unit", "rate": 0.0000001 * (index + 1),
                               "currency": "ETH", "unit": "sample",
                               "amount": str(10**11 * (index + 1))},
                "payees": payees,
            }],
        }, key)
        status, body = await client.submit(doc)
        if status not in (200, 202):
            raise LedgerError(f"a priced manifest was refused: {body}")
        manifests[creator_id] = Manifest.from_obj(doc)
    for manifest in manifests.values():
        deadline = time.monotonic() + 120
        while (await client.proof(manifest.digest_hex()))[0] != 200:
            if time.monotonic() > deadline:
                raise LedgerError("a priced manifest was not anchored in 120 s")
            await asyncio.sleep(0.2)
    return manifests


async def _meter(http: aiohttp.ClientSession, url: str, secret: bytes,
                 manifests: dict[str, Manifest]) -> dict[str, int]:
    """Report the usage; returns the wei due per creator's asset."""
    rng = random.Random(7)
    buyer = address_of(BUYER)
    names = list(manifests)
    due: dict[str, int] = dict.fromkeys(names, 0)
    events = []
    for i in range(EVENTS):
        creator_id = names[i % len(names)]
        manifest = manifests[creator_id]
        units = rng.randint(1, 500)
        due[creator_id] += units * int(manifest.assets[0].price_model.amount or 0)  # type: ignore[union-attr]
        events.append({"eventId": f"demo-job:{i:06d}", "buyer": buyer,
                       "asset": {"manifestDigest": manifest.digest_hex(),
                                 "assetId": manifest.assets[0].id},
                       "units": units, "time": "2026-01-01T00:00:00Z", "source": SOURCE})
    for start in range(0, EVENTS, 1_000):
        body = json.dumps({"events": events[start : start + 1_000]}).encode()
        headers = request_headers(secret, SOURCE, body, int(time.time()))
        async with http.post(url + "/v1/usage", data=body, headers=headers) as resp:
            if resp.status != 202:
                raise LedgerError(f"usage was refused: {await resp.text()}")
    return due


async def _settled(service: Service, total: int, timeout: float = 120.0) -> None:
    usage = service.ctx.usage
    deadline = time.monotonic() + timeout
    while True:
        lines = await usage.store.item_lines()
        if sum(line.item.amount for line in lines if line.status.value in ("confirmed", "final")
               ) >= total:
            return
        if time.monotonic() > deadline:
            raise LedgerError(f"usage was not settled within {timeout:g} s")
        await asyncio.sleep(0.25)


async def _settlement_gas(service: Service, outcome: RoyaltyOutcome) -> None:
    usage = service.ctx.usage
    for settlement in await usage.store.settlements():
        if settlement.gas_used:
            outcome.settlements += 1
            outcome.settle_gas += settlement.gas_used


async def _check(client: LedgerClient, chain: Chain, manifests: dict[str, Manifest],
                 keys: dict[str, SigningKey], expected: dict[str, int],
                 outcome: RoyaltyOutcome) -> None:
    if outcome.spent != sum(expected.values()):
        outcome.mismatches.append(f"buyer spent {outcome.spent}, expected {sum(expected.values())}")
    for creator_id, manifest in manifests.items():
        terms = asset_terms(manifest, manifest.digest(), manifest.assets[0].id)
        total = expected[creator_id]
        for payee, share in zip(terms.split.payees, terms.split.shares, strict=True):
            balance = (await chain.splitter.released(terms.asset_key, 1, payee)
                       + await chain.splitter.releasable(terms.asset_key, 1, payee))
            if balance != entitlement(total, share):
                outcome.mismatches.append(f"{creator_id} payee {payee}: {balance}")
        _, statement = await client.read_own(f"/v1/creators/{creator_id}/statement",
                                             keys[creator_id])
        splits = statement.get("splits", [])
        if not splits or splits[0].get("totalReceived") != str(total) \
                or splits[0].get("settled") != str(total):
            outcome.mismatches.append(f"{creator_id}: statement differs from the chain")
