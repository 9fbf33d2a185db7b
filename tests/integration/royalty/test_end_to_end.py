"""Royalties end to end on anvil: 3 creators, 3 buyers (ETH, ERC-20, one over its cap),
10,000 usage events → every payee's balance on the splitter to the wei, statements
equal to the chain, replays charging nothing, bad requests storing nothing."""

from __future__ import annotations

import csv
import io
import json
import random
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from eth_account import Account

from ledger.app.payments import (
    Chain,
    address_of,
    deposit,
    register_splits,
    release_all,
    set_limits,
)
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.erc20 import ERC20
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient
from ledger.core.hashing import to_hex
from ledger.core.manifest import Manifest
from ledger.core.royalty.auth import request_headers
from ledger.core.royalty.events import UsageReceipt
from ledger.core.royalty.settlement import entitlement
from ledger.core.royalty.terms import asset_terms
from ledger.core.signing import EthSigningKey, SigningKey, sign_manifest
from ledger.run.serve import running
from tests.integration.royalty.chainkit import Wallets, deploy_erc20, mint_data
from tests.integration.service.conftest import FAST, p256, register, wait_for_proof
from tests.support import until

pytestmark = pytest.mark.chain

SECRET = bytes(range(32))
SOURCE = "edge-1"
ADMIN = "t" * 32
KEYS = json.dumps({"version": "ledger-usage-keys/1",
                   "sources": {SOURCE: [{"id": "k1", "secret": SECRET.hex()}]}})
BUYER_ETH, BUYER_TOKEN, BUYER_CAPPED = DEV_KEYS[1], DEV_KEYS[2], DEV_KEYS[3]
CREATOR_A, WALLET_B, WALLET_C = DEV_KEYS[5], DEV_KEYS[6], DEV_KEYS[7]
CO_A, MARKET, CO_C = (str(Account.create().address) for _ in range(3))
EVENTS = 10_000
CHUNK = 1_000


@dataclass
class World:
    url: str
    client: LedgerClient
    http: aiohttp.ClientSession
    chain: Chain
    token: str
    manifests: dict[str, Manifest]
    registry: AnchorRegistry


async def post(world: World, body: Any, *, secret: bytes = SECRET, stamp: int | None = None
               ) -> tuple[int, Any]:
    raw = json.dumps(body).encode()
    headers = request_headers(secret, SOURCE, raw, int(time.time()) if stamp is None else stamp)
    async with world.http.post(world.url + "/v1/usage", data=raw, headers=headers) as resp:
        return resp.status, await resp.json()


async def get(world: World, path: str) -> tuple[int, Any]:
    # Views are not public: usage events are read as their source, the rest as the operator.
    headers = ({"Authorization": f"Bearer {ADMIN}"} if not path.startswith("/v1/usage/")
               else request_headers(SECRET, SOURCE, f"GET {path}".encode(), int(time.time())))
    async with world.http.get(world.url + path, headers=headers) as resp:
        if resp.content_type == "text/csv":
            return resp.status, await resp.text()
        return resp.status, await resp.json()


def _asset(asset_id: str, price: dict[str, Any] | None, payees: list[tuple[str, int, str]] | None
           ) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": asset_id, "type": "image/jpeg",
                           "hash": "sha256:" + secrets.token_hex(32), "licenses": ["training"]}
    if price is not None:
        obj["priceModel"] = {"type": "per-unit", "rate": 1, "currency": "ETH", **price}
    if payees is not None:
        obj["payees"] = [{"account": a, "shareBps": s, "role": r} for a, s, r in payees]
    return obj


def _manifest(creator_id: str, key: SigningKey, wallet: str, assets: list[dict[str, Any]]
              ) -> dict[str, Any]:
    return sign_manifest({"manifestVersion": "1.0",
                          "creator": {"id": creator_id, "wallet": wallet}, "assets": assets}, key)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = replace(FAST, data_dir=tmp_path / "data", usage_keys=KEYS, admin_token=ADMIN,
                       usage_batch_max_size=4_000, usage_batch_max_age_s=0.3,
                       settle_interval_s=0.2)
    async with running(settings) as (service, url), LedgerClient(url) as client, \
            aiohttp.ClientSession() as http:
        w3 = connect(service.rpc_url)
        chain = Chain.open(w3, service.deployment)
        wallets = Wallets(w3)
        token = await deploy_erc20(wallets, BUYER_TOKEN, "Royalty Dollar")
        manifests = await _publish(client, token)
        # B and C register their splits themselves; A's is relayed by the service.
        for key, name in ((WALLET_B, "b"), (WALLET_C, "c")):
            await register_splits(chain, key, manifests[name])
        await _relay_split(http, url, manifests["a"])
        await _fund_buyers(chain, wallets, token, manifests)
        try:
            yield World(url, client, http, chain, token, manifests,
                        service.deployment.registry_client(w3))
        finally:
            await w3.provider.disconnect()


