"""What the handlers call: intake, proofs, creators and health, over the stores."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ledger.app.accounts import RoyaltyAccounts
from ledger.app.clock import now_ms
from ledger.app.creator_domains import fetch_document
from ledger.app.creator_records import CreatorHistory
from ledger.app.dataset_check import DatasetChecks
from ledger.app.events import Announcer
from ledger.app.evidence import EvidenceIssuer, Finality
from ledger.app.intake import (
    CreatorKeys,
    IntakeWriter,
    Verifier,
    verify_many,
)
from ledger.app.library import Library
from ledger.app.licence_server import WebLicensing
from ledger.app.receipts import ReceiptBook
from ledger.app.royalty import UsageService
from ledger.app.statements import Statements
from ledger.app.status_book import StatusBook
from ledger.app.webhooks import Webhooks
from ledger.chain.state_proofs import StateProofs
from ledger.config import AnchoringSettings
from ledger.core.asset_tree import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE
from ledger.core.canonical import canonicalize
from ledger.core.creators import (
    DOMAIN,
    KEY,
    OPERATOR,
    CreatorAction,
    check_domain_document,
    deployment_id,
    domain_of,
    record_digest,
    verification_method,
)
from ledger.core.merkle import MerkleTree, split_levels
from ledger.core.proof import Anchor, ProofBundle
from ledger.core.receipt import ReceiptSigner
from ledger.core.records import (
    BatchKind,
    BatchRecord,
    BatchStatus,
    ManifestRecord,
    NewCreatorRecord,
    NewManifest,
)
from ledger.core.trust import LOCAL_CHAIN_IDS
from ledger.core.vocabulary import RECEIPT_VERSION
from ledger.errors import AlreadyExists, LedgerError, NotFound, StorageError
from ledger.metrics import Metrics
from ledger.storage.assets import AssetStore
from ledger.storage.chain_proofs import ChainProofStore
from ledger.storage.creator_records import CreatorRecordStore
from ledger.storage.creators import CreatorStore, Verification
from ledger.storage.dataset_checks import DatasetCheckStore
from ledger.storage.manifests import ManifestStore
from ledger.storage.request_nonces import RequestNonces
from ledger.storage.statements import StatementStore
from ledger.storage.uploads import UploadStore

log = logging.getLogger(__name__)

Accepted = tuple[ManifestRecord, bool, dict[str, Any]]

# Proof reads hit few batches at a time; keeping their trees avoids re-reading levels.
_TREE_CACHE = 64

#: After an intake write failed, /healthz reports the database failing until a write
#: succeeds or this many seconds pass: the database probe only reads, and a full disk
#: still answers reads. The expiry lets a replica that no longer gets writes (its
#: health sent them elsewhere) report healthy again and be tried once more.
WRITE_FAILURE_TTL_S = 10.0


@dataclass(frozen=True)
class ChainInfo:
    """Where anchors go: the facts every proof bundle repeats."""

    chain_id: int
    registry: str
    # What /v1/service publishes besides: the splitter's address, and an RPC URL a client
    # may use (the operator's own URL can carry an API key, so it is only published when
    # set as `public_rpc_url`, or when it is the embedded anvil on loopback).
    splitter: str | None = None
    public_rpc_url: str | None = None


@dataclass(frozen=True)
class ServiceParts:
    """What a `ServiceContext` works with, every one built before it."""

    manifests: ManifestStore
    creators: CreatorStore
    writer: IntakeWriter
    receipts: ReceiptSigner
    #: Usage intake and usage receipts.
    usage: UsageService
    #: Buyer views, co-signing, statements, split requests (without a splitter the
    #: ones that need it answer Unavailable).
    accounts: RoyaltyAccounts
    #: Checks manifests and signs receipts in worker processes; None checks in this one.
    verifier: Verifier | None
    #: 1.1 uploads and their chunks, and every manifest's asset rows.
    uploads: UploadStore
    assets: AssetStore
    #: Every accepted creator action, as anchored.
    creator_records: CreatorRecordStore
    #: Block headers and state proofs from the node, and their cache (evidence).
    state_proofs: StateProofs
    chain_proofs: ChainProofStore
    #: Lifecycle statements, and the asset histories replayed from them (issue 17).
    statements: StatementStore
    status_book: StatusBook
    #: Dataset checks' licence snapshots, as anchored.
    dataset_checks: DatasetCheckStore
    #: The event outbox and its pull feed, and webhook subscriptions (issue 17).
    events: Announcer
    webhooks: Webhooks
    #: RSL documents and the OLP licence server (issue 19).
    licensing: WebLicensing
    #: Nonces of signed requests seen within the freshness window (replays).
    request_nonces: RequestNonces


class ServiceContext:
    """The service's operations, shared by handlers and the CLI's in-process demo."""

    def __init__(
        self,
        anchoring: AnchoringSettings,
        metrics: Metrics,
        parts: ServiceParts,
        chain: ChainInfo,
        health_checks: dict[str, Callable[[], Awaitable[None]]],
        *,
        creator_domain_url: str | None = None,
    ) -> None:
        self.anchoring = anchoring
        self._creator_domain_url = creator_domain_url
        self.metrics = metrics
        self.manifests = parts.manifests
        self.creators = parts.creators
        self._records = parts.creator_records
        self.usage = parts.usage
        self.accounts = parts.accounts
        #: Announce events here (`ledger.app.events`); the feed and subscriptions.
        self.events = parts.events
        self.webhooks = parts.webhooks
        self.licensing = parts.licensing
        self.request_nonces = parts.request_nonces
        self.verifier = parts.verifier
        self.chain = chain
        self._writer = parts.writer
        self._receipts = parts.receipts
        #: Intake receipts, signed once and stored with their manifests.
        self.receipts = ReceiptBook(parts.receipts, parts.manifests, parts.verifier,
                                    lambda: self.anchoring.promise_ms)
        self._keys = CreatorKeys(parts.creators)
        self._health_checks = health_checks
        self._probes: dict[str, tuple[bool, float]] = {}
        self._write_failure: tuple[float, str] | None = None
        for name in health_checks:
            metrics.gauge(
                f"ledger_{name}_up",
                f"1 if the last health probe of the {name} answered, 0 if it failed or none ran.",
                partial(self._probe_up, name),
            )
            metrics.gauge(
                f"ledger_{name}_probe_seconds",
                f"How long the last health probe of the {name} took (up to its timeout).",
                partial(self._probe_seconds, name),
            )
        self._trees: OrderedDict[int, MerkleTree] = OrderedDict()
        self.queue_depth = 0
        #: Each creator's accepted actions, with their proofs.
        self.creator_history = CreatorHistory(parts.creators, parts.creator_records,
                                              parts.manifests, self._leaf_bundle)
        self.library = Library(parts.uploads, parts.assets, parts.manifests, self._keys,
                               parts.verifier, receipt=self.receipts.of,
                               batch_bundle=self.batch_bundle)
        self.statements = Statements(
            parts.statements, parts.manifests, parts.assets, self._keys, parts.status_book,
            deployment=self.deployment, operator_key=parts.receipts.public_key,
            leaf_bundle=self.stored_leaf_bundle, events=parts.events,
        )
        self.dataset_checks = DatasetChecks(
            parts.dataset_checks, parts.assets, parts.statements, parts.receipts,
            deployment=self.deployment, leaf_bundle=self.stored_leaf_bundle,
        )
        self.evidence = EvidenceIssuer(
            parts.manifests, self.library,
            Finality(parts.state_proofs, anchoring.evidence_depth), parts.state_proofs,
            parts.chain_proofs, receipt=self.receipts.of, batch_bundle=self.batch_bundle,
            creator_records=self.creator_history.actions, statements=self.statements.about_asset,
        )

    def service_json(self) -> dict[str, Any]:
        """What a client pins before trusting this service's receipts and proofs: the
        key receipts are signed with, and the chain and registry anchors go to."""
        return {
            "receiptKey": self._receipts.public_key,
            "receiptVersion": RECEIPT_VERSION,
            "chainId": self.chain.chain_id,
            "registry": self.chain.registry,
            "deployment": self.deployment,
            "splitter": self.chain.splitter,
            "rpcUrl": self.chain.public_rpc_url,
            # Blocks on top of an anchor before its proofs are served: what
            # `ledger submit --wait` counts toward (issue 12).
            "confirmations": self.anchoring.confirmations,
            # How a 1.1 manifest's assets may be sent (POST /v1/uploads).
            "assetChunkSizeMax": MAX_CHUNK_SIZE,
            "assetChunkSizeDefault": DEFAULT_CHUNK_SIZE,
        }

    # -- intake --------------------------------------------------------------------

    async def accept(self, objs: Sequence[Any]) -> list[Accepted]:
        """Verify and store manifests; the first bad one raises and none is stored."""
        verified = []
        for checked in await verify_many(objs, self._keys, self.verifier):
            if isinstance(checked, LedgerError):
                raise checked
            verified.append(checked)
        return await self._with_receipts(await self._store(verified))

    async def accept_many(self, objs: Sequence[Any]) -> list[Accepted | LedgerError]:
        """Verify each manifest on its own; store the good ones, report the bad ones."""
        checked = await verify_many(objs, self._keys, self.verifier, field="manifests")
        good = [c for c in checked if isinstance(c, NewManifest)]
        stored = iter(await self._with_receipts(await self._store(good)) if good else [])
        return [c if isinstance(c, LedgerError) else next(stored) for c in checked]

    async def _store(self, manifests: list[NewManifest]) -> list[tuple[ManifestRecord, bool]]:
        """Sign their receipts, then write through the group-commit writer, remembering
        whether writes fail."""
        signed = await self.receipts.sign_new(manifests)
        try:
            rows = await self._writer.add(signed)
        except StorageError as exc:
            self._write_failure = (time.monotonic(), exc.message)
            raise
        self._write_failure = None
        return rows

    async def _with_receipts(self, rows: list[tuple[ManifestRecord, bool]]) -> list[Accepted]:
        out = []
        for record, created in rows:
            if created:
                self.metrics.accepted.inc()
            else:
                self.metrics.duplicates.inc()
            out.append((record, created, (await self.receipts.of(record)).to_obj()))
        return out

    # -- proofs --------------------------------------------------------------------

    async def proof_bundle(
        self, record: ManifestRecord, batch: BatchRecord | None
    ) -> ProofBundle | None:
        """The bundle of a confirmed manifest in `batch`, or None while it is not confirmed."""
        if record.status != BatchStatus.CONFIRMED or batch is None or batch.anchor is None:
            return None
        return await self.batch_bundle(record, batch)

    async def batch_bundle(
        self, record: ManifestRecord, batch: BatchRecord | None
    ) -> ProofBundle | None:
        """The bundle of a manifest in `batch`, its anchor None until the batch is confirmed;
        None while the manifest awaits a batch."""
        if batch is None or record.leaf_index is None:
            return None
        return await self._leaf_bundle(record.digest, record.leaf_index, record.status, batch)

    async def _leaf_bundle(
        self, digest: bytes, leaf_index: int, status: str, batch: BatchRecord
    ) -> ProofBundle:
        """The bundle of leaf `digest` of `batch`, anchored once its `status` is confirmed."""
        tree = await self._tree(batch.number, batch.leaf_count)
        if status != BatchStatus.CONFIRMED or batch.anchor is None:
            return ProofBundle.build(tree, leaf_index, digest)
        anchor = Anchor(
            chain_id=self.chain.chain_id,
            contract=self.chain.registry,
            batch_number=batch.number,
            tx_hash=batch.anchor.tx_hash,
            block_number=batch.anchor.block_number,
            block_hash=batch.anchor.block_hash,
            block_timestamp=batch.anchor.block_timestamp,
        )
        return ProofBundle.build(tree, leaf_index, digest, anchor=anchor)

    async def stored_leaf_bundle(self, digest: bytes, batch_number: int | None,
                                 leaf_index: int | None) -> ProofBundle | None:
        """The bundle of a leaf stored with its batch and place (a statement): anchored once
        the batch is confirmed; None while it awaits a batch."""
        if batch_number is None or leaf_index is None:
            return None
        batch = await self.manifests.batch(batch_number)
        if batch is None:
            return None
        return await self._leaf_bundle(digest, leaf_index, batch.status, batch)

    async def _tree(self, number: int, leaf_count: int) -> MerkleTree:
        tree = self._trees.get(number)
        if tree is None:
            blob = await self.manifests.levels(number)
            if blob is None:
                raise StorageError(f"batch {number} has no stored tree")
            tree = split_levels(blob, leaf_count)
            self._trees[number] = tree
            if len(self._trees) > _TREE_CACHE:
                self._trees.popitem(last=False)
        else:
            self._trees.move_to_end(number)
        return tree

    # -- creators ------------------------------------------------------------------

    @property
    def deployment(self) -> str:
        """The deployment creator actions must name (`ledger.core.creators.deployment_id`)."""
        return deployment_id(self.chain.chain_id, self.chain.registry)

    async def creator_action(self, obj: Any) -> tuple[dict[str, Any], bool]:
        """Apply a signed register / add-key / revoke-key / recover; return the creator's
        view and whether the action changed anything (revoking a key revoked already
        does not). Nothing is stored unless every check passes; an action that changed
        something is kept as a creator record, in the same transaction."""
        action = CreatorAction.from_obj(obj)
        record = NewCreatorRecord(
            action.action, record_digest(action), canonicalize(action.to_obj())
        )
        now = now_ms()
        action.check_context(now, self.deployment)
        creator = await self.creators.get(action.creator_id)
        if action.action == "register":
            if creator is not None:
                raise AlreadyExists(f"creator {action.creator_id} already exists")
            action.check_id()
            action.verify(None)
            await self._register(action, record, now)
            changed = True
        else:
            if creator is None:
                raise NotFound(f"no creator {action.creator_id}")
            action.verify(creator.key_state())
            changed = await self._apply_action(action, record, now)
        self._keys.forget(action.creator_id)
        return await self.creator_json(action.creator_id), changed

    async def _register(self, action: CreatorAction, record: NewCreatorRecord, now: int
                        ) -> None:
        assert action.recovery_key is not None  # from_obj requires it in a register
        verification = await self._verify_id(action, now)
        if not await self.creators.register(
            action.creator_id, action.keys, action.recovery_key, verification, now,
            record=record,
        ):
            raise AlreadyExists(f"creator {action.creator_id} already exists")

    async def _verify_id(self, action: CreatorAction, now: int) -> Verification:
        """How the new id is bound to its holder; docs/security.md section 5."""
        method = verification_method(action.creator_id)
        if method == KEY:
            return Verification(KEY, now, "key: the id is derived from the first signing key")
        if method == DOMAIN:
            url, document = await fetch_document(
                domain_of(action.creator_id), base_url=self._creator_domain_url
            )
            check_domain_document(document, action.creator_id, action.listed_keys())
            return Verification(DOMAIN, now, f"domain: {url} listed the id and its keys")
        # A local dev chain proves nothing to anyone (docs/security.md section 1): only
        # the demo and local walkthroughs run there, so plain names need no operator.
        if self.chain.chain_id in LOCAL_CHAIN_IDS:
            return Verification(OPERATOR, now, "operator (local chain: approved automatically)")
        return Verification(OPERATOR, None, "operator: awaiting approval")

    async def _apply_action(self, action: CreatorAction, record: NewCreatorRecord, now: int
                            ) -> bool:
        creator_id = action.creator_id
        if action.action == "add-key":
            signers = [key for key, _ in action.signatures if key != action.keys[0]]
            await self.creators.add_key(creator_id, action.keys[0], now, authorised_by=signers,
                                        record=record)
            return True
        if action.action == "recover":
            assert action.recovery_key is not None  # from_obj requires it in a recover
            await self.creators.recover(creator_id, action.keys, action.recovery_key, now,
                                        record=record)
            return True
        return await self.creators.revoke_key(creator_id, action.keys[0], now, record=record)

    async def creator_json(self, creator_id: str) -> dict[str, Any]:
        """A creator's verification and keys with their roles and validity; NotFound for
        an unknown creator."""
        creator = await self.creators.get(creator_id)
        if creator is None:
            raise NotFound(f"no creator {creator_id}")
        return {
            "creatorId": creator_id,
            "registeredAt": creator.registered_at,
            "verification": {
                "method": creator.verification,
                "verified": creator.verified,
                "verifiedAt": creator.verified_at,
                "detail": creator.detail,
            },
            "keys": [
                {
                    "key": k.public_key,
                    "role": k.role,
                    "addedAt": k.added_at,
                    "revokedAt": k.revoked_at,
                }
                for k in creator.keys
            ],
        }

    async def batch_kinds(self, batches: Sequence[BatchRecord]) -> list[BatchKind]:
        """What each batch's leaves are the digests of, in order."""
        kinds = await self._records.batch_kinds([b.number for b in batches])
        return [kinds[b.number] for b in batches]

    async def refresh_queue_depth(self) -> None:
        """Update `queue_depth` (manifests waiting for a batch) for the metrics gauge."""
        self.queue_depth, _ = await self.manifests.pending_stats()

    # -- health --------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """Each dependency's state; ok only when all answer and intake writes succeed.

        Also updates the ``ledger_<dependency>_up`` and ``_probe_seconds`` gauges.
        """
        parts: dict[str, Any] = {name: await self._probe(name) for name in self._health_checks}
        parts["database"] = self._with_writes(parts["database"])
        try:
            parts["queueDepth"], _ = await self.manifests.pending_stats()
        except Exception as exc:
            parts["database"] = f"unavailable: {_first_line(exc)}"
        ok = all(v == "ok" for k, v in parts.items() if k != "queueDepth")
        return {"ok": ok, **parts}

    async def readiness(self) -> dict[str, Any]:
        """Whether this process can take manifests and usage events: its database
        answers and intake writes succeed. The chain is not asked: intake never waits
        for it (a load balancer keyed on `health` would stop intake in a chain outage)."""
        database = self._with_writes(await self._probe("database"))
        return {"ready": database == "ok", "database": database}

    async def _probe(self, name: str) -> str:
        """Run one dependency's health check: "ok" or why not."""
        started = time.monotonic()
        try:
            await self._health_checks[name]()
            state = "ok"
        except Exception as exc:  # a health probe reports any failure, never raises
            state = f"unavailable: {_first_line(exc)}"
        self._probes[name] = (state == "ok", time.monotonic() - started)
        return state

    def _with_writes(self, database: str) -> str:
        write_failure = self._recent_write_failure()
        if write_failure is not None and database == "ok":
            return f"unavailable: writes failing: {write_failure}"
        return database

    def _probe_up(self, name: str) -> float:
        return 1.0 if self._probes.get(name, (False, 0.0))[0] else 0.0

    def _probe_seconds(self, name: str) -> float:
        return self._probes.get(name, (False, 0.0))[1]

    def _recent_write_failure(self) -> str | None:
        if self._write_failure is None:
            return None
        failed_at, message = self._write_failure
        if time.monotonic() - failed_at > WRITE_FAILURE_TTL_S:
            return None
        return message


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
