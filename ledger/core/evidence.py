"""Evidence packages (``ledger-evidence/1``): one asset linked to one block.

A package carries every document between a file and the chain: the asset entry and
its disclosure proof, the signed manifest, the creator's signed and anchored key
records, the manifest's batch proof, the intake receipt, and the chain evidence (a
block header and EIP-1186 proofs) that lets a verifier holding one trusted block hash
check every anchor with no node. docs/proof-format.md section 9 gives the bytes;
`ledger.core.evidence_check` the verification.

Reading checks only the shape (members, types, hex); whether the parts are true is
the verifier's job, so a tampered part becomes a failed step, not a parse error.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from ledger.core.canonical import canonicalize
from ledger.core.fields import Fields, show
from ledger.core.hashing import to_hex
from ledger.core.proof import parse_proof_json
from ledger.core.vocabulary import EVIDENCE_VERSION

#: An RLP trie node or block header: 1 to 4,096 bytes of lower-case hex.
_NODE = re.compile(r"0x(?:[0-9a-f]{2}){1,4096}")
_NODE_TEXT = "0x and an even number of lower-case hex digits (1 to 4,096 bytes)"
# A Patricia path has at most 64 nibbles, so at most 65 nodes; more is not a proof.
_MAX_NODES = 65
# Creator records: a register, then each key change up to the manifest's acceptance.
_MAX_RECORDS = 256
_MEMBERS = ("version", "asset", "assetIndex", "assetProof", "manifest", "manifestProof",
            "receipt", "creatorRecords", "manifestRecords", "statements", "chain")
# Lifecycle statements about one asset: revocations, amendments, grants, cases.
_MAX_STATEMENTS = 1024
_CHAIN_MEMBERS = ("chainId", "registry", "blockNumber", "blockHeader", "accountProof",
                  "anchorProofs")


@dataclass(frozen=True)
class ChainEvidence:
    """Block `block_number`'s header and the registry's state in it: the account proof
    of `registry` and, per batch root, the storage proof of its anchor record."""

    chain_id: int
    registry: str
    block_number: int
    block_header: bytes
    account_proof: tuple[bytes, ...]
    anchor_proofs: tuple[tuple[bytes, tuple[bytes, ...]], ...]

    @classmethod
    def from_obj(cls, obj: Any, where: str = "chain") -> ChainEvidence:
        """Read the ``chain`` member; ValidationError names the bad member."""
        fields = Fields.of_object(obj, where, allowed=_CHAIN_MEMBERS, required=_CHAIN_MEMBERS,
                                  got=True)
        proofs = fields.array("anchorProofs", 1, _MAX_RECORDS + 1)
        anchor_proofs = []
        for index in range(len(proofs)):
            item = proofs.object(index, ("root", "proof"), ("root", "proof"))
            anchor_proofs.append((item.hex_bytes("root"), _nodes(item, "proof")))
        roots = [root for root, _ in anchor_proofs]
        if roots != sorted(set(roots)):
            fields.fail("anchorProofs", "must be sorted by root, each root once")
        return cls(
            chain_id=fields.integer("chainId", 1),
            registry=fields.checksummed_address("registry"),
            block_number=fields.integer("blockNumber", 0),
            block_header=fields.hex_bytes("blockHeader", _NODE, _NODE_TEXT),
            account_proof=_nodes(fields, "accountProof"),
            anchor_proofs=tuple(anchor_proofs),
        )

    def to_obj(self) -> dict[str, Any]:
        """The JSON object `from_obj` reads."""
        return {
            "chainId": self.chain_id,
            "registry": self.registry,
            "blockNumber": self.block_number,
            "blockHeader": to_hex(self.block_header),
            "accountProof": [to_hex(node) for node in self.account_proof],
            "anchorProofs": [
                {"root": to_hex(root), "proof": [to_hex(node) for node in proof]}
                for root, proof in self.anchor_proofs
            ],
        }

    def anchor_proof(self, root: bytes) -> tuple[bytes, ...] | None:
        """The storage proof of `root`'s anchor record, or None if the package has none."""
        return next((proof for r, proof in self.anchor_proofs if r == root), None)