async def _publish(client: LedgerClient, token: str) -> dict[str, Manifest]:
    key_a = EthSigningKey.from_hex(CREATOR_A)
    key_b, key_c = p256(), p256()
    docs = {
        # A: an Ethereum key, per sample in ETH, 70/30 with a co-creator.
        "a": ("creator:ana", key_a, address_of(CREATOR_A), [_asset(
            "asset:a-1", {"unit": "sample", "amount": "1000"},
            [(address_of(CREATOR_A), 7_000, "creator"), (CO_A, 3_000, "co-creator")])]),
        # B: P-256, per 1k samples in the ERC-20, 10% marketplace fee.
        "b": ("creator:ben", key_b, address_of(WALLET_B), [_asset(
            "asset:b-1", {"unit": "1k-samples", "amount": "2500000", "token": token},
            [(address_of(WALLET_B), 9_000, "creator"), (MARKET, 1_000, "marketplace")])]),
        # C: P-256, per epoch in ETH, awkward shares; plus an asset not priced per use.
        "c": ("creator:cy", key_c, address_of(WALLET_C), [
            _asset("asset:c-1", {"unit": "epoch", "amount": str(10**14)},
                   [(address_of(WALLET_C), 5_000, "creator"), (CO_C, 3_333, "co-creator"),
                    (MARKET, 1_667, "marketplace")]),
            _asset("asset:c-free", None, None),
        ]),
    }
    manifests = {}
    for name, (creator_id, key, wallet, assets) in docs.items():
        await register(client, creator_id, key)
        doc = _manifest(creator_id, key, wallet, assets)
        status, _ = await client.submit(doc)
        assert status == 202
        manifests[name] = Manifest.from_obj(doc)
    for manifest in manifests.values():
        await wait_for_proof(client, manifest.digest_hex())
    return manifests


async def _relay_split(http: aiohttp.ClientSession, url: str, manifest: Manifest) -> None:
    """Creator A signs its split terms with its Ethereum key; the service relays them."""
    query = {"manifestDigest": manifest.digest_hex(), "assetId": "asset:a-1"}
    async with http.get(url + "/v1/splits/terms", params=query) as resp:
        request = await resp.json()
    assert resp.status == 200 and request["version"] == 1, request
    body = {**query, "version": request["version"], "deadline": request["deadline"]}
    stranger = EthSigningKey.from_hex(DEV_KEYS[8]).sign_typed_data(request["typedData"])
    async with http.post(url + "/v1/splits", json={**body, "signature": stranger[7:]}) as resp:
        refused = await resp.json()
    assert resp.status == 422 and "not the split owner" in refused["error"]["message"]
    signature = EthSigningKey.from_hex(CREATOR_A).sign_typed_data(request["typedData"])
    async with http.post(url + "/v1/splits", json={**body, "signature": signature[7:]}) as resp:
        assert resp.status == 202, await resp.text()


async def _fund_buyers(chain: Chain, wallets: Wallets, token: str,
                       manifests: dict[str, Manifest]) -> None:
    key_of = {n: asset_terms(m, m.digest(), m.assets[0].id).asset_key
              for n, m in manifests.items()}
    await deposit(chain, BUYER_ETH, "ETH", 10**18)
    await set_limits(chain, BUYER_ETH, "ETH", spending_cap=NO_CAP,
                     max_prices={key_of["a"]: ANY_PRICE, key_of["c"]: ANY_PRICE})
    await wallets.send(BUYER_TOKEN, token, mint_data(address_of(BUYER_TOKEN), 10**24))
    await deposit(chain, BUYER_TOKEN, token, 10**23)
    await set_limits(chain, BUYER_TOKEN, token, spending_cap=NO_CAP,
                     max_prices={key_of["b"]: 10**7})
    await deposit(chain, BUYER_CAPPED, "ETH", 10**17)
    await set_limits(chain, BUYER_CAPPED, "ETH", spending_cap=1_000,
                     max_prices={key_of["a"]: ANY_PRICE})


def _events(world: World) -> list[dict[str, Any]]:
    rng = random.Random(5)
    ref = {n: {"manifestDigest": m.digest_hex(), "assetId": m.assets[0].id}
           for n, m in world.manifests.items()}
    events = []
    for i in range(EVENTS):
        if i % 20 == 19:  # 500 events of the buyer over its cap
            buyer, asset, units, unit = BUYER_CAPPED, "a", rng.randint(1, 100), None
        elif i % 20 >= 12:  # 3,500 ERC-20 events, counted in samples or in 1k-samples
            buyer, asset = BUYER_TOKEN, "b"
            units, unit = ((rng.randint(1, 5) * 1000, "sample") if i % 2
                           else (rng.randint(1, 5), "1k-samples"))
        else:  # 6,000 ETH events over two creators
            buyer, asset = BUYER_ETH, "a" if i % 2 else "c"
            units, unit = (rng.randint(1, 100), "sample") if asset == "a" else (
                rng.randint(1, 3), None)
        event = {"eventId": f"job-1:{i:06d}", "buyer": address_of(buyer), "asset": ref[asset],
                 "units": units, "time": "2025-06-01T12:00:00.000Z", "source": SOURCE}
        if unit is not None:
            event["unit"] = unit
        events.append(event)
    return events


