"""Evidence packages (``ledger-evidence/1``): one asset linked to one final block.

The package proves block ``B``, the newest of the anchor blocks it relies on (the
manifest's batch and the batches of the creator's records). It is issued only once
``B`` is final (`Finality`) and the node's canonical block at every one of those anchor
blocks is the one the batch recorded; until then the answer is `Pending`. A package
issued never changes: its block is final, so the service can serve it as immutable.
docs/proof-format.md section 9 gives the bytes, docs/security.md the finality rule.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.app.library import BatchBundle, Library
from ledger.chain.state_proofs import BlockProofs, StateProofs
from ledger.core.asset_tree import AssetProof
from ledger.core.evidence import ChainEvidence, Evidence
from ledger.core.manifest import MANIFEST_VERSION
from ledger.core.proof import Anchor, ProofBundle
from ledger.core.receipt import Receipt
from ledger.core.records import BatchRecord, ManifestRecord
from ledger.errors import ChainError, NotFound, StorageError
from ledger.storage.chain_proofs import BlockProofRows, ChainProofStore
from ledger.storage.manifests import ManifestStore

#: A creator's records accepted up to a time, each with its bundle (anchored once its
#: batch is confirmed) and when it was accepted (ms):
#: `ledger.app.creator_records.CreatorHistory.actions`.
CreatorRecords = Callable[
    [str, int], Awaitable[list[tuple[dict[str, Any], ProofBundle | None, int]]]
]
#: The statements about one asset (manifest digest, asset id) in acceptance order, each
#: as its JSON, its bundle (anchored once its batch is confirmed; None while it awaits
#: a batch) and when it was accepted: `ledger.app.statements.Statements.about_asset`.
AssetStatements = Callable[
    [bytes, str], Awaitable[list[tuple[dict[str, Any], ProofBundle | None, int]]]
]

#: How long the newest final block number is reused before the node is asked again.
_FINALIZED_TTL_S = 1.0
#: How long a proof's answer waits for the node to say whether its anchor is final.
_IS_FINAL_TIMEOUT_S = 1.0
#: Anchor blocks seen final with their recorded hash; they stay so (a final block
#: does not reorg), so asking again is only wasted round trips.
_KNOWN_FINAL = 4096


@dataclass(frozen=True)
class Pending:
    """Why a package (or an immutable answer) cannot be given yet."""

    reason: str


class Finality:
    """Whether anchors are final: their block is final by the ``evidence_depth`` rule (0:
    the node's ``finalized`` block; N: N blocks deep, the block itself counting as 1) and
    the node's canonical block at that number is the one recorded."""

    def __init__(self, state: StateProofs, depth: int) -> None:
        self._state = state
        self._depth = depth
        self._final: tuple[float, int | None] = (float("-inf"), None)
        self._known: OrderedDict[tuple[int, bytes], None] = OrderedDict()

    async def pending(self, blocks: Iterable[tuple[int, bytes]]) -> Pending | None:
        """None when every anchor block (number, recorded hash) is final and canonical,
        else why not."""
        wanted = {block for block in blocks if block not in self._known}
        if not wanted:
            return None
        newest = max(number for number, _ in wanted)
        final = await self._final_number()
        if final is None or newest > final:
            return Pending(f"block {newest} is not final yet")
        for number, recorded in sorted(wanted):
            if await self._state.block_hash(number) != recorded:
                return Pending(f"the anchor in block {number} was reorganised away; "
                               "waiting for it to be anchored again")
            self._remember((number, recorded))
        return None

    async def is_final(self, block_number: int, block_hash: bytes) -> bool:
        """Whether the anchor in block `block_number` (recorded with `block_hash`) is final
        and canonical; False too while the node cannot be asked, or is slow to answer (a
        proof is then served at once, as not final, rather than after the RPC timeout)."""
        try:
            async with asyncio.timeout(_IS_FINAL_TIMEOUT_S):
                return await self.pending([(block_number, block_hash)]) is None
        except (ChainError, TimeoutError):
            return False

    async def _final_number(self) -> int | None:
        """The newest final block number, asked of the node at most once a second."""
        fetched_at, number = self._final
        if time.monotonic() - fetched_at > _FINALIZED_TTL_S:
            if self._depth:
                number = await self._state.head() - self._depth + 1
            else:
                number = await self._state.finalized()
            self._final = (time.monotonic(), number)
        return number

    def _remember(self, key: tuple[int, bytes]) -> None:
        self._known[key] = None
        if len(self._known) > _KNOWN_FINAL:
            self._known.popitem(last=False)


@dataclass(frozen=True)
class _Parts:
    """What a package says of the asset and its manifest, before the chain part."""

    asset: dict[str, Any]
    asset_proof: tuple[bytes, ...] | None
    manifest: dict[str, Any]
    manifest_proof: ProofBundle


class EvidenceIssuer:
    """Assembles evidence packages from the stores, the creator's records and the node."""

    def __init__(
        self,
        manifests: ManifestStore,
        library: Library,
        finality: Finality,
        state: StateProofs,
        cache: ChainProofStore,
        *,
        receipt: Callable[[ManifestRecord], Awaitable[Receipt]],
        batch_bundle: BatchBundle,
        creator_records: CreatorRecords,
        statements: AssetStatements,
    ) -> None:
        self._manifests = manifests
        self._library = library
        self.finality = finality
        self._state = state
        self._cache = cache
        self._receipt = receipt
        self._batch_bundle = batch_bundle
        self._creator_records = creator_records
        self._statements = statements

    async def evidence(self, digest: bytes, index: int) -> Evidence | Pending:
        """The package of asset `index` of manifest `digest` (1.0 or 1.1); `Pending` while
        an anchor it needs is not final; NotFound for an unknown manifest or asset."""
        found = await self._manifests.get_with_batch(digest)
        if found is None:
            raise NotFound("no manifest with this digest")
        record, batch = found
        parts = await self._parts(record, batch, index)
        if isinstance(parts, Pending):
            return parts
        statements = await self._anchored_statements(record.digest, str(parts.asset["id"]))
        records = await self._records(record, max([record.accepted_at,
                                                   *(at for _, _, at in statements)]))
        if isinstance(records, Pending):
            return records
        anchored = [_anchored(parts.manifest_proof)] + [_anchored(b) for _, b, _ in records] + [
            _anchored(b) for _, b, _ in statements]
        waiting = await self.finality.pending(
            (anchor.block_number, anchor.block_hash) for _, anchor in anchored)
        if waiting is not None:
            return waiting
        chain = await self._chain(anchored)
        return Evidence(
            asset=parts.asset, asset_index=index, asset_proof=parts.asset_proof,
            manifest=parts.manifest, manifest_proof=parts.manifest_proof.to_obj(),
            receipt=(await self._receipt(record)).to_obj(),
            creator_records=tuple((action, bundle.to_obj()) for action, bundle, _ in records),
            manifest_records=_in_force(records, record.accepted_at),
            statements=tuple((obj, bundle.to_obj(), _in_force(records, at))
                             for obj, bundle, at in statements),
            chain=chain,
        )

    async def _parts(self, record: ManifestRecord, batch: BatchRecord | None, index: int
                     ) -> _Parts | Pending:
        body = await self._manifests.body(record.digest)
        if body is None:
            raise StorageError(f"manifest {record.digest.hex()} has no stored body")
        manifest = orjson.loads(body)  # stored after every check: canonical and signed
        if manifest["manifestVersion"] == MANIFEST_VERSION:
            return await self._parts_1_0(record, batch, manifest, index)
        found = await self._library.asset_proof(record.digest, index)
        if not isinstance(found, AssetProof) or found.manifest_proof.anchor is None:
            return Pending(f"the manifest is {record.status}, not anchored yet")
        return _Parts(found.asset, found.asset_proof, found.manifest.to_obj(),
                      found.manifest_proof)

    async def _parts_1_0(self, record: ManifestRecord, batch: BatchRecord | None,
                         manifest: dict[str, Any], index: int) -> _Parts | Pending:
        assets = manifest["assets"]
        if not 0 <= index < len(assets):
            raise NotFound(f"no asset {index}: the manifest has {len(assets)}")
        bundle = await self._batch_bundle(record, batch)
        if bundle is None or bundle.anchor is None:
            return Pending(f"the manifest is {record.status}, not anchored yet")
        return _Parts(assets[index], None, manifest, bundle)

    async def _anchored_statements(self, manifest_digest: bytes, asset_id: str
                                   ) -> list[tuple[dict[str, Any], ProofBundle, int]]:
        """The statements about the asset anchored so far: a package proves what its
        block proves, and a statement still awaiting its batch is not part of it."""
        return [(obj, bundle, at)
                for obj, bundle, at in await self._statements(manifest_digest, asset_id)
                if bundle is not None and bundle.anchor is not None]

    async def _records(self, record: ManifestRecord, until: int
                       ) -> list[tuple[dict[str, Any], ProofBundle, int]] | Pending:
        """The creator's records accepted by `until` (the manifest's or the latest
        statement's acceptance) with their acceptance times, every one anchored;
        Pending otherwise. Read once: the counts in force derive from it."""
        out = []
        for action, bundle, at in await self._creator_records(record.creator_id, until):
            if bundle is None or bundle.anchor is None:
                return Pending(f"a record of {record.creator_id} is not anchored yet")
            out.append((action, bundle, at))
        return out

    async def _chain(self, anchored: list[_Anchored]) -> ChainEvidence:
        """The header of the newest anchor block and the proofs of every root at it."""
        newest = max((anchor for _, anchor in anchored), key=lambda a: a.block_number)
        roots = sorted({root for root, _ in anchored})
        cached = await self._cache.get(newest.block_hash, roots)
        if cached is None:
            fetched = await self._state.fetch(newest.block_number, roots)
            _check_fetched(fetched, newest, anchored)
            cached = BlockProofRows(fetched.block_number, fetched.header, fetched.account_proof,
                                    {root: nodes for root, (nodes, _) in fetched.anchors.items()})
            await self._cache.put(newest.block_hash, cached)
        return ChainEvidence(
            chain_id=newest.chain_id, registry=newest.contract,
            block_number=newest.block_number, block_header=cached.header,
            account_proof=cached.account_proof,
            anchor_proofs=tuple((root, cached.storage_proofs[root]) for root in roots),
        )


#: An anchored batch root and where it was anchored.
_Anchored = tuple[bytes, Anchor]


def _anchored(bundle: ProofBundle) -> _Anchored:
    assert bundle.anchor is not None  # the callers return Pending for an unanchored bundle
    return bundle.root, bundle.anchor


def _check_fetched(fetched: BlockProofs, newest: Anchor, anchored: list[_Anchored]) -> None:
    """The node's block and records are the ones the batches recorded (a reorg between
    the finality check and the fetch, or a node on another chain, fails here)."""
    if fetched.block_hash != newest.block_hash:
        raise ChainError(f"block {newest.block_number} changed while its proofs were fetched")
    for root, anchor in anchored:
        state = fetched.anchors[root][1]
        if (state.batch_number, state.block_number, state.timestamp) != (
            anchor.batch_number, anchor.block_number, anchor.block_timestamp
        ):
            raise ChainError(f"the registry's record of batch {anchor.batch_number} is not "
                             "the anchor the service recorded")


def _in_force(records: list[tuple[dict[str, Any], ProofBundle, int]], at: int) -> int:
    """How many of the creator's records (in acceptance order) were accepted by `at`."""
    return sum(1 for _, _, accepted in records if accepted <= at)
