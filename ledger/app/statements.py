"""Lifecycle statements in the service: intake, the statements with their proofs, and the
status of assets at any time (docs/lifecycle.md).

A statement is accepted only when every check passes, and then stored whole; nothing of
a refused one is kept. The checks, in order: its members, its signature, its deployment,
its freshness (``issuedAt`` within 10 minutes of the service clock, as creator actions),
the manifest and the assets it names, who signed it (`ledger.core.statements.authorise`,
with the creator's signing keys valid at ``issuedAt`` and the operator's key), and for
every asset it names the status rules (`History.admit`): it must count, and void nothing
accepted before it. The rules are checked once before storing, and again in the storing
transaction if another process or replica stored a statement about the manifest
meanwhile: the database lets one intake per manifest store at a time
(`StatementStore.add`), so two contradicting statements are never both stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from ledger.app.clock import now_ms
from ledger.app.events import Announcer
from ledger.app.status_book import StatusBook
from ledger.core.canonical import canonicalize
from ledger.core.creators import FRESHNESS_MS
from ledger.core.events import STATUS_CHANGED, TAKEDOWN_DECIDED, TAKEDOWN_OPENED
from ledger.core.hashing import to_hex
from ledger.core.licence_status import (
    DEFAULT_NOTICE_MS,
    AssetRef,
    History,
    Status,
    notice_ms,
)
from ledger.core.proof import ProofBundle
from ledger.core.records import PENDING, StatementRecord
from ledger.core.statements import (
    AMEND,
    DECISION,
    GRANT,
    REVOKE,
    TAKEDOWN,
    Statement,
    authorise,
    check_deployment,
)
from ledger.errors import NotFound, ValidationError
from ledger.storage.assets import AssetStore, Registration
from ledger.storage.creators import Creator
from ledger.storage.manifests import ManifestStore
from ledger.storage.statements import InTransaction, StatementStore

# Assets read at a time when a statement names a whole library.
_PAGE = 10_000
_NOTICE = b'"revocationNotice"'

#: The bundle of a stored leaf (digest, batch number, leaf index): anchored once its
#: batch is confirmed; None while it awaits a batch.
LeafBundle = Callable[[bytes, int | None, int | None], Awaitable[ProofBundle | None]]


class CreatorLookup(Protocol):
    """Where creators and their keys are read (`ledger.app.intake.CreatorKeys`)."""

    async def get(self, creator_id: str) -> Creator | None:
        """The creator, or None."""


@dataclass(frozen=True)
class AssetStatus:
    """One asset's status at a time, with its history and the amended terms in force."""

    manifest_digest: bytes
    asset_id: str
    at: int
    history: History

    def to_obj(self) -> dict[str, Any]:
        """The answer of the status routes (docs/service.md)."""
        status: Status = self.history.status(self.at)
        return {
            "manifestDigest": "0x" + self.manifest_digest.hex(),
            "assetId": self.asset_id,
            "at": self.at,
            **status.to_obj(),
            "noticeMs": self.history.asset.notice_ms,
            "terms": self.history.terms_at(self.at),
            "statements": [{"digest": "0x" + s.digest().hex(), "type": s.type,
                            "issuedAt": s.issued_at} for s in self.history.valid],
        }