def _expected(world: World, events: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Units and wei per (asset, buyer)."""
    per_unit = {"a": 1, "b": 1000, "c": 1}  # samples per chain unit, by the events' unit
    price = {"a": 1000, "b": 2_500_000, "c": 10**14}
    name_of = {m.assets[0].id: n for n, m in world.manifests.items()}
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in events:
        name = name_of[e["asset"]["assetId"]]
        units = e["units"] // per_unit[name] if e.get("unit") == "sample" and name == "b" \
            else e["units"]
        out[name][e["buyer"]] += units * price[name]
    return out


async def test_royalties_end_to_end(world: World) -> None:
    events = _events(world)
    started = time.monotonic()
    for start in range(0, EVENTS, CHUNK):
        status, body = await post(world, {"events": events[start : start + CHUNK]})
        assert status == 202 and body["accepted"] == CHUNK, body
    intake_s = time.monotonic() - started
    await _bad_requests_store_nothing(world)
    await _replays_are_duplicates(world, events)

    expected = _expected(world, events)
    buyer_eth, buyer_token = address_of(BUYER_ETH), address_of(BUYER_TOKEN)
    capped = address_of(BUYER_CAPPED)

    async def all_settled() -> bool:
        _, eth = await get(world, f"/v1/buyers/{buyer_eth}")
        _, tok = await get(world, f"/v1/buyers/{buyer_token}")
        _, cap = await get(world, f"/v1/buyers/{capped}")
        want = expected["a"][buyer_eth] + expected["c"][buyer_eth]
        done = eth["tokens"][0]["settled"] == str(want)
        done = done and tok["tokens"][0]["settled"] == str(expected["b"][buyer_token])
        return done and cap["tokens"][0]["unitsHeld"] > 0

    await until(all_settled, 60.0, 0.25)
    settle_s = time.monotonic() - started
    splitter = world.chain.splitter

    # Buyers: charged exactly their usage; the capped one nothing, with the reason shown.
    assert (await splitter.account(buyer_eth, "ETH")).spent == \
        expected["a"][buyer_eth] + expected["c"][buyer_eth]
    assert (await splitter.account(buyer_token, world.token)).spent == expected["b"][buyer_token]
    assert (await splitter.account(capped, "ETH")).spent == 0
    _, cap_view = await get(world, f"/v1/buyers/{capped}")
    assert "spending cap" in cap_view["tokens"][0]["held"][0]["reason"]
    assert cap_view["tokens"][0]["unitsSettled"] == 0

    # Every payee's balance on the splitter, to the wei; statements equal the chain.
    await _check_payees(world, expected, exclude=capped)

    # The capped buyer raises its cap: its held usage is settled, not lost.
    await set_limits(world.chain, BUYER_CAPPED, "ETH", spending_cap=NO_CAP)

    async def released() -> bool:
        _, view = await get(world, f"/v1/buyers/{capped}")
        return view["tokens"][0]["settled"] == str(expected["a"][capped])

    await until(released, 60.0, 0.25)
    await _check_payees(world, expected, exclude=None)

    # A receipt proves an event, offline and on chain.
    status, proof = await get(world, "/v1/usage/job-1:000007/proof")
    assert status == 200 and proof["status"] == "settled"
    receipt = UsageReceipt.from_obj(proof["receipt"])
    assert receipt.proof.anchor is not None
    assert receipt.proof.manifest_digest == receipt.event.digest()
    included, _ = await world.registry.verify_inclusion(
        receipt.proof.manifest_digest, list(receipt.proof.proof), receipt.proof.root)
    assert included

    # Payees withdraw with their own key.
    owner_a = address_of(CREATOR_A)
    terms_a = asset_terms(world.manifests["a"], world.manifests["a"].digest(), "asset:a-1")
    due = await splitter.releasable(terms_a.asset_key, 1, owner_a)
    assert await release_all(world.chain, CREATOR_A) == {"ETH": due}
    assert await splitter.releasable(terms_a.asset_key, 1, owner_a) == 0
    before = await ERC20(world.chain.w3, world.token).balance_of(address_of(WALLET_B))
    paid = await release_all(world.chain, WALLET_B)
    after = await ERC20(world.chain.w3, world.token).balance_of(address_of(WALLET_B))
    assert after - before == paid[world.token] > 0
    await _check_payees(world, expected, exclude=None)
    print(f"\nintake {EVENTS} events: {intake_s:.2f} s; all settled after {settle_s:.2f} s")


async def _check_payees(world: World, expected: dict[str, dict[str, int]],
                        exclude: str | None) -> None:
    splitter = world.chain.splitter
    for name, manifest in world.manifests.items():
        terms = asset_terms(manifest, manifest.digest(), manifest.assets[0].id)
        total = sum(v for buyer, v in expected[name].items() if buyer != exclude)
        info = await splitter.split_version(terms.asset_key, 1)
        assert info.total_received == total
        for payee, share in zip(terms.split.payees, terms.split.shares, strict=True):
            balance = (await splitter.released(terms.asset_key, 1, payee)
                       + await splitter.releasable(terms.asset_key, 1, payee))
            assert balance == entitlement(total, share), (name, payee)
        status, statement = await get(world, f"/v1/creators/{manifest.creator.id}/statement")
        assert status == 200
        (split,) = statement["splits"]
        assert split["settled"] == split["totalReceived"] == str(total)
        for row in split["payees"]:
            assert int(row["earned"]) == int(row["withdrawn"]) + int(row["withdrawable"])
            assert int(row["earned"]) == entitlement(total, row["shareBps"])
        settled = sum(int(r["settled"]) for r in statement["usage"])
        assert settled == total
        assert all(s["txHash"] for r in statement["usage"] for s in r["settlements"]
                   if s["status"] in ("confirmed", "final"))
        status, text = await get(world, f"/v1/creators/{manifest.creator.id}/statement?format=csv")
        rows = list(csv.DictReader(io.StringIO(text)))
        earned = {r["payee"]: int(r["earned_wei"]) for r in rows if r["kind"] == "payee"}
        assert earned == {p["account"]: int(p["earned"]) for p in split["payees"]}


async def _bad_requests_store_nothing(world: World) -> None:
    a = world.manifests["a"]
    good = {"eventId": "neg:0", "buyer": address_of(BUYER_ETH),
            "asset": {"manifestDigest": a.digest_hex(), "assetId": "asset:a-1"},
            "units": 5, "time": "2025-06-01T12:00:00Z", "source": SOURCE}
    b, c = world.manifests["b"], world.manifests["c"]
    cases: list[tuple[str, dict[str, Any], dict[str, Any], int]] = [
        ("forged", good, {"secret": bytes(32)}, 401),
        ("stale", good, {"stamp": int(time.time()) - 3_600}, 401),
        ("future", good, {"stamp": int(time.time()) + 3_600}, 401),
        ("negative", {**good, "units": -5}, {}, 422),
        ("zero", {**good, "units": 0}, {}, 422),
        ("huge", {**good, "units": 10**13}, {}, 422),
        ("unknown-manifest", {**good, "asset": {"manifestDigest": to_hex(bytes(32)),
                                                "assetId": "asset:a-1"}}, {}, 422),
        ("unknown-asset", {**good, "asset": {**good["asset"], "assetId": "asset:nope"}}, {},
         422),
        ("unpriced-asset", {**good, "asset": {"manifestDigest": c.digest_hex(),
                                              "assetId": "asset:c-free"}}, {}, 422),
        ("other-source", {**good, "source": "edge-2"}, {}, 403),
        ("fraction", {**good, "units": 1500, "unit": "sample",
                      "asset": {"manifestDigest": b.digest_hex(), "assetId": "asset:b-1"}},
         {}, 422),
        ("epoch-as-samples", {**good, "units": 2, "unit": "epoch"}, {}, 422),
    ]
    for name, event, kwargs, expected in cases:
        event = {**event, "eventId": f"neg:{name}"}
        status, body = await post(world, event, **kwargs)
        assert status == expected, (name, body)
        assert "error" in body and body["error"]["message"], name
        status, body = await post(world, {"events": [event]}, **kwargs)
        assert status == expected, (name, body)
        assert (await get(world, f"/v1/usage/neg:{name}"))[0] == 404, name


async def _replays_are_duplicates(world: World, events: list[dict[str, Any]]) -> None:
    status, body = await post(world, {"events": events[:CHUNK]})
    assert status == 200 and body["duplicates"] == CHUNK and body["accepted"] == 0
    status, body = await post(world, events[3])
    assert status == 200 and body["status"] == "duplicate"
    changed = {**events[3], "units": events[3]["units"] + 1}
    status, body = await post(world, changed)
    assert status == 409, body
    status, body = await post(world, {"events": [events[4], events[4], changed]})
    assert [r["httpStatus"] for r in body["results"]] == [200, 200, 409]
