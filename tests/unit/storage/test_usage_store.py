"""UsageStore on a real SQLite database: idempotent intake, shared batch numbers,
settlements that claim events once, part numbers given back on failure, holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.core.hashing import sha256
from ledger.core.merkle import MerkleTree, join_levels
from ledger.core.records import AnchorInfo, BatchStatus, NewManifest
from ledger.core.royalty.events import NewUsage
from ledger.core.royalty.settlement import (
    Hold,
    SettlementDraft,
    SettlementItem,
    SettlementStatus,
    usage_root_of,
)
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.schema import upgrade
from ledger.storage.usage import UsageStore

BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
KEY_A, KEY_B = b"\xaa" * 32, b"\xbb" * 32


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await upgrade(engine)
    yield engine
    await engine.dispose()


def _event(n: int, *, key: bytes = KEY_A, units: int = 10, body: bytes = b"") -> NewUsage:
    body = body or f"event-{n}".encode()
    return NewUsage(
        event_id=f"e:{n}", digest=sha256(body), body=body, source="edge-1", buyer=BUYER,
        creator_id="creator:a", manifest_digest=bytes(32), asset_id="asset:a", asset_key=key,
        token="0x" + "00" * 20, units=units, event_time=0, accepted_at=1_000 + n,
    )


@pytest.mark.parametrize("fast", [True, False])
async def test_add_is_idempotent_by_event_id(engine: AsyncEngine, fast: bool) -> None:
    store = UsageStore(engine)
    add = store.add if fast else store._add_returning
    first = await add([_event(1), _event(2), _event(1)])
    assert [created for _, created in first] == [True, True, False]
    again = await add([_event(2), _event(3), _event(1, body=b"other")])
    assert [created for _, created in again] == [False, True, False]
    # A reused id answers with the stored digest, which tells the caller it conflicts.
    assert again[2][0] == _event(1).digest
    assert (await store.pending_stats())[0] == 3


def _draft(number: int, root: bytes, part: int, item: SettlementItem, events: int
           ) -> SettlementDraft:
    return SettlementDraft(number, root, BUYER, "0x" + "00" * 20, part, (item,), events)


async def _anchor(engine: AsyncEngine, store: UsageStore, count: int) -> tuple[int, bytes]:
    pending = await store.pending(count)
    tree = MerkleTree([d for _, d in pending])
    batch = await store.seal([s for s, _ in pending], tree.root, join_levels(tree), 5)
    assert batch is not None
    anchor = AnchorInfo(bytes(32), 1, bytes(32), 1, 50_000)
    await ManifestStore(engine).mark_anchored(batch.number, anchor, confirmed_at=6)
    return batch.number, tree.root


async def test_usage_and_manifest_batches_share_one_sequence(engine: AsyncEngine) -> None:
    store, manifests = UsageStore(engine), ManifestStore(engine)
    await store.add([_event(1)])
    number, _ = await _anchor(engine, store, 10)
    await manifests.add([NewManifest(b"\x01" * 32, "creator:a", "k", b"{}", 1)])
    pending = await manifests.pending(10)
    batch = await manifests.seal([s for s, _ in pending], b"\x02" * 32, b"\x02" * 32, 7)
    assert batch is not None and batch.number == number + 1
    assert await store.is_usage_batch(number) and not await store.is_usage_batch(batch.number)
    assert (await manifests.batch(number)).status is BatchStatus.CONFIRMED  # type: ignore[union-attr]


async def test_settlement_claims_once_and_gives_its_part_back(engine: AsyncEngine) -> None:
    store = UsageStore(engine)
    await store.add([_event(1), _event(2, key=KEY_B, units=5), _event(3)])
    number, root = await _anchor(engine, store, 10)
    groups = {g.asset_key: g for g in await store.unsettled_groups()}
    assert (groups[KEY_A].units, groups[KEY_A].events, groups[KEY_B].units) == (20, 2, 5)

    item = SettlementItem(KEY_A, 1, "creator:a", "asset:a", bytes(32), 20, 7)
    part = await store.next_part(number, BUYER, "0x" + "00" * 20)
    assert part == 0
    settlement = await store.create_settlement(
        _draft(number, root, part, item, 2), key_prefix="settle:x:", now=1)
    assert settlement is not None and settlement.usage_root == root
    assert settlement.total == 140 and settlement.tx_key == f"settle:x:{settlement.id}"
    # The same events cannot be claimed twice, nor the same part used again.
    assert await store.create_settlement(
        _draft(number, root, 1, item, 2), key_prefix="s:", now=1) is None
    assert await store.create_settlement(
        _draft(number, root, 0, item, 0), key_prefix="s:", now=1) is None
    assert [g.asset_key for g in await store.unsettled_groups()] == [KEY_B]
    assert await store.next_part(number, BUYER, "0x" + "00" * 20) == 1

    await store.fail_settlement(settlement.id)
    assert {g.asset_key for g in await store.unsettled_groups()} == {KEY_A, KEY_B}
    # The failed settlement's part (and so its usage root) is used again.
    assert await store.next_part(number, BUYER, "0x" + "00" * 20) == 0
    again = await store.create_settlement(
        _draft(number, root, 0, item, 2), key_prefix="s:", now=2)
    assert again is not None and again.usage_root == usage_root_of(root, 0)
    await store.mark_settlement(again.id, SettlementStatus.CONFIRMED, tx_hash=b"\x01" * 32)
    record = await store.get("edge-1", "e:1")
    assert record is not None and record.status == "settled"


async def test_holds_are_shown_and_cleared_by_settlement(engine: AsyncEngine) -> None:
    store = UsageStore(engine)
    await store.add([_event(1)])
    number, root = await _anchor(engine, store, 10)
    hold = Hold(number, BUYER, KEY_A, "0x" + "00" * 20, "creator:a", "deposit too small", 10, 3)
    await store.set_holds(number, BUYER, [hold])
    await store.set_holds(number, BUYER, [Hold(**{**hold.__dict__, "reason": "cap reached"})])
    assert [h.reason for h in await store.holds(buyer=BUYER)] == ["cap reached"]
    record = await store.get("edge-1", "e:1")
    assert record is not None and (record.status, record.hold_reason) == ("held", "cap reached")
    totals = await store.usage_totals(creator_id="creator:a")
    assert [(t.state, t.units) for t in totals] == [("unsettled", 10)]
    item = SettlementItem(KEY_A, 1, "creator:a", "asset:a", bytes(32), 10, 1)
    await store.create_settlement(_draft(number, root, 0, item, 1), key_prefix="s:", now=4)
    assert await store.holds(buyer=BUYER) == []
    totals = await store.usage_totals(buyer=BUYER)
    assert [(t.state, t.units) for t in totals] == [("settling", 10)]
