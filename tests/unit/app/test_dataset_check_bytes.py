"""The dataset check's answers byte for byte on a bench-shaped request (issue 17): the
digests below were taken from the implementation before the lookups and answers were
made faster, so any change to an answer's bytes (and so to answer digests, the answers
root, snapshots) fails here: on the SQLite fast path, through the engine, on PostgreSQL."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app.dataset_check import DatasetChecks
from ledger.core.canonical import canonicalize
from ledger.core.hashing import sha256
from ledger.core.licence_status import DEFAULT_NOTICE_MS
from ledger.core.receipt import ReceiptSigner
from ledger.core.records import NewManifest, StatementRecord
from ledger.core.signing import P256SigningKey
from ledger.core.statements import Statement, sign_statement
from ledger.storage.assets import AssetStore
from ledger.storage.dataset_checks import DatasetCheckStore
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.models import BatchRow, ManifestRow
from ledger.storage.schema import upgrade
from ledger.storage.statements import StatementStore
from tests.fakes.world import migrated_sqlite
from tests.pg import ThrowawayPostgres

KEY = P256SigningKey.from_secret(0x64617461_33)
SERVICE = ReceiptSigner(P256SigningKey.from_secret(0x64617461_34))
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
T = 1_800_000_000_000
DAY = 86_400_000
MANIFESTS, PER_MANIFEST = 12, 100
PRICE = {"type": "per-unit", "rate": 1, "currency": "ETH", "unit": "sample", "amount": "10"}

# sha256 of the answers as the service sends them, and the snapshot's answers root, at
# each time asked: a notice running, then revocations in force and grants ended.
EXPECTED = {
    T + 10 * DAY: ("2ab56dd7ff9973a175357eb60baf3fbeefd33b53440b6a034b7d2d7aadd9df7c",
                   "0xfc1bfe1c24a65ef40b733ac52bbb670dafe63bd0a5daeb18a11fe3a2a092ea74"),
    T + 100 * DAY: ("4f47e2184727a01e2ef98982a5a4d93064ed18905e589d8eb9a63f3e8d201ddf",
                    "0x2a5b5d53453ba96847c49e87bcdbb0e95d312170ced2af07093821281272e999"),
}


def _entry(i: int) -> dict[str, Any]:
    """Asset i: the last 200 share their bytes with the first 200 (registered twice),
    and some entries are spelled by orjson otherwise than RFC 8785."""
    entry: dict[str, Any] = {"id": f"asset:{i}", "type": "image/jpeg",
                             "hash": "sha256:" + sha256(b"asset %d" % (i % 1000)).hex(),
                             "licenses": ["training"], "priceModel": PRICE}
    if i % 11 == 3:
        entry["priceModel"] = {**PRICE, "rate": 1e21}
    elif i % 13 == 5:
        entry["licenses"] = [{"id": "x", "\U0001f600": 1, "\ufb01": 2}]
    elif i % 17 == 7:
        del entry["priceModel"]
    return entry


def _statement(n: int, manifest: bytes, asset: str | None) -> Statement:
    at = T + n * 60_000
    members: dict[str, Any] = [
        {"type": "revoke", "effectiveAt": at + DEFAULT_NOTICE_MS},
        {"type": "grant-exclusive", "buyer": "0x" + "ab" * 20, "licences": ["training"],
         "start": at, "end": at + 20 * DAY, "irrevocable": False},
        {"type": "amend", "effectiveAt": at,
         "terms": {"priceModel": {**PRICE, "amount": str(20 + n)}}},
        {"type": "withdraw-consent"},
        {"type": "takedown", "grounds": "mine", "claimant": "someone"},
    ][n % 5]
    target: dict[str, Any] = {"manifestDigest": "0x" + manifest.hex()}
    if asset is not None:
        target["assetIds"] = [asset]
    return Statement.from_obj(sign_statement(
        {**members, "deployment": DEPLOYMENT, "issuedAt": at, "target": target}, KEY))


async def _stored(engine: AsyncEngine) -> list[bytes]:
    """12 manifests of 100 assets by two creators, two anchored batches and one not yet
    anchored, 160 statements of every kind (a few about whole manifests); the hashes
    asked."""
    digests = []
    for m in range(MANIFESTS):
        body = canonicalize({"assets": [_entry(m * PER_MANIFEST + k)
                                        for k in range(PER_MANIFEST)],
                             "creator": {"id": f"creator:{m % 2}"}, "manifestVersion": "1.0"})
        digests.append(sha256(body))
        await ManifestStore(engine).add([NewManifest(digests[-1], f"creator:{m % 2}",
                                                     KEY.public_id, body, T + m)])
    async with engine.begin() as conn:
        for number, tx in ((1, bytes([1]) * 32), (2, bytes([2]) * 32), (3, None)):
            await conn.execute(insert(BatchRow).values(
                number=number, root=bytes([number]) * 32, leaf_count=4, sealed_at=T,
                status="sealed" if tx is None else "confirmed", tx_hash=tx,
                block_number=None if tx is None else 100 - number,
                block_timestamp=None if tx is None else T))
        for m, digest in enumerate(digests):
            await conn.execute(update(ManifestRow).where(ManifestRow.digest == digest)
                               .values(batch_number=(1, 2, 3, None)[m % 4]))
    statements = StatementStore(engine)
    for n in range(160):
        i = (n * 37) % (MANIFESTS * PER_MANIFEST)
        digest = digests[i // PER_MANIFEST]
        statement = _statement(n, digest, None if n % 40 == 4 else f"asset:{i}")
        await statements.add(StatementRecord(statement.digest(), digest, statement.type,
                                             canonicalize(statement.obj), T + n, None, None,
                                             "pending"))
    rng = random.Random(13)
    asked = [sha256(b"asset %d" % rng.randrange(1000)) if n % 3 else sha256(b"none %d" % n)
             for n in range(3000)]
    return asked


@pytest.mark.parametrize("where", ["sqlite-fast-path", "sqlite-engine", "postgresql"])
async def test_answers_keep_their_bytes(request: pytest.FixtureRequest, tmp_path: Path,
                                        where: str) -> None:
    if where == "postgresql":
        postgres: ThrowawayPostgres = request.getfixturevalue("postgres")
        engine = open_engine(postgres.new_database())
        await upgrade(engine)
    else:
        engine = await migrated_sqlite(tmp_path / "ledger.db")
    asked = await _stored(engine)
    assets, statements = AssetStore(engine), StatementStore(engine)
    if where == "sqlite-engine":
        assets._fast = statements._fast = None  # the engine's path, as on PostgreSQL
    checks = DatasetChecks(DatasetCheckStore(engine), assets, statements, SERVICE,
                           deployment=DEPLOYMENT, leaf_bundle=_no_bundle)
    try:
        for at, (answers_sha, root) in EXPECTED.items():
            answer = await checks.check({"hashes": [h.hex() for h in asked], "at": at})
            answer.snapshot.check_answers(answer.answers)
            sent = answer.to_json()
            assert (sha256(sent[sent.index(b'"answers":'):]).hex(),
                    orjson.loads(sent)["snapshot"]["answersRoot"]) == (answers_sha, root)
    finally:
        await engine.dispose()


async def _no_bundle(digest: bytes, number: int | None, index: int | None) -> None:
    return None


@pytest.mark.parametrize("terms", [
    {"priceModel": {**PRICE, "rate": 1e21}}, {"priceModel": {**PRICE, "rate": 0.5}},
    {"priceModel": {**PRICE, "rate": 2**53}}, {"priceModel": {**PRICE, "rate": 2**53 - 1}},
    {"priceModel": {**PRICE, "amount": "20"}},
])
async def test_amended_terms_are_written_canonically(tmp_path: Path, terms: Any) -> None:
    # Terms orjson may spell otherwise than RFC 8785 (floats, integers from 2^53) go
    # through the canonical encoder; the others are written by orjson alike.
    engine = await migrated_sqlite(tmp_path / "ledger.db")
    entry = {**_entry(0), "hash": "sha256:" + "ab" * 32}
    body = canonicalize({"assets": [entry], "creator": {"id": "creator:0"},
                         "manifestVersion": "1.0"})
    digest = sha256(body)
    await ManifestStore(engine).add([NewManifest(digest, "creator:0", KEY.public_id, body, T)])
    statements = StatementStore(engine)
    amend = Statement.from_obj(sign_statement(
        {"type": "amend", "effectiveAt": T, "terms": terms, "deployment": DEPLOYMENT,
         "issuedAt": T, "target": {"manifestDigest": "0x" + digest.hex(),
                                   "assetIds": ["asset:0"]}}, KEY))
    await statements.add(StatementRecord(amend.digest(), digest, amend.type,
                                         canonicalize(amend.obj), T, None, None, "pending"))
    checks = DatasetChecks(DatasetCheckStore(engine), AssetStore(engine), statements,
                           SERVICE, deployment=DEPLOYMENT, leaf_bundle=_no_bundle)
    try:
        answer = await checks.check({"hashes": ["ab" * 32], "at": T + 1})
        assert "amendedTerms" in answer.answers[0]["registrations"][0]
        answer.snapshot.check_answers(answer.answers)  # digests of the canonical bytes
    finally:
        await engine.dispose()
