"""The dataset check (issue 17): a buyer sends the content hashes of a training set and
learns, for each, every registration with its licence and its status at one time, or
that nobody registered it (never a guess); and keeps a signed licence snapshot
(`ledger.core.licence_snapshot`) committing to the whole answer, anchored in a batch of
its own kind so its time is provable like a manifest's.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ledger.app.clock import now_ms
from ledger.app.status_book import Said
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
from ledger.errors import NotFound, ValidationError
from ledger.storage.assets import HashMatch
from ledger.storage.dataset_checks import DatasetCheckStore

_REQUEST = frozenset({"hashes", "at"})
# Integers both encoders spell alike (RFC 8785 writes larger ones as doubles would be).
_SAFE_INTEGER = 2**53

# The status of an asset no statement targets.
_LICENSABLE = Status(LICENSABLE).to_obj()

#: The bundle of a stored leaf (`ServiceContext.stored_leaf_bundle`).
LeafBundle = Callable[[bytes, int | None, int | None], Awaitable[ProofBundle | None]]


class StatementBodies(Protocol):
    """Where stored statements are read (`ledger.storage.statements.StatementStore`)."""

    async def bodies_about(self, assets: Sequence[tuple[bytes, str]]
                           ) -> dict[bytes, list[bytes]]:
        """The canonical JSON of every statement naming one of these (manifest digest,
        asset id) pairs or their whole manifests, by manifest in acceptance order."""


class RegistrationsByHash(Protocol):
    """Where registrations are found by content hash (`ledger.storage.assets.AssetStore`)."""

    async def by_hashes(self, content_hashes: Sequence[bytes]
                        ) -> dict[bytes, list[HashMatch]]:
        """The stored assets of each hash that has any, earliest anchor first."""


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
        hashes = f.content_hashes("hashes", MAX_HASHES)
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

    async def check(self, obj: Any, *, buyer: str | None = None) -> CheckAnswer:
        """Answer a parsed request made by `buyer` (None: anonymous) and store its signed
        snapshot, which names the buyer, for the next batch."""
        request = CheckRequest.from_obj(obj)
        checked_at = now_ms()
        at = checked_at if request.at is None else request.at
        with _no_cycle_collection():
            answered = await self._answers(sorted(set(request.hashes)), at)
            answers = [answered[content_hash][0] for content_hash in request.hashes]
            encoded = [answered[content_hash][1] for content_hash in request.hashes]
            snapshot = sign_snapshot(encoded, deployment=self._deployment,
                                     checked_at=checked_at, at=at, signer=self._signer,
                                     buyer=buyer)
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

    async def _answers(self, hashes: list[bytes], at: int
                       ) -> dict[bytes, tuple[dict[str, Any], bytes]]:
        """Each hash's answer and its canonical JSON. The registrations are read before
        any answer is built: read on a thread meanwhile, they would wait for the
        interpreter each row and slow both (measured)."""
        found = await self._assets.by_hashes(hashes)
        manifests = await self._manifests(found)
        out: dict[bytes, tuple[dict[str, Any], bytes]] = {}
        for content_hash in hashes:
            answer, plain = _answer(content_hash, found.get(content_hash, []), at, manifests)
            out[content_hash] = answer, _encode(answer, plain)
        return out

    async def _manifests(self, found: dict[bytes, list[HashMatch]]
                         ) -> dict[bytes, _Manifest]:
        """What the answers share of each manifest found, with the stored statements
        about the assets found in it, read at once through the index of what each
        statement names. From the store, not the status book: a large dataset touches
        most manifests once, and most of their statements are about assets it did not
        ask about; every asset nothing was said about (licensable) costs no replay."""
        assets = [(m.manifest.digest, m.asset_id) for ms in found.values() for m in ms]
        bodies = await self._statements.bodies_about(assets)
        facts = {m.manifest.digest: m.manifest for ms in found.values() for m in ms}
        return {digest: _Manifest("0x" + digest.hex(), held.creator_id,
                                  held.anchor is not None, Said(bodies.get(digest, [])))
                for digest, held in facts.items()}


@dataclass(frozen=True, slots=True)
class _Manifest:
    """What every answer about one manifest's assets shares, worked out once a request."""

    digest: str  # as the answers spell it
    creator_id: str
    anchored: bool
    said: Said  # its statements about the assets asked


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cycle collector paused while a check reads its rows and builds its answers
    and snapshot (seconds at most: other tasks' cyclic garbage waits that long). They
    hold no cycles, but the collector would walk every object made so far, and all the
    process holds, each time their number grew by a quarter: half the time of a large
    check, and still a third with the build alone paused (measured)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _answer(content_hash: bytes, matches: list[HashMatch], at: int,
            manifests: dict[bytes, _Manifest]) -> tuple[dict[str, Any], bool]:
    """The answer about one hash, and whether orjson spells it canonically."""
    plain = True
    out = []
    for found in matches:
        registration, simple = _registration(found, at, manifests[found.manifest.digest])
        out.append(registration)
        plain = plain and simple
    # Nobody registered these bytes: said so, never guessed from a similar file.
    return ({"sha256": content_hash.hex(), "registered": bool(matches),
             "registrations": out}, plain)


def _registration(found: HashMatch, at: int, manifest: _Manifest
                  ) -> tuple[dict[str, Any], bool]:
    """One registration: where it sits, its licence and terms in force at `at`, its
    status then; and whether orjson spells it canonically (`_encode`)."""
    entry = orjson.loads(found.entry)
    out: dict[str, Any] = {
        "manifestDigest": manifest.digest,
        "assetIndex": found.asset_index, "assetId": found.asset_id,
        "creatorId": manifest.creator_id, "anchored": manifest.anchored,
        "licenses": entry["licenses"], "licenceStatus": dict(_LICENSABLE),
    }
    if "priceModel" in entry:
        out["priceModel"] = entry["priceModel"]
    plain = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) == found.entry
    statements = manifest.said.about(found.asset_id)
    if statements:
        history = History(AssetRef(found.manifest.digest, found.asset_id, notice_ms(entry)),
                          statements)
        out["licenceStatus"] = history.status(at).to_obj()
        amended = history.terms_at(at)
        if amended:
            out["amendedTerms"] = amended
            plain = plain and _plain(amended)
    return out, plain


def _plain(value: Any) -> bool:
    """Whether orjson with sorted keys surely spells `value` as RFC 8785 does: nothing
    but objects with ASCII names, arrays, printable ASCII strings, integers below 2^53,
    booleans and null. Amended terms are checked so, not by writing them both ways:
    `canonicalize` of a whole answer costs a hundred times more."""
    if isinstance(value, str):
        return value.isascii() and value.isprintable()
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INTEGER < value < _SAFE_INTEGER
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(_plain(name) and _plain(item) for name, item in value.items())
    return False


def _encode(answer: dict[str, Any], plain: bool) -> bytes:
    """The answer's canonical JSON. When `plain` (each stored entry is spelled by orjson
    exactly as canonically, and any amended terms are `_plain`) orjson with sorted keys
    writes it: every other member is an ASCII string, an integer below 2^53, a boolean or
    null, which both spell alike (an unregistered file's answer too: a third of the time
    of `canonical_answer`'s check of its shape); else `canonical_answer`."""
    if plain:
        return orjson.dumps(answer, option=orjson.OPT_SORT_KEYS)
    return canonical_answer(answer)