@dataclass(frozen=True)
class Evidence:
    """A parsed evidence package. The documents inside (manifest, bundles, receipt,
    creator records) stay JSON objects: the verifier reads and checks each in its step.

    ``asset_proof`` is None for a 1.0 manifest, whose ``manifest`` lists every asset.
    ``manifest_records`` is how many of ``creator_records`` were in force when the
    manifest was accepted; each of ``statements`` (statement, bundle, records in force
    when it was accepted) is a lifecycle statement about the asset.
    """

    asset: dict[str, Any]
    asset_index: int
    asset_proof: tuple[bytes, ...] | None
    manifest: dict[str, Any]
    manifest_proof: dict[str, Any]
    receipt: dict[str, Any]
    creator_records: tuple[tuple[dict[str, Any], dict[str, Any]], ...]
    manifest_records: int
    statements: tuple[tuple[dict[str, Any], dict[str, Any], int], ...]
    chain: ChainEvidence

    @classmethod
    def from_json(cls, data: bytes | str) -> Evidence:
        """Parse strictly (RFC 8785 input rules) and read; LedgerError names the member."""
        return cls.from_obj(parse_proof_json(data))

    @classmethod
    def from_obj(cls, obj: Any) -> Evidence:
        """Read a decoded package; ValidationError names the first bad member."""
        fields = Fields.of_object(obj, "", allowed=_MEMBERS, required=_MEMBERS, got=True)
        if obj["version"] != EVIDENCE_VERSION:
            fields.fail("version", f'must be "{EVIDENCE_VERSION}", got {show(obj["version"])}')
        records = fields.array("creatorRecords", 0, _MAX_RECORDS)
        creator_records = []
        for index in range(len(records)):
            item = records.object(index, ("record", "proof"), ("record", "proof"))
            creator_records.append((_object(item, "record"), _object(item, "proof")))
        return cls(
            asset=_object(fields, "asset"),
            asset_index=fields.integer("assetIndex", 0),
            asset_proof=None if obj["assetProof"] is None else _hashes(fields, "assetProof"),
            manifest=_object(fields, "manifest"),
            manifest_proof=_object(fields, "manifestProof"),
            receipt=_object(fields, "receipt"),
            creator_records=tuple(creator_records),
            manifest_records=fields.integer("manifestRecords", min(1, len(creator_records)),
                                            len(creator_records)),
            statements=_statements(fields, len(creator_records)),
            chain=ChainEvidence.from_obj(obj["chain"]),
        )

    def to_obj(self) -> dict[str, Any]:
        """The JSON object `from_obj` reads."""
        return {
            "version": EVIDENCE_VERSION,
            "asset": _copy(self.asset),
            "assetIndex": self.asset_index,
            "assetProof": None if self.asset_proof is None
            else [to_hex(sibling) for sibling in self.asset_proof],
            "manifest": _copy(self.manifest),
            "manifestProof": _copy(self.manifest_proof),
            "receipt": _copy(self.receipt),
            "creatorRecords": [
                {"record": _copy(record), "proof": _copy(proof)}
                for record, proof in self.creator_records
            ],
            "manifestRecords": self.manifest_records,
            "statements": [
                {"statement": _copy(statement), "proof": _copy(proof), "records": records}
                for statement, proof, records in self.statements
            ],
            "chain": self.chain.to_obj(),
        }

    def to_json(self) -> bytes:
        """RFC 8785 canonical JSON: what the service serves and ``ledger evidence`` writes."""
        return canonicalize(self.to_obj())


def _statements(fields: Fields, records: int) -> tuple[tuple[dict[str, Any], dict[str, Any],
                                                                int], ...]:
    items = fields.array("statements", 0, _MAX_STATEMENTS)
    out = []
    for index in range(len(items)):
        item = items.object(index, ("statement", "proof", "records"),
                            ("statement", "proof", "records"))
        out.append((_object(item, "statement"), _object(item, "proof"),
                    item.integer("records", 0, records)))
    return tuple(out)


def _nodes(fields: Fields, name: str) -> tuple[bytes, ...]:
    nodes = fields.array(name, 1, _MAX_NODES, expected="an array of hex RLP nodes")
    return tuple(nodes.hex_bytes(i, _NODE, _NODE_TEXT) for i in range(len(nodes)))


def _hashes(fields: Fields, name: str) -> tuple[bytes, ...]:
    hashes = fields.array(name, 0, 64, expected="an array of hashes, or null")
    return tuple(hashes.hex_bytes(i) for i in range(len(hashes)))


def _object(fields: Fields, name: str) -> dict[str, Any]:
    value = fields[name]
    if not isinstance(value, dict):
        fields.fail(name, "must be a JSON object")
    return _copy(value)


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(obj)
