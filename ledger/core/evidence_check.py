"""Verifying an evidence package, step by step, against the verifier's own pins.

Every fact the verdict reports comes from the verifier's pins, the block hash it
trusts, and proofs checked against them; nothing is believed because the package says
it. Each step either passes, fails with the reason, or was not checked (its input
failed earlier, or the verifier gave nothing to check it against). docs/proof-format.md
section 9 lists the steps; `ledger verify` and the verifier page print them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from ledger.core.asset_tree import entry_bytes, entry_hash, root_from_asset_proof
from ledger.core.canonical import canonicalize
from ledger.core.chain_state import (
    AccountState,
    AnchorState,
    BlockHeader,
    parse_header,
    verify_account,
    verify_anchor_state,
)
from ledger.core.creators import (
    CreatorAction,
    deployment_id,
    record_digest,
    replay,
)
from ledger.core.evidence import Evidence
from ledger.core.hashing import to_hex
from ledger.core.licence_status import AssetRef, History, notice_ms
from ledger.core.manifest import AnyManifest, ManifestHeader, parse_manifest
from ledger.core.merkle import proof_nodes
from ledger.core.proof import ProofBundle, verify_bundle
from ledger.core.receipt import Receipt
from ledger.core.rights import licence_ids
from ledger.core.signing import verify_manifest
from ledger.core.statements import ANYONE, SIGNERS, Statement, authorise
from ledger.core.times import iso_utc
from ledger.core.trust import TrustRoot
from ledger.core.verdict import Step, Verdict, binding_of, statement_of
from ledger.errors import LedgerError

T = TypeVar("T")

class _NotChecked(Exception):
    """A step cannot run: what it needs failed or was not given."""


@dataclass(frozen=True)
class _Root:
    """A batch root the package relies on, with what its bundle claims about it."""

    what: str
    bundle: ProofBundle


def verify_evidence(
    evidence: Evidence,
    trust: TrustRoot,
    code_hashes: Collection[bytes],
    *,
    block_hash: bytes | None,
    block_source: str = "",
    file_name: str | None = None,
    file_sha256: bytes | None = None,
    canonical_hashes: Mapping[int, bytes] | None = None,
) -> Verdict:
    """Check `evidence` against the verifier's pins: `trust` (chain, registry, and the
    service key if pinned), the registry `code_hashes` it accepts, and `block_hash`, the
    hash it trusts for the package's block (from `block_source`, for output). With
    `file_sha256`, the file must be the asset. `canonical_hashes` (block number -> hash,
    from a node the verifier chose) also checks every anchor's own block is canonical.
    Never raises for a bad part: it becomes a failed step."""
    return _Checker(evidence, trust, code_hashes, block_hash, block_source,
                    canonical_hashes or {}).run(file_name, file_sha256)


class _Checker:
    """Runs the steps in order, keeping what each proved for the ones after it."""

    def __init__(
        self, evidence: Evidence, trust: TrustRoot, code_hashes: Collection[bytes],
        block_hash: bytes | None, block_source: str, canonical: Mapping[int, bytes],
    ) -> None:
        self.ev = evidence
        self.trust = trust
        self.code_hashes = code_hashes
        self.block_hash = block_hash
        self.block_source = block_source
        self.canonical = canonical
        self.steps: list[Step] = []
        self.manifest: AnyManifest | None = None
        self.bundle: ProofBundle | None = None
        self.roots: list[_Root] = []
        self.header: BlockHeader | None = None
        self.account: AccountState | None = None
        self.anchored: AnchorState | None = None
        self.actions: list[CreatorAction] | None = None
        self.history: History | None = None
        self.asset_checked = False

    def run(self, file_name: str | None, file_sha256: bytes | None) -> Verdict:
        """Every step, then the verdict."""
        if file_sha256 is not None:
            self._step("file", lambda: self._file(file_sha256))
        self._step("asset", self._asset)
        self._step("manifest", self._manifest)
        self._step("creator", self._creator)
        self._step("licence", self._licence)
        self._step("receipt", self._receipt)
        self._step("batch", self._batch)
        self._step("registry", self._registry)
        self._step("anchor", self._anchor)
        self._step("block", self._block)
        return self._verdict(file_name, file_sha256)

    def _step(self, name: str, check: Callable[[], str]) -> None:
        try:
            self.steps.append(Step(name, True, check()))
        except _NotChecked as exc:
            self.steps.append(Step(name, None, str(exc)))
        except LedgerError as exc:
            self.steps.append(Step(name, False, str(exc)))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            # A part of the wrong shape that no reader above refused by name.
            self.steps.append(Step(name, False, f"a part is malformed ({exc!r})"))

    # -- the file and the documents ------------------------------------------------

    def _file(self, file_sha256: bytes) -> str:
        named = self.ev.asset.get("hash")
        if named != "sha256:" + file_sha256.hex():
            raise LedgerError(f"the file's SHA-256 is {file_sha256.hex()}, but the asset "
                              f"names {named}: this is not the registered file")
        return f"the file's SHA-256 is the asset's hash ({file_sha256.hex()})"

    def _asset(self) -> str:
        ev = self.ev
        entry = entry_bytes(ev.asset, "asset")
        version = ev.manifest.get("manifestVersion")
        if ev.asset_proof is None:
            assets = ev.manifest.get("assets")
            if version != "1.0" or not isinstance(assets, list):
                raise LedgerError("assetProof is null, but the manifest is not a 1.0 manifest "
                                  "listing its assets")
            if not ev.asset_index < len(assets) or canonicalize(assets[ev.asset_index]) != entry:
                raise LedgerError(f"the manifest's asset {ev.asset_index} is not this asset")
            self.asset_checked = True
            return f"asset {ev.asset_index} of the manifest's {len(assets)} listed assets"
        header = ManifestHeader.from_obj(ev.manifest)
        count = header.asset_count
        if not ev.asset_index < count:
            raise LedgerError(f"assetIndex {ev.asset_index} is not below assetCount {count}")
        needed = len(proof_nodes(count, ev.asset_index))
        if len(ev.asset_proof) != needed:
            raise LedgerError(f"assetProof: asset {ev.asset_index} of {count} needs {needed} "
                              f"hashes, got {len(ev.asset_proof)}")
        if root_from_asset_proof(ev.asset_index, entry_hash(entry), ev.asset_proof) != (
            header.assets_root
        ):
            raise LedgerError("assetProof does not lead from the asset to the manifest's "
                              "signed assetsRoot")
        self.asset_checked = True
        return f"asset {ev.asset_index} of {count}, disclosed under the signed assetsRoot"

    def _manifest(self) -> str:
        manifest = parse_manifest(self.ev.manifest)
        verify_manifest(manifest)
        self.manifest = manifest
        return (f"manifest {manifest.digest_hex()} signed by {manifest.creator.id} with "
                f"{manifest.creator.signing_key}")

    def _creator(self) -> str:
        manifest = self._checked_manifest()
        if not self.ev.creator_records:
            raise LedgerError("the package holds no creator-key record")
        actions: list[CreatorAction] = []
        roots: list[_Root] = []
        for index, (record, proof) in enumerate(self.ev.creator_records):
            action = _within(f"creatorRecords[{index}].record",
                             partial(CreatorAction.from_obj, record))
            bundle = _within(f"creatorRecords[{index}].proof",
                             partial(_anchored_bundle, proof, self.trust))
            if bundle.manifest_digest != record_digest(action):
                raise LedgerError(f"creatorRecords[{index}].proof proves another record")
            actions.append(action)
            roots.append(_Root(f"creator record {index} ({action.action})", bundle))
        expected = deployment_id(self.trust.chain_id or 0, self.trust.registry or "")
        for index, action in enumerate(actions):
            if action.deployment != expected:
                raise LedgerError(f"creatorRecords[{index}] was signed for {action.deployment}, "
                                  f"not your pinned deployment {expected}")
        _within("creatorRecords", lambda: replay(actions))
        creator_id, key = manifest.creator.id, manifest.creator.signing_key
        if actions[0].creator_id != creator_id:
            raise LedgerError(f"the records are {actions[0].creator_id}'s, the manifest "
                              f"names {creator_id}")
        in_force = self.ev.manifest_records
        if key not in replay(actions[:in_force]).signing:
            raise LedgerError(f"{key} is not a signing key of {creator_id} after the "
                              f"{in_force} record(s) in force when the manifest was accepted")
        self.roots.extend(roots)
        self.actions = actions
        return f"{key} is a signing key of {creator_id} ({binding_of(creator_id)})"

    def _licence(self) -> str:
        manifest = self._checked_manifest()
        actions = self._need(self.actions, "creator")
        if not self.asset_checked:  # the notice comes from the asset's licences
            raise _NotChecked("needs the asset step, which did not pass")
        statements: list[Statement] = []
        roots: list[_Root] = []
        for index, (obj, proof, records) in enumerate(self.ev.statements):
            where = f"statements[{index}]"
            statement = _within(f"{where}.statement", partial(Statement.from_obj, obj))
            _within(f"{where}.statement", statement.verify)
            self._check_statement(statement, manifest, where)
            creator_keys = replay(actions[:records]).signing
            if self.trust.service_key is None and statement.signer not in creator_keys and (
                    ANYONE not in SIGNERS[statement.type]):
                raise _NotChecked(f"{where} is signed by the operator: pin the service key "
                                  "(--service) to check it")
            _within(where, partial(authorise, statement, creator_keys=creator_keys,
                                   operator_key=self.trust.service_key or ""))
            bundle = _within(f"{where}.proof", partial(_anchored_bundle, proof, self.trust))
            if bundle.manifest_digest != statement.digest():
                raise LedgerError(f"{where}.proof proves another statement")
            statements.append(statement)
            roots.append(_Root(f"statement {index} ({statement.type})", bundle))
        asset = AssetRef(manifest.digest(), str(self.ev.asset.get("id")),
                         notice_ms(self.ev.asset))
        history = History(asset, statements)
        for index, statement in enumerate(statements):
            reason = history.dropped.get(statement.digest())
            if reason is not None:
                raise LedgerError(f"statements[{index}] breaks the licence rules: {reason}")
        self.roots.extend(roots)
        self.history = history
        return (f"{len(statements)} lifecycle statement(s) about the asset, each signed by "
                "whom the rules allow" if statements else "no lifecycle statement about the asset")

    def _check_statement(self, statement: Statement, manifest: AnyManifest, where: str) -> None:
        expected = deployment_id(self.trust.chain_id or 0, self.trust.registry or "")
        if statement.deployment != expected:
            raise LedgerError(f"{where} was signed for {statement.deployment}, not your "
                              f"pinned deployment {expected}")
        if not statement.target.covers(manifest.digest(), str(self.ev.asset.get("id"))):
            raise LedgerError(f"{where} is about another asset")

    def _receipt(self) -> str:
        manifest = self._checked_manifest()
        if self.trust.service_key is None:
            raise _NotChecked("no service key pinned (pin one with --service)")
        receipt = Receipt.from_obj(self.ev.receipt)
        self.trust.check_receipt(receipt)
        if receipt.manifest_digest != manifest.digest():
            raise LedgerError("the receipt is for another manifest")
        accepted = iso_utc(receipt.accepted_at // 1000)
        return f"the pinned service accepted the manifest at {accepted}"

    def _batch(self) -> str:
        manifest = self._checked_manifest()
        bundle = _within("manifestProof", lambda: _anchored_bundle(
            self.ev.manifest_proof, self.trust))
        if bundle.manifest_digest != manifest.digest():
            raise LedgerError("manifestProof proves another manifest digest")
        self.bundle = bundle
        self.roots.insert(0, _Root("manifest", bundle))
        return (f"leaf {bundle.leaf_index} of {bundle.leaf_count} under root "
                f"{to_hex(bundle.root)} (batch {_anchor_of(bundle).batch_number})")

    # -- the chain ---------------------------------------------------------------------

    def _registry(self) -> str:
        chain = self.ev.chain
        if (chain.chain_id, chain.registry) != (self.trust.chain_id, self.trust.registry):
            raise LedgerError(f"the package proves registry {chain.registry} on chain "
                              f"{chain.chain_id}, but you pinned {self.trust.registry} on "
                              f"chain {self.trust.chain_id}")
        header = parse_header(chain.block_header)
        if header.number != chain.block_number:
            raise LedgerError(f"chain.blockHeader is block {header.number}, not "
                              f"{chain.block_number}")
        account = verify_account(header.state_root, chain.registry, chain.account_proof)
        if account.code_hash not in self.code_hashes:
            raise LedgerError(f"the code at {chain.registry} (hash "
                              f"{to_hex(account.code_hash)}) is not the pinned AnchorRegistry")
        self.header, self.account = header, account
        return f"AnchorRegistry {chain.registry} on chain {chain.chain_id}, code as pinned"

    def _anchor(self) -> str:
        header = self._need(self.header, "registry")
        account = self._need(self.account, "registry")
        self._need(self.bundle, "batch")
        for root in self.roots:
            state = self._anchor_state(root, account.storage_root, header)
            if root.what == "manifest":
                self.anchored = state
        anchored = self._need(self.anchored, "batch")
        return (f"{len(self.roots)} root(s) anchored by the registry; the manifest's in block "
                f"{anchored.block_number} at {iso_utc(anchored.timestamp)}")

    def _anchor_state(self, root: _Root, storage_root: bytes, header: BlockHeader) -> AnchorState:
        bundle = root.bundle
        anchor = _anchor_of(bundle)
        proof = self.ev.chain.anchor_proof(bundle.root)
        if proof is None:
            raise LedgerError(f"chain.anchorProofs has no proof for the {root.what}'s root")
        state = verify_anchor_state(storage_root, bundle.root, proof)
        if state is None:
            raise LedgerError(f"the registry had not anchored the {root.what}'s root "
                              f"{to_hex(bundle.root)} by block {header.number}")
        claimed = (anchor.batch_number, anchor.block_number, anchor.block_timestamp)
        if claimed != (state.batch_number, state.block_number, state.timestamp):
            raise LedgerError(
                f"the {root.what}'s bundle claims batch {anchor.batch_number}, block "
                f"{anchor.block_number}, time {anchor.block_timestamp}; the registry recorded "
                f"batch {state.batch_number}, block {state.block_number}, time {state.timestamp}")
        if state.block_number == header.number and anchor.block_hash != header.hash:
            raise LedgerError(f"the {root.what}'s bundle names another block hash for block "
                              f"{header.number}")
        canonical = self.canonical.get(anchor.block_number)
        if canonical is not None and canonical != anchor.block_hash:
            raise LedgerError(f"the {root.what}'s anchor block {anchor.block_number} is no "
                              "longer on the chain (reorganised away)")
        return state

    def _block(self) -> str:
        header = self._need(self.header, "registry")
        if self.block_hash is None:
            raise _NotChecked(f"no trusted hash for block {header.number}: give --block-hash "
                              "or --rpc-url")
        if header.hash != self.block_hash:
            raise LedgerError(f"chain.blockHeader hashes to {to_hex(header.hash)}, not the "
                              f"trusted {to_hex(self.block_hash)} ({self.block_source})")
        return f"block {header.number} is {to_hex(header.hash)}, as {self.block_source} says"

    def _checked_manifest(self) -> AnyManifest:
        if self.manifest is None:
            raise _NotChecked("needs the manifest step, which did not pass")
        return self.manifest

    @staticmethod
    def _need(value: T | None, step: str) -> T:
        if value is None:
            raise _NotChecked(f"needs the {step} step, which did not pass")
        return value

    # -- the verdict -------------------------------------------------------------------

    def _verdict(self, file_name: str | None, file_sha256: bytes | None) -> Verdict:
        steps = tuple(self.steps)
        failed = next((s for s in steps if s.ok is False), None)
        unchecked = next((s for s in steps if s.ok is None and s.name != "receipt"), None)
        ok = failed is None and unchecked is None
        facts = self._facts(file_name, file_sha256)
        if ok:
            statement = statement_of(facts)
        else:
            why = failed or unchecked
            assert why is not None
            statement = f"NOT verified: {why.name}: {why.detail}"
        return Verdict(ok, steps, statement, facts)

    def _facts(self, file_name: str | None, file_sha256: bytes | None) -> dict[str, Any]:
        asset = self.ev.asset
        facts: dict[str, Any] = {
            "assetId": asset.get("id"),
            "assetIndex": self.ev.asset_index,
            "sha256": str(asset.get("hash", "")).removeprefix("sha256:"),
            "licences": licence_ids(asset.get("licenses")),
            "file": file_name,
            "fileChecked": file_sha256 is not None,
        }
        if self.manifest is not None:
            facts["creatorId"] = self.manifest.creator.id
            facts["signingKey"] = self.manifest.creator.signing_key
            facts["manifestDigest"] = self.manifest.digest_hex()
        if self.header is not None:
            facts.update(chainId=self.ev.chain.chain_id, registry=self.ev.chain.registry,
                         provenBlock=self.header.number, provenBlockHash=to_hex(self.header.hash))
        if self.anchored is not None:
            facts.update(anchorBlock=self.anchored.block_number,
                         anchoredAt=self.anchored.timestamp,
                         anchoredAtUtc=iso_utc(self.anchored.timestamp))
        if self.history is not None and self.header is not None:
            status = self.history.status(self.header.timestamp * 1000)
            facts.update(licenceStatus=status.to_obj(), statusAtUtc=iso_utc(self.header.timestamp),
                         statements=len(self.history.valid))
        return facts


def _anchored_bundle(obj: dict[str, Any], trust: TrustRoot) -> ProofBundle:
    bundle = ProofBundle.from_obj(obj)
    verify_bundle(bundle)
    trust.check_anchor(bundle)
    return bundle


def _anchor_of(bundle: ProofBundle) -> Any:
    assert bundle.anchor is not None  # `_anchored_bundle` checked it
    return bundle.anchor


def _within(where: str, read: Callable[[], T]) -> T:
    try:
        return read()
    except LedgerError as exc:
        raise LedgerError(f"{where}{'.' + exc.field if exc.field else ''}: {exc.message}"
                          ) from exc