class Statements:
    """Accepts lifecycle statements and answers what they mean."""

    def __init__(self, store: StatementStore, manifests: ManifestStore, assets: AssetStore,
                 creators: CreatorLookup, book: StatusBook, *, deployment: str,
                 operator_key: str, leaf_bundle: LeafBundle,
                 events: Announcer | None = None,
                 clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._manifests = manifests
        self._assets = assets
        self._creators = creators
        self.book = book
        self._deployment = deployment
        self._operator_key = operator_key
        self._leaf_bundle = leaf_bundle
        self._events = events
        self._clock = clock

    # -- intake --------------------------------------------------------------------

    async def accept(self, obj: Any) -> tuple[StatementRecord, bool]:
        """Check and store one signed statement; (its record, True) when stored now,
        (the stored record, False) when it was stored before. ValidationError,
        SignatureError or NotFound naming the member otherwise, and nothing stored."""
        statement = Statement.from_obj(obj)
        statement.verify()
        check_deployment(statement, self._deployment)
        known = await self._store.get(statement.digest())
        if known is not None:
            return known, False
        now = self._clock()
        if abs(now - statement.issued_at) > FRESHNESS_MS:
            raise ValidationError("is more than 10 minutes from the service clock (stale or "
                                  "replayed)", field="issuedAt")
        checked = await self._check(statement)

        async def admit(bodies: list[bytes]) -> None:
            if bodies != checked.bodies:  # another process stored one meanwhile
                checked.state = await self._admit(statement, bodies)

        record = _record(statement, now)
        created = await self._store.add(record, admit=admit,
                                        also=self._announcing(statement, checked))
        self.book.forget(statement.target.manifest_digest)
        if not created:
            stored = await self._store.get(record.digest)
            assert stored is not None  # stored by another replica meanwhile, never deleted
            return stored, False
        return record, True

    async def _check(self, statement: Statement) -> _Checked:
        """Every check after the statement's own; the manifest's creator, the statements
        stored before it, and the state it gives the first asset it names."""
        target = statement.target
        manifest = await self._manifests.get(target.manifest_digest)
        if manifest is None:
            raise NotFound("no manifest with this digest", field="target.manifestDigest")
        creator = await self._creators.get(manifest.creator_id)
        keys = [] if creator is None else [
            k.public_key for k in creator.keys if creator.can_sign(k.public_key,
                                                                  statement.issued_at)]
        authorise(statement, creator_keys=keys, operator_key=self._operator_key)
        bodies = await self._store.bodies(target.manifest_digest)
        return _Checked(manifest.creator_id, bodies, await self._admit(statement, bodies))

    async def _admit(self, statement: Statement, bodies: list[bytes]) -> str:
        """The status rules over the statements stored before it (`bodies`), for every
        asset it names; the state it gives the first one from its effective time."""
        before = [Statement.from_stored(body) for body in bodies]
        after = [History(ref, before).admit(statement)
                 for ref in await self._distinct_assets(statement, before)]
        return after[0].status(effective_at(statement)).state

    async def _distinct_assets(self, statement: Statement, before: list[Statement]
                               ) -> list[AssetRef]:
        """The assets the statement names, one of each kind (`_Kinds`); ValidationError
        naming one the manifest lacks. A whole library is read a page at a time."""
        target = statement.target
        kinds = _Kinds(target.manifest_digest, before)
        if target.asset_ids is not None:
            found = await self._store.assets_named(target.manifest_digest,
                                                   sorted(target.asset_ids))
            missing = sorted(target.asset_ids - {asset_id for _, asset_id, _ in found})
            if missing:
                raise ValidationError(f"the manifest has no asset {missing[0]}",
                                      field="target.assetIds")
            kinds.add(found)
            return kinds.refs()
        start = 0
        while page := await self._store.assets(target.manifest_digest, start=start,
                                               limit=_PAGE):
            kinds.add(page)
            start = page[-1][0] + 1
        return kinds.refs()

    def _announcing(self, statement: Statement, checked: _Checked) -> InTransaction | None:
        """What announces an accepted statement in the transaction that stores it:
        status.changed, and takedown.opened or takedown.decided for a case."""
        events = self._events
        if events is None:
            return None
        digest = to_hex(statement.digest())
        data: dict[str, Any] = {
            "manifestDigest": to_hex(statement.target.manifest_digest),
            "assetIds": statement.target.to_obj().get("assetIds"),
            "creatorId": checked.creator_id, "statement": digest,
            "statementType": statement.type, "state": checked.state,
            "effectiveAt": effective_at(statement),
        }
        if statement.buyer is not None:
            data["buyer"] = statement.buyer
        case = {TAKEDOWN: TAKEDOWN_OPENED, DECISION: TAKEDOWN_DECIDED}.get(statement.type)

        async def announce(conn: AsyncConnection) -> None:
            # The state as last checked: in this transaction if it checked again.
            data["state"] = checked.state
            await events.announce(conn, STATUS_CHANGED, data, key=digest)
            if case is not None:
                await events.announce(conn, case, {**data, "outcome": statement.outcome},
                                      key=digest)

        return announce

    # -- reads ---------------------------------------------------------------------

    async def get(self, digest: bytes) -> tuple[StatementRecord, ProofBundle | None]:
        """A stored statement and its bundle (anchored once its batch is confirmed; None
        while it awaits a batch); NotFound otherwise."""
        record = await self._store.get(digest)
        if record is None:
            raise NotFound("no statement with this digest", field="digest")
        return record, await self._leaf_bundle(record.digest, record.batch_number,
                                               record.leaf_index)

    async def about_asset(self, manifest_digest: bytes, asset_id: str
                          ) -> list[tuple[dict[str, Any], ProofBundle | None, int]]:
        """The statements about one asset in acceptance order, each as its JSON, its
        bundle (None while it awaits a batch) and when it was accepted."""
        out = []
        for record in await self._store.about(manifest_digest):
            statement = Statement.from_stored(record.body)
            if statement.target.covers(manifest_digest, asset_id):
                bundle = await self._leaf_bundle(record.digest, record.batch_number,
                                                 record.leaf_index)
                out.append((statement.obj, bundle, record.accepted_at))
        return out

    async def asset_status(self, manifest_digest: bytes, asset: int | str, at: int | None
                           ) -> AssetStatus:
        """The status of one asset (by index or id) of a stored manifest at `at`
        (default now); NotFound for an unknown manifest or asset."""
        asset_id = await self._asset_id(manifest_digest, asset)
        history = await self.book.history(manifest_digest, asset_id)
        return AssetStatus(manifest_digest, asset_id, self._at(at), history)

    async def hash_status(self, content_hash: bytes, at: int | None
                          ) -> list[tuple[Registration, AssetStatus]]:
        """Every registration of these bytes, earliest anchor first, each with its
        asset's status at `at` (default now); an empty list when nobody registered them."""
        when = self._at(at)
        out = []
        for found in await self._assets.by_hash(content_hash):
            history = await self.book.history(found.manifest_digest, found.asset_id)
            out.append((found, AssetStatus(found.manifest_digest, found.asset_id, when,
                                           history)))
        return out

    async def manifest_status(self, manifest_digest: bytes, at: int | None, *,
                              after: int, limit: int) -> tuple[list[AssetStatus], int | None]:
        """The statuses of a manifest's assets from index `after` on, at most `limit`,
        and the index to ask from next (None: the last page)."""
        if await self._manifests.get(manifest_digest) is None:
            raise NotFound("no manifest with this digest", field="digest")
        when = self._at(at)
        page = await self._store.assets(manifest_digest, start=after, limit=limit + 1)
        out = [AssetStatus(manifest_digest, asset_id, when,
                           await self.book.history(manifest_digest, asset_id))
               for _, asset_id, _ in page[:limit]]
        return out, page[limit][0] if len(page) > limit else None

    async def _asset_id(self, manifest_digest: bytes, asset: int | str) -> str:
        if await self._manifests.get(manifest_digest) is None:
            raise NotFound("no manifest with this digest", field="digest")
        if isinstance(asset, str):
            if await self._assets.entry_by_id(manifest_digest, asset) is None:
                raise NotFound(f"the manifest has no asset {asset}", field="index")
            return asset
        entry = await self._assets.entry(manifest_digest, asset)
        if entry is None:
            raise NotFound(f"the manifest has no asset {asset}", field="index")
        asset_id: str = orjson.loads(entry)["id"]
        return asset_id

    def _at(self, at: int | None) -> int:
        return self._clock() if at is None else at


def effective_at(statement: Statement) -> int:
    """When a statement changes the status: a revocation's or amendment's effectiveAt,
    a grant's start, and any other statement's issuedAt."""
    if statement.type in (REVOKE, AMEND) and statement.effective_at is not None:
        return statement.effective_at
    if statement.type == GRANT and statement.start is not None:
        return statement.start
    return statement.issued_at


@dataclass
class _Checked:
    """What intake's checks found: the manifest's creator, the bodies of the statements
    stored before, and the state the statement gives the first asset it names."""

    creator_id: str
    bodies: list[bytes]
    state: str


class _Kinds:
    """One asset of each kind the rules tell apart: the same notice, and the same earlier
    statements covering it. A statement about a whole library is checked once per kind,
    not once per asset."""

    def __init__(self, manifest_digest: bytes, before: list[Statement]) -> None:
        self._manifest = manifest_digest
        self._targets = [(s.digest(), s.target.asset_ids) for s in before]
        self._kinds: dict[tuple[int, frozenset[bytes]], AssetRef] = {}

    def add(self, assets: list[tuple[int, str, bytes]]) -> None:
        """Sort (index, id, entry) rows into kinds."""
        for _, asset_id, entry in assets:
            # Only format 1.2 licences declare a notice: most entries need no parsing.
            notice = notice_ms(orjson.loads(entry)) if _NOTICE in entry else DEFAULT_NOTICE_MS
            covering = frozenset(digest for digest, ids in self._targets
                                 if ids is None or asset_id in ids)
            self._kinds.setdefault((notice, covering),
                                   AssetRef(self._manifest, asset_id, notice))

    def refs(self) -> list[AssetRef]:
        """One asset of each kind seen; ValidationError when there was none."""
        if not self._kinds:
            raise ValidationError("the manifest has no stored assets", field="target")
        return list(self._kinds.values())


def _record(statement: Statement, now: int) -> StatementRecord:
    return StatementRecord(
        digest=statement.digest(),
        manifest_digest=statement.target.manifest_digest,
        type=statement.type,
        body=canonicalize(statement.obj),
        accepted_at=now,
        batch_number=None,
        leaf_index=None,
        status=PENDING,
    )

