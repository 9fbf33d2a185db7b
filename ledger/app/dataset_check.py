"""The dataset check (issue 17): a buyer sends the content hashes of a training set and
learns, for each, every registration with its licence and its status at one time, or
that nobody registered it (never a guess); and keeps a signed licence snapshot
(`ledger.core.licence_snapshot`) committing to the whole answer, anchored in a batch of
its own kind so its time is provable like a manifest's.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ledger.app.clock import now_ms
from ledger.app.status_book import parse
from ledger.core.canonical import canonicalize
from ledger.core.fields import Fields
from ledger.core.licence_snapshot import (
    MAX_HASHES,
    LicenceSnapshot,
    ServiceSigner,
    canonical_answer,
    sign_snapshot,
)
from ledger.core.licence_status import LICENSABLE, AssetRef, History, Status, notice_ms
from ledger.core.proof import ProofBundle
from ledger.core.records import StatementRecord
from ledger.core.statements import Statement
from ledger.errors import NotFound, ValidationError
from ledger.storage.assets import Registration
from ledger.storage.dataset_checks import DatasetCheckStore

# A content hash as the by-hash lookup takes it: bare, or as a manifest writes it.
_SHA256 = re.compile(r"(?:sha256:)?[0-9a-f]{64}")
_REQUEST = frozenset({"hashes", "at"})

# The status of an asset no statement targets.
_LICENSABLE = Status(LICENSABLE).to_obj()

#: The bundle of a stored leaf (`ServiceContext.stored_leaf_bundle`).
LeafBundle = Callable[[bytes, int | None, int | None], Awaitable[ProofBundle | None]]


class StatementBodies(Protocol):
    """Where stored statements are read (`ledger.storage.statements.StatementStore`)."""

    async def about(self, manifest_digest: bytes) -> list[StatementRecord]:
        """Every statement targeting assets of this manifest, in acceptance order."""


class RegistrationsByHash(Protocol):
    """Where registrations are found by content hash (`ledger.storage.assets.AssetStore`)."""

    async def by_hashes(self, content_hashes: Sequence[bytes]
                        ) -> dict[bytes, list[Registration]]:
        """The registrations of each hash that has any."""


@dataclass(frozen=True)
class CheckRequest:
    """A parsed dataset-check request: the hashes in order, and the time asked about."""

    hashes: tuple[bytes, ...]
    at: int | None

    @classmethod
    def from_obj(cls, obj: Any) -> CheckRequest:
        """``{"hashes": [sha256 hex, ...], "at"?: ms}``; ValidationError names the member."""
        if not isinstance(obj, dict):
            raise ValidationError("a dataset check must be a JSON object")
        for name in obj:
            if name not in _REQUEST:
                raise ValidationError("is not a dataset-check member", field=name)
        if "hashes" not in obj:
            raise ValidationError("is required", field="hashes")
        f = Fields(obj)
        listed = f.array("hashes", 1, MAX_HASHES)
        hashes = tuple(
            bytes.fromhex(listed.match(i, _SHA256, '64 lower-case hex digits, optionally '
                                                   'after "sha256:"')[-64:])
            for i in range(len(listed)))
        return cls(hashes, f.timestamp_ms("at") if "at" in obj else None)


@dataclass(frozen=True)
class CheckAnswer:
    """The answers, in request order, and the snapshot committing to them."""

    answers: list[dict[str, Any]]
    snapshot: LicenceSnapshot

    def to_json(self) -> bytes:
        """``{"id", "snapshot", "answers"}``: what the buyer keeps."""
        return orjson.dumps({"id": "0x" + self.snapshot.digest().hex(),
                             "snapshot": self.snapshot.to_obj(), "answers": self.answers})


class DatasetChecks:
    """Answers dataset checks and keeps their snapshots for anchoring."""

    def __init__(self, store: DatasetCheckStore, assets: RegistrationsByHash,
                 statements: StatementBodies, signer: ServiceSigner, *, deployment: str,
                 leaf_bundle: LeafBundle) -> None:
        self._store = store
        self._assets = assets
        self._statements = statements
        self._signer = signer
        self._deployment = deployment
        self._leaf_bundle = leaf_bundle

    async def check(self, obj: Any) -> CheckAnswer:
        """Answer a parsed request and store its signed snapshot for the next batch."""
        request = CheckRequest.from_obj(obj)
        checked_at = now_ms()
        at = checked_at if request.at is None else request.at
        found = await self._assets.by_hashes(sorted(set(request.hashes)))
        said: dict[bytes, _Said] = {}
        answers, encoded = [], []
        for content_hash in request.hashes:
            answer, plain = await self._answer(content_hash, found.get(content_hash, []), at,
                                               said)
            answers.append(answer)
            encoded.append(_encode(answer, plain))
        snapshot = sign_snapshot(encoded, deployment=self._deployment, checked_at=checked_at,
                                 at=at, signer=self._signer)
        await self._store.add(snapshot.digest(), canonicalize(snapshot.to_obj()), checked_at)
        return CheckAnswer(answers, snapshot)

    async def snapshot(self, digest: bytes) -> tuple[LicenceSnapshot, str, ProofBundle | None]:
        """A stored snapshot, its batch's status, and its bundle (anchored once the batch
        is confirmed; None while it awaits a batch); NotFound if there is none."""
        stored = await self._store.get(digest)
        if stored is None:
            raise NotFound(f"no dataset check 0x{digest.hex()}")
        snapshot = LicenceSnapshot.from_obj(orjson.loads(stored.body))
        bundle = await self._leaf_bundle(digest, stored.batch_number, stored.leaf_index)
        return snapshot, stored.status, bundle

    async def _answer(self, content_hash: bytes, registrations: list[Registration], at: int,
                      said: dict[bytes, _Said]) -> tuple[dict[str, Any], bool]:
        """The answer about one hash, and whether orjson spells it canonically."""
        plain = True
        out = []
        for found in registrations:
            registration, simple = await self._registration(found, at, said)
            out.append(registration)
            plain = plain and simple
        # Nobody registered these bytes: said so, never guessed from a similar file.
        return ({"sha256": content_hash.hex(), "registered": bool(registrations),
                 "registrations": out}, plain)

    async def _registration(self, found: Registration, at: int, said: dict[bytes, _Said]
                            ) -> tuple[dict[str, Any], bool]:
        """One registration: where it sits, its licence and terms in force at `at`, its
        status then; and whether orjson spells it canonically (`_encode`)."""
        entry = orjson.loads(found.entry)
        out: dict[str, Any] = {
            "manifestDigest": "0x" + found.manifest_digest.hex(),
            "assetIndex": found.asset_index, "assetId": found.asset_id,
            "creatorId": found.creator_id, "anchored": found.anchor is not None,
            "licenses": entry["licenses"], "licenceStatus": dict(_LICENSABLE),
        }
        if "priceModel" in entry:
            out["priceModel"] = entry["priceModel"]
        statements = await self._said_about(found.manifest_digest, found.asset_id, said)
        if statements:
            history = History(AssetRef(found.manifest_digest, found.asset_id,
                                       notice_ms(entry)), statements)
            out["licenceStatus"] = history.status(at).to_obj()
            amended = history.terms_at(at)
            if amended:
                out["amendedTerms"] = amended
        return out, "amendedTerms" not in out and orjson.dumps(
            entry, option=orjson.OPT_SORT_KEYS) == found.entry

    async def _said_about(self, manifest_digest: bytes, asset_id: str,
                          said: dict[bytes, _Said]) -> tuple[Statement, ...]:
        """The statements that target this asset. Read from the store, not the status
        book: a large dataset touches most manifests once, and only the few statements
        that target an asked asset are parsed (a statement's target is read from its
        stored JSON first); the rest, and every asset nothing was said about (licensable),
        cost no replay."""
        known = said.get(manifest_digest)
        if known is None:
            known = said[manifest_digest] = _Said()
            for record in await self._statements.about(manifest_digest):
                ids = orjson.loads(record.body)["target"].get("assetIds")
                if ids is None:
                    known.whole.append(record.body)
                for named in ids or ():
                    known.by_asset.setdefault(named, []).append(record.body)
        return tuple(known.parsed(body)
                     for body in (*known.whole, *known.by_asset.get(asset_id, ())))


class _Said:
    """One manifest's stored statements during a check: those that target all its assets,
    the others by asset id, and those parsed so far."""

    def __init__(self) -> None:
        self.whole: list[bytes] = []
        self.by_asset: dict[str, list[bytes]] = {}
        self._parsed: dict[bytes, Statement] = {}

    def parsed(self, body: bytes) -> Statement:
        found = self._parsed.get(body)
        if found is None:
            found = self._parsed[body] = parse(body)
        return found


def _encode(answer: dict[str, Any], plain: bool) -> bytes:
    """The answer's canonical JSON. When `plain` (each stored entry is spelled by orjson
    exactly as canonically, and no amended terms were added) orjson with sorted keys
    writes it: every other member is an ASCII string, an integer below 2^53, a boolean or
    null, which both spell alike; else `canonical_answer`."""
    if plain and answer["registered"]:
        return orjson.dumps(answer, option=orjson.OPT_SORT_KEYS)
    return canonical_answer(answer)
