"""The dataset check on SQLite (ledger/app/dataset_check.py): every hash answered from
the stored registrations and the statements alone, unknown files said to be unknown,
the answers' bytes exactly their canonical JSON whatever the entries hold (the
snapshot the verifier recomputes), the snapshot signed and stored for anchoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.app.dataset_check import DatasetChecks
from ledger.core.canonical import canonicalize
from ledger.core.hashing import sha256
from ledger.core.receipt import ReceiptSigner
from ledger.core.records import NewManifest, StatementRecord
from ledger.core.signing import P256SigningKey
from ledger.core.statements import Statement, sign_statement
from ledger.errors import NotFound, ValidationError
from ledger.storage.assets import AssetStore
from ledger.storage.dataset_checks import DatasetCheckStore
from ledger.storage.manifests import ManifestStore
from ledger.storage.statements import StatementStore
from tests.fakes.world import migrated_sqlite

KEY = P256SigningKey.from_secret(0x64617461_31)
SERVICE = ReceiptSigner(P256SigningKey.from_secret(0x64617461_32))
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
T = 1_800_000_000_000
PRICE = {"type": "per-unit", "rate": 1, "currency": "ETH", "unit": "sample", "amount": "10"}
# Entries orjson spells otherwise than RFC 8785: a float written "1e+21", keys beyond
# the BMP sorted by UTF-16, an escaped control character.
ASSETS = [
    {"licenses": ["training"], "priceModel": PRICE},
    {"licenses": ["training"], "priceModel": {**PRICE, "rate": 1e21}},
    {"licenses": [{"id": "x", "\U0001f600": 1, "\ufb01": 2}]},
    {"licenses": ["tab\there\u001f"]},
]


async def _stored(tmp_path: Path) -> tuple[Any, bytes, list[bytes]]:
    engine = await migrated_sqlite(tmp_path / "ledger.db")
    entries = [{"id": f"asset:a-{i}", "type": "image/png", "hash": "sha256:" + f"{i + 1:064x}",
                **asset} for i, asset in enumerate(ASSETS)]
    body = canonicalize({"assets": entries, "creator": {"id": "creator:a"},
                         "manifestVersion": "1.0"})
    digest = sha256(body)
    await ManifestStore(engine).add([NewManifest(digest, "creator:a", KEY.public_id, body, 1)])
    return engine, digest, [bytes.fromhex(e["hash"][7:]) for e in entries]


def _statement(digest: bytes, kind: str, asset: int | None, at: int, **members: Any
               ) -> Statement:
    target: dict[str, Any] = {"manifestDigest": "0x" + digest.hex()}
    if asset is not None:
        target["assetIds"] = [f"asset:a-{asset}"]
    obj = {"type": kind, "deployment": DEPLOYMENT, "issuedAt": at, "target": target,
           **members}
    return Statement.from_obj(sign_statement(obj, KEY))


async def test_every_hash_is_answered_and_the_snapshot_commits_to_the_answers(
        tmp_path: Path) -> None:
    engine, digest, hashes = await _stored(tmp_path)
    statements = StatementStore(engine)
    for statement in (_statement(digest, "withdraw-consent", 2, T),
                      _statement(digest, "amend", 1, T, effectiveAt=T,
                                 terms={"priceModel": {**PRICE, "amount": "20"}}),
                      _statement(digest, "takedown", None, T, grounds="g", claimant="c")):
        await statements.add(StatementRecord(
            statement.digest(), digest, statement.type, canonicalize(statement.obj), T,
            None, None, "pending"))
    checks = DatasetChecks(DatasetCheckStore(engine), AssetStore(engine), statements,
                           SERVICE, deployment=DEPLOYMENT, leaf_bundle=_no_bundle)
    unknown = sha256(b"unknown")
    asked = [*hashes, unknown, hashes[0]]
    try:
        answer = await checks.check({"hashes": ["sha256:" + h.hex() for h in asked],
                                     "at": T + 1})
        snapshot = answer.snapshot
        snapshot.verify(SERVICE.public_key)
        snapshot.check_answers(answer.answers)
        answers = answer.answers
        assert [a["registered"] for a in answers] == [True, True, True, True, False, True]
        assert answers[4] == {"sha256": unknown.hex(), "registered": False,
                              "registrations": []}
        # A takedown claim about the whole manifest disputes every asset; the withdrawal
        # targets one.
        states = [a["registrations"][0]["licenceStatus"]["state"] for a in answers[:4]]
        assert states == ["disputed", "disputed", "withdrawn", "disputed"]
        assert answers[1]["registrations"][0]["amendedTerms"]["priceModel"]["amount"] == "20"
        assert answers[0] == answers[5]
        assert (snapshot.count, snapshot.at) == (6, T + 1)
        stored, status, bundle = await checks.snapshot(snapshot.digest())
        assert stored == snapshot and status == "pending" and bundle is None
        with pytest.raises(NotFound):
            await checks.snapshot(bytes(32))
    finally:
        await engine.dispose()


@pytest.mark.parametrize("body, field", [
    ([], None), ({"hashes": "ab"}, "hashes"), ({"at": 1}, "hashes"),
    ({"hashes": ["0" * 63]}, "hashes[0]"), ({"hashes": ["0" * 64], "at": True}, "at"),
])
async def test_a_bad_request_names_its_field_and_stores_nothing(
        tmp_path: Path, body: Any, field: str | None) -> None:
    engine, _, _ = await _stored(tmp_path)
    store = DatasetCheckStore(engine)
    checks = DatasetChecks(store, AssetStore(engine), StatementStore(engine), SERVICE,
                           deployment=DEPLOYMENT, leaf_bundle=_no_bundle)
    try:
        with pytest.raises(ValidationError) as caught:
            await checks.check(body)
        assert caught.value.field == field
        assert await store.queue.pending_stats() == (0, None)
    finally:
        await engine.dispose()


async def _no_bundle(digest: bytes, number: int | None, index: int | None) -> None:
    return None
