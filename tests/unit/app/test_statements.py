"""The statements use case (ledger/app/statements.py) over a real SQLite database: every
intake check refuses with the member named and nothing stored; accepted statements
change the status; the status book sees statements stored by another replica."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.app import statements as statements_module
from ledger.app.intake import check_manifest
from ledger.app.statements import Statements
from ledger.app.status_book import StatusBook
from ledger.core.canonical import canonicalize
from ledger.core.creators import KEY
from ledger.core.licence_status import DEFAULT_NOTICE_MS, AssetRef, History
from ledger.core.proof import ProofBundle
from ledger.core.records import NewCreatorRecord, NewManifest, StatementRecord
from ledger.core.signing import P256SigningKey, sign_manifest
from ledger.core.statements import Statement, sign_statement
from ledger.errors import LedgerError, NotFound, SignatureError, ValidationError
from ledger.storage import schema
from ledger.storage.assets import AssetStore, insert_assets
from ledger.storage.creators import CreatorStore, Verification
from ledger.storage.engine import open_engine
from ledger.storage.manifests import ManifestStore
from ledger.storage.statements import StatementStore
from tests.pg import ThrowawayPostgres

CREATOR_KEY = P256SigningKey.from_secret(0x6C6966656379636C65_01)
OTHER_KEY = P256SigningKey.from_secret(0x6C6966656379636C65_02)
OPERATOR = P256SigningKey.from_secret(0x6C6966656379636C65_03)
CREATOR = "creator:lifecycle"
DEPLOYMENT = "eip155:31337:0x5fbdb2315678afecb367f032d93f642f64180aa3"
BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
T0 = 1_800_000_000_000
DAY = 24 * 3600 * 1000


async def _no_bundle(digest: bytes, batch: int | None, leaf: int | None) -> ProofBundle | None:
    return None


@dataclass
class World:
    """The use case over its stores, with a clock the test moves."""

    statements: Statements
    store: StatementStore
    assets: AssetStore
    engine: AsyncEngine
    manifests: ManifestStore
    creators: CreatorStore
    manifest: bytes
    clock: list[int]

    def signed(self, kind: str, key: P256SigningKey = CREATOR_KEY, *,
               assets: list[str] | None = None, at: int | None = None, **members: Any
               ) -> dict[str, Any]:
        target: dict[str, Any] = {"manifestDigest": "0x" + self.manifest.hex()}
        if assets is not None:
            target["assetIds"] = assets
        return sign_statement({"type": kind, "deployment": DEPLOYMENT,
                               "issuedAt": self.clock[0] if at is None else at,
                               "target": target, **members}, key)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in _world(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"):
        yield made


async def _world(url: str, manifest: bytes | None = None) -> AsyncIterator[World]:
    """The use case over a database at `url`, where it stores its schema, creator and
    manifest unless given the manifest (a second world over the same database is
    another process)."""
    engine = open_engine(url)
    if manifest is None:
        manifest = await _fill(engine)
    creators, manifests = CreatorStore(engine), ManifestStore(engine)
    store, assets = StatementStore(engine), AssetStore(engine)
    clock = [T0]
    statements = Statements(
        store, manifests, assets, creators, StatusBook(store, assets, refresh_s=0),
        deployment=DEPLOYMENT, operator_key=OPERATOR.public_id, leaf_bundle=_no_bundle,
        clock=lambda: clock[0])
    yield World(statements, store, assets, engine, manifests, creators, manifest, clock)
    manifests.close()
    await engine.dispose()


async def _fill(engine: AsyncEngine) -> bytes:
    await schema.upgrade(engine)
    creators = CreatorStore(engine)
    assert await creators.register(
        CREATOR, [CREATOR_KEY.public_id], OTHER_KEY.public_id,
        Verification(KEY, T0 - DAY, "key"), T0 - DAY,
        record=NewCreatorRecord("register", bytes(32), b"{}"))
    manifests = ManifestStore(engine)
    checked = check_manifest(sign_manifest({
        "manifestVersion": "1.0",
        "creator": {"id": CREATOR, "wallet": "0x" + "11" * 20},
        "assets": [{"id": f"asset:{name}", "type": "image/jpeg",
                    "hash": "sha256:" + f"{i + 1:064x}", "licenses": ["training"]}
                   for i, name in enumerate(("a", "b"))],
    }, CREATOR_KEY))
    await manifests.add([NewManifest(checked.digest, CREATOR, CREATOR_KEY.public_id,
                                     checked.body, T0 - DAY)])
    manifests.close()
    return checked.digest


async def status(world: World, asset: int | str, at: int) -> dict[str, Any]:
    return (await world.statements.asset_status(world.manifest, asset, at)).to_obj()


async def test_a_revocation_is_accepted_once_and_runs_its_notice(world: World) -> None:
    obj = world.signed("revoke", effectiveAt=T0 + DEFAULT_NOTICE_MS)
    record, created = await world.statements.accept(obj)
    assert created and record.type == "revoke" and record.status == "pending"
    again, created = await world.statements.accept(obj)
    assert not created and again.digest == record.digest
    before = await status(world, "asset:a", T0 + DEFAULT_NOTICE_MS - 1)
    assert before["state"] == "notice" and before["noticeUntil"] == T0 + DEFAULT_NOTICE_MS
    assert (await status(world, "asset:b", T0 + DEFAULT_NOTICE_MS))["state"] == "revoked"
    assert (await status(world, "asset:a", T0 - 1))["state"] == "licensable"


@pytest.mark.parametrize(("mutate", "error", "field"), [
    ("backdated-notice", ValidationError, "statement"),
    ("foreign-asset", ValidationError, "target.assetIds"),
    ("unknown-manifest", NotFound, "target.manifestDigest"),
    ("other-deployment", ValidationError, "deployment"),
    ("stale", ValidationError, "issuedAt"),
    ("not-the-creator", SignatureError, "signer"),
    ("operator-revokes", SignatureError, "signer"),
    ("forged-signature", SignatureError, "signature"),
    ("creator-decides", SignatureError, "signer"),
])
async def test_a_bad_statement_is_refused_naming_the_member_and_nothing_is_stored(
        world: World, mutate: str, error: type[LedgerError], field: str | None) -> None:
    effective = T0 + DEFAULT_NOTICE_MS
    obj = {
        "backdated-notice": lambda: world.signed("revoke", effectiveAt=effective - 1),
        "foreign-asset": lambda: world.signed("revoke", assets=["asset:zz"],
                                              effectiveAt=effective),
        "unknown-manifest": lambda: sign_statement(
            {**world.signed("revoke", effectiveAt=effective),
             "target": {"manifestDigest": "0x" + "ab" * 32}}, CREATOR_KEY),
        "other-deployment": lambda: sign_statement(
            {**world.signed("revoke", effectiveAt=effective),
             "deployment": "eip155:1:" + "0x" + "00" * 20}, CREATOR_KEY),
        "stale": lambda: world.signed("revoke", at=T0 - 10 * 60 * 1000 - 1,
                                      effectiveAt=effective),
        "not-the-creator": lambda: world.signed("revoke", OTHER_KEY, effectiveAt=effective),
        "operator-revokes": lambda: world.signed("revoke", OPERATOR, effectiveAt=effective),
        "forged-signature": lambda: {**world.signed("revoke", effectiveAt=effective),
                                     "issuedAt": T0 + 1},
        "creator-decides": lambda: world.signed("takedown-decision", case="0x" + "00" * 32,
                                                outcome="upheld"),
    }[mutate]()
    with pytest.raises(error) as raised:
        await world.statements.accept(obj)
    assert raised.value.field == field
    assert await world.store.about(world.manifest) == []


async def test_a_revocation_contradicting_an_irrevocable_grant_is_refused(
        world: World) -> None:
    await world.statements.accept(world.signed(
        "grant-exclusive", assets=["asset:a"], buyer=BUYER, licences=["training"],
        start=T0, end=T0 + 90 * DAY, irrevocable=True))
    world.clock[0] += 1000
    with pytest.raises(ValidationError, match="irrevocable exclusive grant"):
        await world.statements.accept(world.signed(
            "revoke", effectiveAt=T0 + 1000 + DEFAULT_NOTICE_MS))
    # Asset b is not under the grant: revoking it alone is fine.
    await world.statements.accept(world.signed("revoke", assets=["asset:b"],
                                               effectiveAt=T0 + 1000 + DEFAULT_NOTICE_MS))
    exclusive = await status(world, "asset:a", T0 + 1)
    assert exclusive["state"] == "exclusive" and exclusive["buyer"] == BUYER


async def test_a_takedown_by_anyone_is_decided_by_the_operator_only(world: World) -> None:
    claim, _ = await world.statements.accept(world.signed(
        "takedown", OTHER_KEY, assets=["asset:a"], grounds="my face",
        claimant="Bo <bo@example.org>"))
    world.clock[0] += 1
    assert (await status(world, "asset:a", T0 + 1))["state"] == "disputed"
    case = "0x" + claim.digest.hex()
    await world.statements.accept(world.signed("takedown-answer", assets=["asset:a"],
                                               case=case, answer="I hold a release"))
    world.clock[0] += 1
    await world.statements.accept(world.signed("takedown-decision", OPERATOR,
                                               assets=["asset:a"], case=case,
                                               outcome="upheld"))
    shown = await status(world, "asset:a", T0 + 2)
    assert shown["state"] == "taken-down" and len(shown["statements"]) == 3
    assert (await status(world, "asset:b", T0 + 2))["state"] == "licensable"


async def test_the_notice_is_the_one_the_asset_declared(world: World) -> None:
    entry = {"id": "asset:c", "type": "image/jpeg", "hash": "sha256:" + "c" * 64,
             "licenses": [{"id": "training", "revocationNotice": 60}]}
    async with world.engine.begin() as conn:
        await insert_assets(conn, [(world.manifest, 2, "asset:c", bytes.fromhex("c" * 64),
                                    canonicalize(entry))], indexed=True)
    with pytest.raises(ValidationError, match="notice of 60 s"):
        await world.statements.accept(world.signed("revoke", assets=["asset:c"],
                                                   effectiveAt=T0 + 59_999))
    await world.statements.accept(world.signed("revoke", assets=["asset:c"],
                                               effectiveAt=T0 + 60_000))
    shown = await status(world, "asset:c", T0 + 60_000)
    assert shown["state"] == "revoked" and shown["noticeMs"] == 60_000


async def test_the_status_book_sees_a_statement_another_replica_stored(
        world: World) -> None:
    book = world.statements.book
    assert (await book.history(world.manifest, "asset:a")).valid == []
    other = Statements(world.store, world.manifests, world.assets, world.creators,
                       StatusBook(world.store, world.assets, refresh_s=0),
                       deployment=DEPLOYMENT, operator_key=OPERATOR.public_id,
                       leaf_bundle=_no_bundle, clock=lambda: world.clock[0])
    await other.accept(world.signed("withdraw-consent", reason="the subject asked"))
    history = await book.history(world.manifest, "asset:a")
    assert history.status(T0).state == "withdrawn"


async def test_amended_terms_apply_from_their_effective_time(world: World) -> None:
    price = {"type": "per-unit", "rate": 7, "currency": "USD"}
    await world.statements.accept(world.signed("amend", effectiveAt=T0 + 1000,
                                               terms={"priceModel": price}))
    assert (await status(world, "asset:a", T0 + 999))["terms"] == {}
    assert (await status(world, "asset:a", T0 + 1000))["terms"] == {"priceModel": price}


async def test_about_asset_lists_each_statement_with_its_acceptance(world: World) -> None:
    record, _ = await world.statements.accept(world.signed(
        "revoke", assets=["asset:b"], effectiveAt=T0 + DEFAULT_NOTICE_MS))
    assert await world.statements.about_asset(world.manifest, "asset:a") == []
    [(obj, bundle, accepted)] = await world.statements.about_asset(world.manifest, "asset:b")
    assert canonicalize(obj) == record.body and bundle is None and accepted == T0
    assert orjson.loads(record.body)["signer"] == CREATOR_KEY.public_id


async def test_a_whole_library_is_read_a_page_at_a_time_and_checked_by_kind(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statements_module, "_PAGE", 1)
    entry = {"id": "asset:c", "type": "image/jpeg", "hash": "sha256:" + "c" * 64,
             "licenses": [{"id": "training", "revocationNotice": 60}]}
    async with world.engine.begin() as conn:
        await insert_assets(conn, [(world.manifest, 2, "asset:c", bytes.fromhex("c" * 64),
                                    canonicalize(entry))], indexed=True)
    # Asset c's notice would allow it; a and b keep the default 30 days.
    with pytest.raises(ValidationError, match="notice of 2592000 s"):
        await world.statements.accept(world.signed("revoke", effectiveAt=T0 + 60_000))
    await world.statements.accept(world.signed("revoke", effectiveAt=T0 + DEFAULT_NOTICE_MS))
    page, following = await world.statements.manifest_status(
        world.manifest, T0 + DEFAULT_NOTICE_MS, after=1, limit=1)
    assert [s.asset_id for s in page] == ["asset:b"] and following == 2
    assert [s.to_obj()["state"] for s in page] == ["revoked"]


async def test_the_operator_may_withdraw_consent_for_the_subject(world: World) -> None:
    record, created = await world.statements.accept(world.signed(
        "withdraw-consent", OPERATOR, assets=["asset:b"], reason="the subject wrote to us"))
    assert created and record.type == "withdraw-consent"
    assert (await status(world, "asset:b", T0))["state"] == "withdrawn"
    assert (await status(world, 1, T0 - 1))["state"] == "licensable"
    # No notice, and nothing after it counts: a grant is refused.
    world.clock[0] += 1
    with pytest.raises(ValidationError, match="consent was withdrawn"):
        await world.statements.accept(world.signed(
            "grant-exclusive", assets=["asset:b"], buyer=BUYER, licences=["training"],
            start=T0 + 1, end=T0 + DAY, irrevocable=False))


async def test_a_statement_by_a_revoked_key_is_refused(world: World) -> None:
    successor = P256SigningKey.from_secret(0x6C6966656379636C65_04)
    await world.creators.add_key(CREATOR, successor.public_id, T0 - 2000,
                                 authorised_by=[CREATOR_KEY.public_id],
                                 record=NewCreatorRecord("add-key", bytes([1]) * 32, b"{}"))
    await world.creators.revoke_key(CREATOR, CREATOR_KEY.public_id, T0 - 1000,
                                    record=NewCreatorRecord("revoke-key", bytes([2]) * 32,
                                                            b"{}"))
    revoke = {"effectiveAt": T0 + DEFAULT_NOTICE_MS}
    with pytest.raises(SignatureError) as refused:
        await world.statements.accept(world.signed("revoke", **revoke))
    assert refused.value.field == "signer"
    assert await world.store.about(world.manifest) == []
    _, created = await world.statements.accept(world.signed("revoke", successor, **revoke))
    assert created


async def test_anyone_replaying_the_stored_statements_reaches_the_service_answer(
        world: World) -> None:
    effective = T0 + 5_000 + DEFAULT_NOTICE_MS
    accepted = [
        world.signed("grant-exclusive", assets=["asset:a"], buyer=BUYER, licences=["training"],
                     start=T0, end=T0 + DAY, irrevocable=True),
        world.signed("amend", at=T0 + 1000, effectiveAt=T0 + 2000,
                     terms={"licenses": ["training", "research"]}),
        world.signed("takedown", OTHER_KEY, at=T0 + 3000, grounds="mine", claimant="Bo"),
        world.signed("revoke", at=T0 + 5000, effectiveAt=effective),
    ]
    for obj in accepted:
        world.clock[0] = obj["issuedAt"]
        await world.statements.accept(obj)
    bodies = [record.body for record in await world.store.about(world.manifest)]
    times = sorted({t + d for t in (T0, T0 + 2000, T0 + 3000, T0 + DAY, effective)
                    for d in (-1, 0, 1)})
    rng = random.Random(17)
    for _ in range(5):
        shuffled = rng.sample(bodies, len(bodies)) + bodies[:2]
        replayed = [Statement.from_stored(body) for body in shuffled]
        history = History(AssetRef(world.manifest, "asset:a"), replayed)
        for at in times:
            served = await status(world, "asset:a", at)
            mine = {**history.status(at).to_obj(), "terms": history.terms_at(at)}
            assert {k: served[k] for k in mine} == mine, at


async def test_the_status_book_reads_a_manifest_once_until_a_statement_changes_it(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[bytes] = []
    bodies = world.store.bodies

    async def counted(digest: bytes) -> Any:
        reads.append(digest)
        return await bodies(digest)

    monkeypatch.setattr(world.store, "bodies", counted)
    book = StatusBook(world.store, world.assets, refresh_s=3600)
    for _ in range(3):
        assert (await book.history(world.manifest, "asset:a")).valid == []
    assert reads == [world.manifest]
    # Accepted here: forgotten at once. (Another replica's: within refresh_s.)
    statements = Statements(world.store, world.manifests, world.assets, world.creators, book,
                            deployment=DEPLOYMENT, operator_key=OPERATOR.public_id,
                            leaf_bundle=_no_bundle, clock=lambda: world.clock[0])
    await statements.accept(world.signed("withdraw-consent"))
    assert (await book.history(world.manifest, "asset:b")).status(T0).state == "withdrawn"


async def test_the_status_book_gives_many_histories_from_one_read(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `histories` gives each asset is what `history` gives it, to the millisecond of
    a revocation's effect, with the notices the entries name; read at once, kept or not."""
    effective = T0 + DEFAULT_NOTICE_MS
    await world.statements.accept(world.signed("revoke", assets=["asset:b"],
                                               effectiveAt=effective))
    asked = [(world.manifest, asset_id, await world.assets.entry_by_id(world.manifest, asset_id))
             for asset_id in ("asset:a", "asset:b")]
    reads: list[int] = []
    bodies_about, bodies = world.store.bodies_about, world.store.bodies

    async def counted(assets: Any) -> Any:
        reads.append(len(assets))
        return await bodies_about(assets)

    async def refused(digest: bytes) -> Any:
        raise AssertionError("one manifest read at a time")

    monkeypatch.setattr(world.store, "bodies_about", counted)
    monkeypatch.setattr(world.store, "bodies", refused)
    book = StatusBook(world.store, world.assets, refresh_s=3600)
    many = await book.histories([(d, a, e) for d, a, e in asked if e is not None])
    assert reads == [2]
    monkeypatch.setattr(world.store, "bodies", bodies)
    one = [await book.history(world.manifest, asset_id) for asset_id in ("asset:a", "asset:b")]
    kept = await book.histories([(d, a, e) for d, a, e in asked if e is not None])
    assert reads == [2]  # the manifest is kept now: nothing more read
    for at in (effective - 1000, effective - 1, effective, effective + 1000):
        assert ([h.status(at).to_obj() for h in many] == [h.status(at).to_obj() for h in one]
                == [h.status(at).to_obj() for h in kept]), at
    assert [h.status(effective).state for h in many] == ["licensable", "revoked"]
    assert many[1].asset == one[1].asset


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        postgres: ThrowawayPostgres = request.getfixturevalue("postgres")
        return postgres.new_database()
    return f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"


