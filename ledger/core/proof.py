"""Proof bundles (format "ledger-proof/1"): a manifest's inclusion proof, checkable offline.

A bundle carries the manifest digest, its Merkle leaf, position, sibling
hashes and root, and, once the batch is on chain, where the root was anchored.
Anyone can check the proof with the bundle alone (`verify_bundle`, or
OpenZeppelin's ``StandardMerkleTree.verify``); checking the anchor needs the
chain and lives in ``ledger.chain``. docs/proof-format.md gives the exact bytes.

Consensus-critical: bundles already issued must keep parsing and verifying,
so a change to any member or rule needs a new ``version`` and new vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.fields import ADDRESS, Fields, checksummed, show
from ledger.core.hashing import to_hex
from ledger.core.merkle import MerkleTree, leaf_hash, proof_nodes, root_from_proof
from ledger.core.vocabulary import PROOF_VERSION
from ledger.errors import CanonicalJSONError, ProofError

_MAX_LEAF_COUNT = 2**32 - 1  # uint32 leafCount in AnchorRegistry


@dataclass(frozen=True)
class Anchor:
    """Where a batch root was anchored: the transaction and block that hold it."""

    chain_id: int
    contract: str
    batch_number: int
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    block_timestamp: int

    _MEMBERS = (
        "chainId",
        "contract",
        "batchNumber",
        "txHash",
        "blockNumber",
        "blockHash",
        "blockTimestamp",
    )

    @classmethod
    def from_obj(cls, obj: Any, where: str = "anchor") -> Anchor:
        """Parse the ``anchor`` member of a bundle; raises ProofError naming the field."""
        fields = _reader(obj, where, cls._MEMBERS)
        return cls(
            chain_id=fields.integer("chainId", 1),
            contract=_address(fields, "contract"),
            batch_number=fields.integer("batchNumber", 1),
            tx_hash=fields.hex_bytes("txHash"),
            block_number=fields.integer("blockNumber", 0),
            block_hash=fields.hex_bytes("blockHash"),
            block_timestamp=fields.integer("blockTimestamp", 0),
        )

    def to_obj(self) -> dict[str, Any]:
        """The JSON object `from_obj` reads."""
        return {
            "chainId": self.chain_id,
            "contract": self.contract,
            "batchNumber": self.batch_number,
            "txHash": to_hex(self.tx_hash),
            "blockNumber": self.block_number,
            "blockHash": to_hex(self.block_hash),
            "blockTimestamp": self.block_timestamp,
        }


@dataclass(frozen=True)
class ProofBundle:
    """Proof that a manifest digest is a leaf of a batch's Merkle tree.

    ``anchor`` is None until the batch root is confirmed on chain. Bundles
    from `from_json`, `from_obj` and `build` have passed `verify_bundle`.
    """

    manifest_digest: bytes
    leaf: bytes
    leaf_index: int
    leaf_count: int
    proof: tuple[bytes, ...]
    root: bytes
    anchor: Anchor | None = None

    _REQUIRED = ("version", "manifestDigest", "leaf", "leafIndex", "leafCount", "proof", "root")

    @classmethod
    def build(
        cls, tree: MerkleTree, index: int, digest: bytes, anchor: Anchor | None = None
    ) -> ProofBundle:
        """The bundle for the manifest ``digest`` at leaf ``index`` of ``tree``.

        Raises ProofError when ``digest`` is not that leaf, or when the tree's
        levels (e.g. read back from storage) do not lead to its root.
        """
        leaf = tree.leaf(index)
        if leaf_hash(digest) != leaf:
            raise ProofError(f"digest {to_hex(digest)} is not the leaf at index {index}")
        bundle = cls(
            manifest_digest=digest,
            leaf=leaf,
            leaf_index=index,
            leaf_count=tree.leaf_count,
            proof=tuple(tree.proof(index)),
            root=tree.root,
            anchor=anchor,
        )
        verify_bundle(bundle)
        return bundle

    @classmethod
    def from_json(cls, data: bytes | str) -> ProofBundle:
        """Parse and verify bundle JSON; raises ProofError with a one-line reason.

        Parsing is strict (UTF-8, no duplicate members, nothing after the
        object); any member order and whitespace is accepted.
        """
        return cls.from_obj(parse_proof_json(data))

    @classmethod
    def from_obj(cls, obj: Any) -> ProofBundle:
        """Parse and verify a decoded bundle object; raises ProofError naming the field."""
        fields = _reader(obj, "", cls._REQUIRED, optional=("anchor",))
        version = fields["version"]
        if version != PROOF_VERSION:
            _fail("version", f'must be "{PROOF_VERSION}", got {show(version)}')
        anchor = fields.value.get("anchor")
        bundle = cls(
            manifest_digest=fields.hex_bytes("manifestDigest"),
            leaf=fields.hex_bytes("leaf"),
            leaf_index=fields.integer("leafIndex", 0),
            leaf_count=fields.integer("leafCount", 1, _MAX_LEAF_COUNT),
            proof=_proof(fields),
            root=fields.hex_bytes("root"),
            anchor=None if anchor is None else Anchor.from_obj(anchor),
        )
        verify_bundle(bundle)
        return bundle

    def to_obj(self) -> dict[str, Any]:
        """The JSON object `from_obj` reads; ``anchor`` is null until anchored."""
        return {
            "version": PROOF_VERSION,
            "manifestDigest": to_hex(self.manifest_digest),
            "leaf": to_hex(self.leaf),
            "leafIndex": self.leaf_index,
            "leafCount": self.leaf_count,
            "proof": [to_hex(sibling) for sibling in self.proof],
            "root": to_hex(self.root),
            "anchor": None if self.anchor is None else self.anchor.to_obj(),
        }

    def to_json(self) -> bytes:
        """The bundle as RFC 8785 canonical JSON (sorted members, no whitespace)."""
        return canonicalize(self.to_obj())


def parse_proof_json(data: bytes | str) -> Any:
    """Proof JSON parsed strictly (UTF-8, no duplicate members, nothing after the
    value); a problem is a ProofError naming where it is."""
    try:
        return parse_strict(data)
    except CanonicalJSONError as exc:
        raise ProofError(exc.message, field=exc.field) from exc


def verify_bundle(bundle: ProofBundle) -> None:
    """Check that ``bundle.proof`` proves ``bundle.manifest_digest`` under ``bundle.root``.

    Checks, in order: the leaf index is within the leaf count, the leaf is
    ``leaf_hash(manifest_digest)``, the proof has exactly as many hashes as
    that position in a tree of that size needs, and it leads to the root.
    The anchor is not checked here (that needs the chain). Raises ProofError.
    """
    if not 0 <= bundle.leaf_index < bundle.leaf_count:
        _fail("leafIndex", f"{bundle.leaf_index} is not below leafCount {bundle.leaf_count}")
    if leaf_hash(bundle.manifest_digest) != bundle.leaf:
        _fail("leaf", "is not keccak256(keccak256(manifestDigest))")
    needed = len(proof_nodes(bundle.leaf_count, bundle.leaf_index))
    if len(bundle.proof) != needed:
        _fail(
            "proof",
            f"leaf {bundle.leaf_index} of {bundle.leaf_count} needs {needed} hashes, "
            f"got {len(bundle.proof)}",
        )
    if root_from_proof(bundle.manifest_digest, bundle.proof) != bundle.root:
        _fail("proof", "does not lead from the leaf to the root")


# -- parsing helpers ------------------------------------------------------------


def _reader(
    obj: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Fields:
    return Fields.of_object(
        obj, where, allowed=frozenset((*required, *optional)), required=required,
        error=ProofError, missing="missing", got=True,
    )


def _proof(fields: Fields) -> tuple[bytes, ...]:
    proof = fields.array("proof", expected="an array of hashes")
    return tuple(proof.hex_bytes(index) for index in range(len(proof)))


def _address(fields: Fields, name: str) -> str:
    value = fields.match(name, ADDRESS, "0x and 40 hex digits")
    if checksummed(value) != value:
        fields.fail(name, f"must be EIP-55 checksummed: {checksummed(value)}")
    return value


def _fail(field: str, message: str) -> NoReturn:
    raise ProofError(message, field=field or None)
