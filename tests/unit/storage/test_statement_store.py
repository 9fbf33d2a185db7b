"""The statement store on a real SQLite file and a real PostgreSQL database: the bodies
of the statements about given assets, found through what each statement names, also
for statements stored before that index existed (migration 0011)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.core.canonical import canonicalize
from ledger.core.records import PENDING, StatementRecord
from ledger.errors import ValidationError
from ledger.storage.models import StatementTargetRow
from ledger.storage.schema import downgrade, upgrade
from ledger.storage.statements import StatementStore

A, B = bytes([0xA]) * 32, bytes([0xB]) * 32


def _record(n: int, manifest: bytes, asset_ids: list[str] | None) -> StatementRecord:
    target: dict[str, Any] = {"manifestDigest": "0x" + manifest.hex()}
    if asset_ids is not None:
        target["assetIds"] = asset_ids
    return StatementRecord(digest=bytes([n]) * 32, manifest_digest=manifest, type="revoke",
                           body=canonicalize({"n": n, "target": target}), accepted_at=n,
                           batch_number=None, leaf_index=None, status=PENDING)


async def _store_some(store: StatementStore) -> list[bytes]:
    records = [_record(1, A, ["asset:1", "asset:2"]), _record(2, A, None),
               _record(3, A, ["asset:3"]), _record(4, B, ["asset:1"]),
               _record(5, A, ["asset:2"])]
    for record in records:
        assert await store.add(record)
    return [r.body for r in records]


async def test_the_statements_about_assets_are_those_naming_them_or_their_manifest(
        engine: AsyncEngine) -> None:
    store = StatementStore(engine)
    bodies = await _store_some(store)
    found = await store.bodies_about([(A, "asset:2"), (A, "asset:1"), (B, "asset:9")])
    # Each once, in acceptance order; asset:3's and B's asset:1's are not read.
    assert found == {A: [bodies[0], bodies[1], bodies[4]]}
    assert await store.bodies_about([(B, "asset:1")]) == {B: [bodies[3]]}
    assert await store.bodies_about([]) == {}


async def test_many_assets_are_asked_in_several_queries(engine: AsyncEngine,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr("ledger.storage.statements._PAIRS_PER_SELECT", 2)
    store = StatementStore(engine)
    bodies = await _store_some(store)
    # Nine pairs with both manifests': the last query is padded.
    asked = [(A, f"asset:{i}") for i in range(1, 6)] + [(B, "asset:1"), (B, "asset:7")]
    assert await store.bodies_about(asked) == {A: [bodies[0], bodies[1], bodies[2],
                                                   bodies[4]], B: [bodies[3]]}


async def test_statements_stored_before_the_index_are_found_after_upgrading(
        engine: AsyncEngine) -> None:
    store = StatementStore(engine)
    bodies = await _store_some(store)
    await downgrade(engine, "0010")
    await upgrade(engine)
    assert await store.bodies_about([(A, "asset:3")]) == {A: [bodies[1], bodies[2]]}


async def test_a_refused_statement_leaves_no_target(engine: AsyncEngine) -> None:
    store = StatementStore(engine)

    async def refuse(bodies: list[bytes]) -> None:
        raise ValidationError("contradicts", field="statement")

    with pytest.raises(ValidationError):
        await store.add(_record(1, A, ["asset:1"]), admit=refuse)
    assert await store.bodies_about([(A, "asset:1")]) == {}
    async with engine.begin() as conn:
        assert (await conn.execute(delete(StatementTargetRow))).rowcount == 0
