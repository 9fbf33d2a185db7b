"""Announcing events: facts final in the database are announced once each, in order,
from where notifications started; ids name facts; bad filters and URLs are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app.events import Announcer, FactAnnouncer
from ledger.app.webhooks import MAX_OWN, Webhooks, check_url
from ledger.app.withdrawals import Withdrawing
from ledger.core.events import Filters, Principal, make_event
from ledger.core.hashing import checksum_address
from ledger.errors import Conflict, Forbidden, ValidationError
from ledger.storage import schema
from ledger.storage.engine import open_engine
from ledger.storage.event_sources import EventSources
from ledger.storage.events import EventStore
from ledger.storage.models import (
    BatchRow,
    ManifestRow,
    UsageEventRow,
    UsageSettlementItemRow,
    UsageSettlementRow,
)
from ledger.storage.request_nonces import RequestNonces

BUYER = "0x" + "ab" * 20


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await schema.upgrade(made)
    yield made
    await made.dispose()


async def add_batch(engine: AsyncEngine, number: int, creators: list[str], *,
                    confirmed: bool = True) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(BatchRow).values(
            number=number, root=bytes([number]) * 32, leaf_count=len(creators), sealed_at=1,
            status="confirmed" if confirmed else "submitted", tx_hash=b"\x01" * 32,
            block_number=10 + number, block_timestamp=1_000 + number))
        for i, creator in enumerate(creators):
            await conn.execute(insert(ManifestRow).values(
                digest=bytes([number, i]) * 16, creator_id=creator, signing_key="p256:k",
                body=b"{}", accepted_at=1, batch_number=number, leaf_index=i))


async def confirm(engine: AsyncEngine, number: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(BatchRow.__table__.update().where(BatchRow.number == number)
                           .values(status="confirmed"))


async def add_settlement(engine: AsyncEngine, sid: int, status: str,
                         items: list[tuple[str, int]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(UsageSettlementRow).values(
            id=sid, batch_number=1, buyer=BUYER, token="ETH", part=sid, usage_root=b"\x02" * 32,
            units=len(items), total=str(sum(a for _, a in items)), status=status,
            tx_key=f"k{sid}", tx_hash=b"\x03" * 32, created_at=1))
        for creator, amount in items:
            await conn.execute(insert(UsageSettlementItemRow).values(
                settlement_id=sid, asset_key=b"\x04" * 32, version=1, creator_id=creator,
                asset_id="asset:a", manifest_digest=b"\x05" * 32, units=1, price="1",
                amount=str(amount)))


async def feed(store: EventStore) -> list[dict[str, Any]]:
    return (await Announcer(store).feed(None, "1000", Filters()))["events"]


async def test_anchored_manifests_are_announced_once_in_batch_order(engine: AsyncEngine) -> None:
    store = EventStore(engine)
    facts = FactAnnouncer(store, EventSources(engine), chain_id=31337)
    assert await facts.step() == 0  # the first run: nothing final yet
    await add_batch(engine, 1, ["creator:a", "creator:b"])
    await add_batch(engine, 2, ["creator:a"], confirmed=False)
    await add_batch(engine, 3, ["creator:c"])
    assert await facts.step() == 2
    assert await facts.step() == 0
    await confirm(engine, 2)
    assert await facts.step() == 2  # batch 2, then the 3 that waited behind it
    events = await feed(store)
    assert [(e["data"]["batch"], e["data"]["creatorId"]) for e in events] == [
        (1, "creator:a"), (1, "creator:b"), (2, "creator:a"), (3, "creator:c")]
    first = events[0]["data"]
    assert first["manifestDigest"] == "0x" + (bytes([1, 0]) * 16).hex()
    assert first["root"] == "0x" + "01" * 32 and first["blockNumber"] == 11


async def test_facts_final_before_notifications_existed_are_not_announced(
        engine: AsyncEngine) -> None:
    await add_batch(engine, 1, ["creator:a"])
    await add_settlement(engine, 1, "final", [("creator:a", 5)])
    store = EventStore(engine)
    facts = FactAnnouncer(store, EventSources(engine), chain_id=31337)
    assert await facts.step() == 0
    await add_batch(engine, 2, ["creator:b"])
    assert await facts.step() == 1
    assert [e["data"]["creatorId"] for e in await feed(store)] == ["creator:b"]


async def test_paid_settlements_are_announced_per_creator_in_order(engine: AsyncEngine) -> None:
    await add_batch(engine, 1, [])
    store = EventStore(engine)
    facts = FactAnnouncer(store, EventSources(engine), chain_id=31337)
    await facts.step()
    await add_settlement(engine, 1, "confirmed", [("creator:a", 5), ("creator:b", 7),
                                                  ("creator:a", 3)])
    await add_settlement(engine, 2, "prepared", [("creator:a", 1)])
    await add_settlement(engine, 3, "failed", [("creator:c", 1)])
    await add_settlement(engine, 4, "final", [("creator:c", 2)])
    assert await facts.step() == 2
    async with engine.begin() as conn:
        await conn.execute(UsageSettlementRow.__table__.update()
                           .where(UsageSettlementRow.id == 2).values(status="final"))
    assert await facts.step() == 2  # 2, then 4; 3 failed and paid nothing
    shares = [(e["data"]["settlementId"], e["data"]["creatorId"], e["data"]["amount"])
              for e in await feed(store)]
    assert shares == [(1, "creator:a", "8"), (1, "creator:b", "7"), (2, "creator:a", "1"),
                      (4, "creator:c", "2")]
    assert all(e["type"] == "settlement.paid" for e in await feed(store))


async def test_a_withdrawal_request_is_announced_once(engine: AsyncEngine) -> None:
    store = EventStore(engine)
    facts = FactAnnouncer(store, EventSources(engine), chain_id=31337)
    request = Withdrawing(BUYER.upper().replace("0X", "0x"), "ETH", 10, 100, 200)
    await facts.deposit_leaving(request)
    await facts.deposit_leaving(request)
    events = await feed(store)
    assert [e["type"] for e in events] == ["deposit.leaving"]
    buyers = await Announcer(store).feed(None, None, Filters.parse(None, buyer=BUYER))
    assert len(buyers["events"]) == 1


def test_an_event_id_names_its_fact_not_its_time() -> None:
    one = make_event("usage.refused", {"a": 1}, 1_000)
    later = make_event("usage.refused", {"a": 1}, 2_000)
    other = make_event("settlement.paid", {"a": 1}, 1_000)
    assert one.id == later.id != other.id and one.body != later.body
    assert "." not in one.id  # Standard Webhooks: ids must not contain a full stop
    with pytest.raises(ValidationError) as caught:
        make_event("manifest.eaten", {}, 1)
    assert caught.value.field == "type"


@pytest.mark.parametrize(("args", "field"), [
    ((["status.changed", "nope"],), "types"),
    (("status.changed",), "types"),
    (([],), "types"),
    ((None, 7), "creatorId"),
    ((None, None, "0x" + "zz" * 20), "buyer"),
    ((None, None, None, "ab" * 32), "manifestDigest"),
])
def test_bad_filters_are_refused_naming_the_field(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Filters.parse(*args)
    assert caught.value.field == field


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://localhost:8080/x", "https://10.1.2.3/x",
    "http://[::1]/x", "http://169.254.169.254/latest/meta-data", "https://printer.local/x",
    "http://localhost./x", "http://[::ffff:127.0.0.1]/x", "http://[2002:7f00:1::1]/x",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data", "http://[ff02::1]/x",
])
def test_public_only_refuses_loopback_private_and_link_local_hosts(url: str) -> None:
    with pytest.raises(ValidationError):
        check_url(url, "public")
    assert check_url(url, "any") == url


def test_public_hosts_pass() -> None:
    assert check_url("https://hooks.example.com/ledger", "public")


async def test_a_buyer_reads_its_events_and_status_changes_of_manifests_it_used(
        engine: AsyncEngine) -> None:
    used, unused = b"\x01" * 32, b"\x02" * 32
    other = "0x" + "cd" * 20
    async with engine.begin() as conn:
        await conn.execute(insert(UsageEventRow).values(
            event_id="e1", digest=b"\x03" * 32, body=b"{}", source="src",
            buyer=checksum_address(BUYER), creator_id="creator:ana", manifest_digest=used,
            asset_id="asset:a", asset_key=b"\x04" * 32, token="ETH", units=1, event_time=1,
            accepted_at=1))
    announcer = Announcer(EventStore(engine))
    leaving = {"token": "ETH", "amount": "1", "withdrawableAt": 1, "lapsesAt": 2}
    mine = await announcer.announce(None, "deposit.leaving", {"buyer": BUYER, **leaving})
    await announcer.announce(None, "deposit.leaving", {"buyer": other, **leaving})
    status = {"creatorId": "creator:ana", "state": "revoked"}
    seen = await announcer.announce(None, "status.changed",
                                    {"manifestDigest": "0x" + used.hex(), **status})
    await announcer.announce(None, "status.changed",
                             {"manifestDigest": "0x" + unused.hex(), **status})

    async def ids(principal: Principal | None, filters: Filters | None = None) -> list[str]:
        feed = await announcer.feed(None, None, filters or Filters(), principal)
        return [e["id"] for e in feed["events"]]

    assert await ids(Principal(buyer=BUYER)) == [mine, seen]
    # The operator's buyer filter is the events naming the buyer, nothing more.
    assert await ids(None, Filters.parse(None, buyer=BUYER)) == [mine]
    assert len(await ids(Principal(creator_id="creator:ana"))) == 2
    with pytest.raises(Forbidden) as refused:
        await ids(Principal(buyer=BUYER), Filters.parse(None, buyer=other))
    assert refused.value.field == "buyer"


async def test_a_nonce_is_claimed_once_per_key_until_it_expires(engine: AsyncEngine) -> None:
    nonces = RequestNonces(engine)
    assert await nonces.claim("eth:0xa", "n" * 16, expires_at=100, now=0)
    assert not await nonces.claim("eth:0xa", "n" * 16, expires_at=100, now=50)
    assert await nonces.claim("eth:0xb", "n" * 16, expires_at=100, now=50)
    assert await nonces.claim("eth:0xa", "n" * 16, expires_at=300, now=200)


async def test_a_released_nonce_may_be_claimed_again_and_only_that_one(
        engine: AsyncEngine) -> None:
    nonces = RequestNonces(engine)
    for key in ("eth:0xa", "eth:0xb"):
        assert await nonces.claim(key, "n" * 16, expires_at=100, now=0)
    await nonces.release("eth:0xa", "n" * 16)
    assert await nonces.claim("eth:0xa", "n" * 16, expires_at=100, now=0)
    assert not await nonces.claim("eth:0xb", "n" * 16, expires_at=100, now=0)


async def test_a_signer_holds_a_bounded_number_of_subscriptions(engine: AsyncEngine) -> None:
    webhooks = Webhooks(EventStore(engine), urls="any")
    buyer = Principal(buyer=BUYER)
    for n in range(MAX_OWN):
        await webhooks.subscribe({"url": f"http://127.0.0.1/{n}"}, buyer)
    with pytest.raises(Conflict) as refused:
        await webhooks.subscribe({"url": "http://127.0.0.1/more"}, buyer)
    assert refused.value.field == "url"
    await webhooks.subscribe({"url": "http://127.0.0.1/c"}, Principal(creator_id="creator:a"))
    assert len((await webhooks.list(buyer))["webhooks"]) == MAX_OWN
    assert len((await webhooks.list())["webhooks"]) == MAX_OWN + 1