@pytest.mark.parametrize("second", ["revoke", "withdraw-consent"])
async def test_two_processes_storing_a_contradicting_pair_store_exactly_one(
        database: str, second: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An irrevocable grant and a revocation contradict in either order; so do a grant
    and a consent withdrawal issued before it (a later withdrawal would not)."""
    grant = {"assets": ["asset:a"], "buyer": BUYER, "licences": ["training"],
             "start": T0 + 1, "end": T0 + 90 * DAY, "irrevocable": True, "at": T0 + 1}
    later = {"revoke": {"effectiveAt": T0 + DEFAULT_NOTICE_MS}, "withdraw-consent": {}}
    async for one in _world(database):
        async for other in _world(database, one.manifest):
            # Both pass every check on what is stored, then both store at once.
            both_checked = asyncio.Barrier(2)
            for world in (one, other):
                monkeypatch.setattr(world.store, "add", _after(both_checked, world.store.add))
            outcomes = await asyncio.gather(
                _accept(one, one.signed("grant-exclusive", **grant), both_checked),
                _accept(other, other.signed(second, **later[second]), both_checked),
                return_exceptions=True)
            refused = [o for o in outcomes if isinstance(o, BaseException)]
            assert len(refused) == 1 and isinstance(refused[0], ValidationError), outcomes
            [stored] = await one.store.about(one.manifest)
            [accepted] = [o for o in outcomes if not isinstance(o, BaseException)]
            assert accepted == (stored, True)


async def _accept(world: World, obj: dict[str, Any], barrier: asyncio.Barrier
                  ) -> tuple[StatementRecord, bool]:
    try:
        return await world.statements.accept(obj)
    except Exception:
        await barrier.abort()  # refused before storing: the other must not wait for it
        raise


def _after(barrier: asyncio.Barrier, add: Callable[..., Awaitable[bool]]
           ) -> Callable[..., Awaitable[bool]]:
    async def add_after(*args: Any, **kwargs: Any) -> bool:
        await barrier.wait()
        return await add(*args, **kwargs)

    return add_after


async def test_a_statement_stored_meanwhile_is_checked_again_when_storing(
        world: World) -> None:
    """One process's check read no statement; another stored a grant before it stored:
    the revocation is checked again over the grant, refused, and nothing more stored."""
    add = world.store.add
    grant = world.signed("grant-exclusive", assets=["asset:a"], buyer=BUYER,
                         licences=["training"], start=T0, end=T0 + 90 * DAY,
                         irrevocable=True)

    async def grant_first(*args: Any, **kwargs: Any) -> bool:
        async for other in _world(world.engine.url.render_as_string(False), world.manifest):
            await other.statements.accept(grant)
        return await add(*args, **kwargs)

    world.store.add = grant_first  # type: ignore[method-assign]
    with pytest.raises(ValidationError, match="irrevocable exclusive grant"):
        await world.statements.accept(world.signed(
            "revoke", at=T0 + 1, effectiveAt=T0 + 1 + DEFAULT_NOTICE_MS))
    assert [r.type for r in await world.store.about(world.manifest)] == ["grant-exclusive"]
