"""Co-signed settlement on anvil: a buyer that requires co-signing is charged only what it
signed. Usage → a proposal (nothing charged) → bad signatures refused, nothing kept →
``ledger buyer cosign`` → ``settleCosigned`` charges exactly the proposed total, split to
the wei → signing the same root again changes nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from ledger.app.payments import Chain, address_of, deposit, register_splits, set_limits
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP, UsageItem
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient
from ledger.cli.main import main
from ledger.core.manifest import Manifest
from ledger.core.royalty.auth import request_headers
from ledger.core.royalty.settlement import ProposalStatus, SettlementStatus, entitlement
from ledger.core.royalty.terms import ETH_TOKEN, asset_terms
from ledger.core.signing import EthSigningKey, sign_manifest
from ledger.keyfile import write_key
from ledger.run.serve import running
from ledger.storage.usage import UsageStore
from ledger.workers.settler import Settler
from tests.integration.chain.conftest import rpc
from tests.integration.royalty.test_settler_crash import BUYER as CRASH_BUYER
from tests.integration.royalty.test_settler_crash import (
    Crash,
    Setup,
    _settler,
    setup,  # noqa: F401 (a fixture)
)
from tests.integration.service.conftest import FAST, register, wait_for_proof
from tests.support import until

pytestmark = pytest.mark.chain

SECRET = bytes(range(32))
SOURCE = "edge-1"
ADMIN = "t" * 32
KEYS = json.dumps({"version": "ledger-usage-keys/1",
                   "sources": {SOURCE: [{"id": "k1", "secret": SECRET.hex()}]}})
BUYER, CREATOR, STRANGER = DEV_KEYS[1], DEV_KEYS[5], DEV_KEYS[8]
CO_CREATOR = str(Account.create().address)
PRICE = 1_000
_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


@dataclass
class World:
    url: str
    http: aiohttp.ClientSession
    chain: Chain
    manifest: Manifest
    asset_key: bytes


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = replace(FAST, data_dir=tmp_path / "data", usage_keys=KEYS, admin_token=ADMIN,
                       usage_batch_max_age_s=0.2, settle_interval_s=0.2)
    async with running(settings) as (service, url), LedgerClient(url) as client, \
            aiohttp.ClientSession() as http:
        w3 = connect(service.rpc_url)
        chain = Chain.open(w3, service.deployment)
        key = EthSigningKey.from_hex(CREATOR)
        await register(client, "creator:ana", key)
        doc = sign_manifest({
            "manifestVersion": "1.0",
            "creator": {"id": "creator:ana", "wallet": address_of(CREATOR)},
            "assets": [{"id": "asset:a-1", "type": "image/jpeg", "hash": "sha256:" + "ab" * 32,
                        "licenses": ["training"],
                        "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                                       "unit": "sample", "amount": str(PRICE)},
                        "payees": [{"account": address_of(CREATOR), "shareBps": 6_667,
                                    "role": "creator"},
                                   {"account": CO_CREATOR, "shareBps": 3_333,
                                    "role": "co-creator"}]}],
        }, key)
        status, _ = await client.submit(doc)
        assert status == 202
        manifest = Manifest.from_obj(doc)
        await wait_for_proof(client, manifest.digest_hex())
        await register_splits(chain, CREATOR, manifest)
        asset_key = asset_terms(manifest, manifest.digest(), "asset:a-1").asset_key
        # Co-signing first: with no deposit yet it applies at once.
        splitter = chain.splitter
        await set_limits(chain, BUYER, "ETH", cosigning=True)
        await deposit(chain, BUYER, "ETH", 10**18)
        await set_limits(chain, BUYER, "ETH", spending_cap=NO_CAP,
                         max_prices={asset_key: ANY_PRICE})
        assert await splitter.cosigning(address_of(BUYER), "ETH")
        try:
            yield World(url, http, chain, manifest, asset_key)
        finally:
            await w3.provider.disconnect()


async def call(world: World, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = None if body is None else json.dumps(body).encode()
    headers = {}
    if path == "/v1/usage":
        assert raw is not None
        headers = request_headers(SECRET, SOURCE, raw, int(time.time()))
    elif method == "GET":
        headers = {"Authorization": f"Bearer {ADMIN}"}  # buyer views are not public
    async with world.http.request(method, world.url + path, data=raw, headers=headers) as resp:
        return resp.status, await resp.json()


def _sign(typed: dict[str, Any], key: str) -> str:
    return "0x" + bytes(Account.sign_message(encode_typed_data(full_message=typed),
                                             key).signature).hex()


async def test_cosigned_settlement(world: World, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    buyer, splitter = address_of(BUYER), world.chain.splitter
    units = list(range(1, 41))
    events = [{"eventId": f"job:{i}", "buyer": buyer,
               "asset": {"manifestDigest": world.manifest.digest_hex(), "assetId": "asset:a-1"},
               "units": n, "time": "2025-06-01T12:00:00.000Z", "source": SOURCE}
              for i, n in enumerate(units)]
    status, body = await call(world, "POST", "/v1/usage", {"events": events})
    assert status == 202 and body["accepted"] == len(events), body
    expected = sum(units) * PRICE

    async def proposed() -> Any:
        _, body = await call(world, "GET", f"/v1/buyers/{buyer}/proposals")
        return body["proposals"]

    (proposal,) = await until(proposed, 20.0)
    assert proposal["total"] == str(expected) and proposal["token"] == ETH_TOKEN
    assert proposal["deadline"] > time.time() + 3600
    items = [UsageItem(bytes.fromhex(i["assetKey"][2:]), i["version"], i["units"])
             for i in proposal["items"]]
    assert items == [UsageItem(world.asset_key, 1, sum(units))]
    root = bytes.fromhex(proposal["usageRoot"][2:])
    # The typed data is the contract's own digest.
    digest = await splitter.settlement_digest(buyer, "ETH", root, items, expected,
                                              proposal["deadline"])
    assert digest == _typed_hash(proposal["typedData"])
    # Nothing is charged before the buyer signs; the usage shows as held.
    await asyncio.sleep(0.6)
    assert (await splitter.account(buyer, "ETH")).spent == 0
    _, view = await call(world, "GET", f"/v1/buyers/{buyer}")
    (eth,) = view["tokens"]
    assert eth["unitsHeld"] == sum(units) and "co-signature" in eth["held"][0]["reason"]

    await _bad_signatures_are_refused(world, proposal)
    assert await proposed() == [proposal]

    key_file = tmp_path / "buyer.json"
    write_key(key_file, EthSigningKey.from_hex(BUYER))
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["buyer", "cosign", "--key", str(key_file),
                                          "--url", world.url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{proposal['usageRoot']}: {expected} wei for {sum(units)} units" in out

    async def settled() -> bool:
        return (await splitter.account(buyer, "ETH")).spent > 0
    await until(settled, 20.0)
    assert (await splitter.account(buyer, "ETH")).spent == expected
    assert await splitter.is_settled(root, buyer, ETH_TOKEN)
    info = await splitter.split_version(world.asset_key, 1)
    assert info.total_received == expected
    for payee, share in ((address_of(CREATOR), 6_667), (CO_CREATOR, 3_333)):
        assert await splitter.releasable(world.asset_key, 1, payee) == \
            entitlement(expected, share)

    async def confirmed() -> bool:
        _, view = await call(world, "GET", f"/v1/buyers/{buyer}")
        return bool(view["tokens"][0]["settled"] == str(expected))
    await until(confirmed, 20.0)
    # Signing the same root again changes nothing.
    again = {"usageRoot": proposal["usageRoot"], "token": "ETH",
             "signature": _sign(proposal["typedData"], BUYER)}
    status, body = await call(world, "POST", f"/v1/buyers/{buyer}/cosign", again)
    assert status == 200 and body["status"] == "used", body
    code = await asyncio.to_thread(main, ["buyer", "cosign", "--key", str(key_file),
                                          "--url", world.url])
    assert code == 0 and "nothing awaits" in capsys.readouterr().out
    await asyncio.sleep(0.6)
    assert (await splitter.account(buyer, "ETH")).spent == expected
    assert await proposed() == []


def replace_settler(settler: Settler, **options: Any) -> Settler:
    """``settler`` rebuilt with other keyword options (clock, proposal lifetime)."""
    return Settler(settler._store, settler._manifests, settler._splitter, settler._sender,
                   key_scope=settler._scope, drive_sender=True, **options)


def _typed_hash(typed: dict[str, Any]) -> bytes:
    from eth_utils.crypto import keccak

    message = encode_typed_data(full_message=typed)
    return keccak(b"\x19" + message.version + message.header + message.body)


async def _bad_signatures_are_refused(world: World, proposal: dict[str, Any]) -> None:
    buyer = address_of(BUYER)
    path = f"/v1/buyers/{buyer}/cosign"
    base = {"usageRoot": proposal["usageRoot"], "token": proposal["token"]}
    good = bytes.fromhex(_sign(proposal["typedData"], BUYER)[2:])
    r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    high_s = r + (2 * _HALF_N + 1 - s).to_bytes(32, "big") + bytes([55 - v])
    dearer = json.loads(json.dumps(proposal["typedData"]))
    dearer["message"]["total"] = str(int(dearer["message"]["total"]) + 1)
    cases = {
        "wrong signer": _sign(proposal["typedData"], STRANGER),
        "high s": "0x" + high_s.hex(),
        "changed total": _sign(dearer, BUYER),
    }
    for name, signature in cases.items():
        status, body = await call(world, "POST", path, {**base, "signature": signature})
        assert status == 422 and body["error"]["field"] == "signature", (name, body)
    status, _ = await call(world, "POST", path, {**base, "usageRoot": "0x" + "00" * 32,
                                                 "signature": "0x" + good.hex()})
    assert status == 404


async def test_unsigned_proposal_expires_and_signed_one_survives_a_crash(
    setup: Setup,  # noqa: F811 (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settler level (fake clock): an unsigned proposal past its deadline is proposed again
    and nothing is charged; a settlement recorded from a signature just before a crash is
    sent co-signed by the restarted settler."""
    chain, store = setup.chain, UsageStore(setup.engine)
    buyer = address_of(CRASH_BUYER)
    await chain.send(CRASH_BUYER, chain.splitter.address,
                     chain.splitter.set_cosigning_data("ETH", True))
    await rpc(setup.w3, "evm_increaseTime", await chain.splitter.notice_period() + 1)
    await rpc(setup.w3, "evm_mine")
    assert await chain.splitter.cosigning(buyer, "ETH")
    now = [float((await setup.w3.eth.get_block("latest"))["timestamp"])]

    def settler() -> Settler:
        return replace_settler(_settler(setup), clock=lambda: now[0], proposal_ttl_s=60)

    first = settler()
    await first.step()
    (old,) = await store.proposals(buyer=buyer)
    assert old.status is ProposalStatus.OPEN and old.total == setup.expected
    now[0] += 61
    await first.step()
    expired, fresh = await store.proposals(buyer=buyer)
    assert expired.status is ProposalStatus.EXPIRED and fresh.status is ProposalStatus.OPEN
    assert fresh.deadline > old.deadline and fresh.usage_root == old.usage_root
    assert await store.settlements() == []
    assert sum(h.units for h in await store.holds(buyer=buyer)) == fresh.units
    assert (await chain.splitter.account(buyer, "ETH")).spent == 0

    typed = chain.splitter.settlement_typed_data(
        await setup.w3.eth.chain_id, buyer, fresh.token, fresh.usage_root,
        [UsageItem(i.asset_key, i.version, i.units) for i in fresh.items], fresh.total,
        fresh.deadline)
    signature = bytes(Account.sign_message(encode_typed_data(full_message=typed),
                                           CRASH_BUYER).signature)
    assert await store.sign_proposal(fresh.id, signature)
    assert not await store.sign_proposal(fresh.id, signature)
    crashing = settler()

    async def crash(*_: Any) -> None:
        raise Crash
    monkeypatch.setattr(crashing, "_submit", crash)
    with pytest.raises(Crash):
        await crashing.step()
    monkeypatch.undo()
    (settlement,) = await store.settlements()
    assert settlement.status is SettlementStatus.PREPARED

    restarted = settler()
    for _ in range(200):
        await restarted.step()
        if await store.settlements([SettlementStatus.CONFIRMED]):
            break
        await asyncio.sleep(0.02)
    assert (await chain.splitter.account(buyer, "ETH")).spent == setup.expected
    assert await chain.splitter.is_settled(fresh.usage_root, buyer, ETH_TOKEN)
    assert await store.holds(buyer=buyer) == []
