"""The assets of a 1.1 manifest: entries, their Merkle tree, chunks, and one asset's proof.

Consensus-critical, as the batch tree is (docs/proof-format.md §6, vectors in
tests/vectors/assets.json):

- an entry is one asset object (the 1.0 asset rules, `ledger.core.assets.Asset`);
  its bytes are ``E = JCS(entry)`` and its hash ``e = SHA-256(E)``;
- the leaf of entry ``i`` is ``keccak256(keccak256(uint256(i) || e))``:
  OpenZeppelin's ``StandardMerkleTree`` leaf of ``abi.encode(uint256 i, bytes32 e)``,
  so a proof names its position and no entry can be moved;
- nodes, shape and proofs are the batch tree's (`ledger.core.merkle`), over the
  leaves in index order; the root is the header's ``assetsRoot``.

Chunks carry a library to the service in parts that are each checked alone.
Chunk ``j`` of size ``C = 2**k`` holds assets ``[j*C, min(n, (j+1)*C))``. Its
own tree's root is node ``j`` of level ``k`` of the assets tree (the chunk
starts on a multiple of ``2**l`` at every level ``l < k``, so it pairs as it
would alone, and a short last chunk's top node moves up unpaired), and the
levels above are the tree built over the chunk roots. So a chunk root's
proof up to ``assetsRoot`` is the ordinary proof of position ``j`` in the
tree of chunk roots, and one asset's proof is its proof inside its chunk
followed by its chunk's.
"""

from __future__ import annotations

import copy
import json
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from ledger.core.assets import Asset, plain_entry_bytes
from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.fields import Fields, show
from ledger.core.hashing import sha256, to_hex
from ledger.core.manifest import ManifestHeader
from ledger.core.merkle import HASH_LEN, MerkleTree, hash_records64, node_hash, proof_nodes
from ledger.core.proof import ProofBundle, parse_proof_json
from ledger.core.signing import verify_manifest
from ledger.core.vocabulary import ASSET_PROOF_VERSION
from ledger.errors import CanonicalJSONError, LedgerError, ProofError, ValidationError

MAX_CHUNK_SIZE = 2**14
"""The largest chunk a library may be sent in (assets)."""
DEFAULT_CHUNK_SIZE = 4096


T = TypeVar("T")


# -- entries ---------------------------------------------------------------------


def entry_bytes(obj: Any, where: str = "asset") -> bytes:
    """Validate one asset entry (errors name ``where.member``) and return ``JCS(entry)``."""
    plain = plain_entry_bytes(obj)
    if plain is not None:
        return plain
    Asset.from_obj(obj, where)
    try:
        return canonicalize(obj)
    except CanonicalJSONError as exc:
        raise ValidationError(exc.message, field=where) from exc


def check_entry_line(line: bytes, where: str = "asset") -> bytes:
    """Check one entry given as JSON text that must already be canonical; return its bytes.

    The lines of ``assets.jsonl`` are the exact bytes that were hashed, so a
    line in any other spelling is refused rather than rewritten. The fast
    path (C ``json`` parser, then one comparison) is sound because only
    canonical text survives it: ``canonicalize`` refuses what the strict
    parser refuses, and a duplicate member or odd spelling cannot equal the
    canonical form of what was read.
    """
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        obj = _strictly(line, where)
    entry = entry_bytes(obj, where)
    if entry != line:
        _strictly(line, where)
        raise ValidationError(
            "is not in canonical form (RFC 8785: sorted members, no whitespace)", field=where
        )
    return entry


def _strictly(line: bytes, where: str) -> Any:
    try:
        return parse_strict(line)
    except CanonicalJSONError as exc:
        raise ValidationError(exc.message, field=where) from exc


def entry_hash(entry: bytes) -> bytes:
    """``SHA-256(E)`` of an entry's canonical bytes."""
    return sha256(entry)


def entry_hashes(entries: Iterable[bytes]) -> bytes:
    """The hashes of canonical entries, concatenated (32 bytes each)."""
    return b"".join(sha256(entry) for entry in entries)


# -- leaves and the tree -----------------------------------------------------------


def asset_leaf(index: int, hash_: bytes) -> bytes:
    """The leaf of entry ``index`` with hash ``hash_``."""
    return asset_leaves(index, hash_)


def asset_leaves(first_index: int, hashes: bytes) -> bytes:
    """The leaves of consecutive entries from ``first_index``, concatenated.

    ``hashes`` is their entry hashes, concatenated. Raises ProofError for a
    length that is not a multiple of 32 or an index past 2**64.
    """
    count, rest = divmod(len(hashes), HASH_LEN)
    if rest or first_index < 0 or first_index + count >= 2**64:
        raise ProofError("entry hashes must be 32 bytes each, at indices below 2**64")
    # Each record is abi.encode(uint256 i, bytes32 e): 24 zero bytes, i as 8 big-endian
    # bytes, then e. Filled a column of 8-byte words at a time, not record by record
    # (a million records: 0.2 s against 1.7 s).
    records = bytearray(2 * HASH_LEN * count)
    words = memoryview(records).cast("Q")
    indices = array("Q", range(first_index, first_index + count))
    if sys.byteorder == "little":
        indices.byteswap()
    words[3::8] = memoryview(indices)
    entry_words = memoryview(hashes).cast("Q")
    for word in range(4):
        words[4 + word :: 8] = entry_words[word::4]
    return hash_records64(records)


class AssetTree:
    """The Merkle tree over a 1.1 manifest's entries, in index order."""

    __slots__ = ("_tree",)

    def __init__(self, tree: MerkleTree) -> None:
        """Wrap a tree whose leaves are asset leaves (use the ``from_…`` constructors)."""
        self._tree = tree

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> AssetTree:
        """The tree of canonical entries, in order."""
        return cls.from_hashes(entry_hashes(entries))

    @classmethod
    def from_hashes(cls, hashes: bytes) -> AssetTree:
        """The tree of entries given by their hashes, concatenated, in order."""
        return cls(MerkleTree.from_leaf_hashes(asset_leaves(0, hashes)))

    @classmethod
    def from_leaves(cls, leaves: bytes) -> AssetTree:
        """The tree over already computed asset leaves."""
        return cls(MerkleTree.from_leaf_hashes(leaves))

    @property
    def root(self) -> bytes:
        """``assetsRoot``."""
        return self._tree.root

    @property
    def count(self) -> int:
        """How many entries (``assetCount``)."""
        return self._tree.leaf_count

    @property
    def leaves(self) -> bytes:
        """Every leaf, concatenated."""
        return self._tree.levels[0]

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes from entry ``index`` up to the root."""
        return self._tree.proof(index)

    def chunk_roots(self, chunk_size: int) -> bytes:
        """The root of each chunk of ``chunk_size`` entries, concatenated (level k of the tree)."""
        levels = self._tree.levels
        return levels[min(_chunk_level(chunk_size), len(levels) - 1)]


# -- chunks ------------------------------------------------------------------------


def check_chunk_size(chunk_size: int, field: str = "chunkSize") -> int:
    """``chunk_size`` if it is a power of two from 1 to `MAX_CHUNK_SIZE`; else ValidationError."""
    if type(chunk_size) is not int or not 1 <= chunk_size <= MAX_CHUNK_SIZE or (
        chunk_size & (chunk_size - 1)
    ):
        raise ValidationError(
            f"must be a power of two from 1 to {MAX_CHUNK_SIZE}, got {show(chunk_size)}",
            field=field,
        )
    return chunk_size


def chunk_count(asset_count: int, chunk_size: int) -> int:
    """How many chunks of ``chunk_size`` carry ``asset_count`` entries."""
    return -(-asset_count // chunk_size)


def chunk_span(asset_count: int, chunk_size: int, index: int) -> range:
    """The entry indices of chunk ``index``; ValidationError (field ``index``) when out of range."""
    count = chunk_count(asset_count, chunk_size)
    if not 0 <= index < count:
        raise ValidationError(f"{index} is not a chunk: there are {count} (0-{count - 1})",
                              field="index")
    first = index * chunk_size
    return range(first, min(asset_count, first + chunk_size))


def chunk_root(first_index: int, hashes: bytes) -> bytes:
    """The root of one chunk: the tree over its entries' leaves (hashes concatenated)."""
    return MerkleTree.from_leaf_hashes(asset_leaves(first_index, hashes)).root


def chunk_proof(chunk_roots: bytes, index: int) -> list[bytes]:
    """The proof of chunk ``index`` up to ``assetsRoot``, given every chunk root."""
    return MerkleTree.from_leaf_hashes(chunk_roots).proof(index)


def verify_chunk(
    assets_root: bytes, asset_count: int, chunk_size: int, index: int,
    root: bytes, proof: Sequence[bytes],
) -> None:
    """Check that chunk ``index`` with root ``root`` is under ``assets_root``.

    Raises ValidationError (field ``index``) for a chunk that does not exist
    and ProofError (field ``proof``) for a proof of the wrong length or one
    that does not lead to the root.
    """
    count = chunk_count(asset_count, chunk_size)
    chunk_span(asset_count, chunk_size, index)
    needed = len(proof_nodes(count, index))
    if len(proof) != needed:
        raise ProofError(f"chunk {index} of {count} needs {needed} hashes, got {len(proof)}",
                         field="proof")
    if _fold(root, proof) != assets_root:
        raise ProofError("the chunk's root and this proof do not lead to the signed assetsRoot",
                         field="proof")


def asset_proof(
    chunk_leaves: bytes, first_index: int, upper_proof: Sequence[bytes], index: int
) -> list[bytes]:
    """Entry ``index``'s proof from its chunk's leaves and the chunk's proof (what is stored)."""
    inner = MerkleTree.from_leaf_hashes(chunk_leaves).proof(index - first_index)
    return [*inner, *upper_proof]


def root_from_asset_proof(index: int, hash_: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from entry ``index`` with hash ``hash_``."""
    return _fold(asset_leaf(index, hash_), proof)


def _fold(node: bytes, proof: Sequence[bytes]) -> bytes:
    for sibling in proof:
        node = node_hash(node, sibling)
    return node


def _chunk_level(chunk_size: int) -> int:
    return check_chunk_size(chunk_size).bit_length() - 1


# -- one asset's proof ------------------------------------------------------------------


@dataclass(frozen=True)
class AssetProof:
    """One asset disclosed alone (format ``ledger-asset-proof/1``), checkable offline.

    Carries the entry, its position and proof up to ``assetsRoot``, the signed
    1.1 header and the header's ``ledger-proof/1`` bundle. Reveals nothing of the
    other entries but their count. docs/proof-format.md §7 gives the bytes.
    """

    asset: dict[str, Any]
    asset_index: int
    asset_proof: tuple[bytes, ...]
    manifest: ManifestHeader
    manifest_proof: ProofBundle

    _MEMBERS = ("version", "asset", "assetIndex", "assetProof", "manifest", "manifestProof")

    @classmethod
    def from_json(cls, data: bytes | str) -> AssetProof:
        """Parse strictly and verify (`verify_asset_proof`); LedgerError names the member."""
        return cls.from_obj(parse_proof_json(data))

    @classmethod
    def from_obj(cls, obj: Any) -> AssetProof:
        """Parse a decoded object and verify it (`verify_asset_proof`)."""
        fields = Fields.of_object(
            obj, "", allowed=frozenset(cls._MEMBERS), required=cls._MEMBERS,
            error=ProofError, missing="missing", got=True,
        )
        if obj["version"] != ASSET_PROOF_VERSION:
            _fail("version", f'must be "{ASSET_PROOF_VERSION}", got {show(obj["version"])}')
        siblings = fields.array("assetProof", expected="an array of hashes")
        proof = cls(
            asset=_within("asset", lambda: _entry_obj(obj["asset"])),
            asset_index=fields.integer("assetIndex", 0),
            asset_proof=tuple(siblings.hex_bytes(i) for i in range(len(siblings))),
            manifest=_within("manifest", lambda: ManifestHeader.from_obj(obj["manifest"])),
            manifest_proof=_within("manifestProof",
                                   lambda: ProofBundle.from_obj(obj["manifestProof"])),
        )
        verify_asset_proof(proof)
        return proof

    @classmethod
    def build(cls, asset: dict[str, Any], index: int, proof: Sequence[bytes],
              manifest: ManifestHeader, manifest_proof: ProofBundle) -> AssetProof:
        """An asset proof from its parts, verified (LedgerError when they do not fit)."""
        built = cls(_entry_obj(asset), index, tuple(proof), manifest, manifest_proof)
        verify_asset_proof(built)
        return built

    @property
    def entry(self) -> bytes:
        """The disclosed entry's canonical bytes."""
        return canonicalize(self.asset)

    def to_obj(self) -> dict[str, Any]:
        """The JSON object `from_obj` reads."""
        return {
            "version": ASSET_PROOF_VERSION,
            "asset": copy.deepcopy(self.asset),
            "assetIndex": self.asset_index,
            "assetProof": [to_hex(sibling) for sibling in self.asset_proof],
            "manifest": self.manifest.to_obj(),
            "manifestProof": self.manifest_proof.to_obj(),
        }

    def to_json(self) -> bytes:
        """RFC 8785 canonical JSON: what the service serves and ``ledger proof`` writes."""
        return canonicalize(self.to_obj())


def verify_asset_proof(proof: AssetProof) -> None:
    """Check every link from the entry to the header's batch root; raise naming the one that fails.

    Checked: the index is below ``assetCount``; the proof has as many hashes
    as that position needs; it leads from the entry's leaf to ``assetsRoot``;
    the header's signature verifies against its ``creator.signingKey``; the
    header's digest is the one ``manifestProof`` proves (whose own path
    ``ProofBundle`` checked). Not checked here: the anchor (that needs the
    chain and a pinned registry: ``ledger.chain.verify``), and who holds the
    creator id (the service's creator record).
    """
    header = proof.manifest
    if not 0 <= proof.asset_index < header.asset_count:
        _fail("assetIndex", f"{proof.asset_index} is not below assetCount {header.asset_count}")
    needed = len(proof_nodes(header.asset_count, proof.asset_index))
    if len(proof.asset_proof) != needed:
        _fail("assetProof", f"asset {proof.asset_index} of {header.asset_count} needs "
              f"{needed} hashes, got {len(proof.asset_proof)}")
    hash_ = entry_hash(proof.entry)
    if root_from_asset_proof(proof.asset_index, hash_, proof.asset_proof) != header.assets_root:
        _fail("assetProof", "does not lead from the asset's leaf to the manifest's assetsRoot")
    _within("manifest", lambda: verify_manifest(header))
    if header.digest() != proof.manifest_proof.manifest_digest:
        _fail("manifestProof.manifestDigest", "is not the digest of this manifest header")


def _entry_obj(obj: Any) -> dict[str, Any]:
    Asset.from_obj(obj, "")
    copy: dict[str, Any] = json.loads(canonicalize(obj))
    return copy


def _within(member: str, read: Callable[[], T]) -> T:
    try:
        return read()
    except LedgerError as exc:
        exc.field = f"{member}.{exc.field}" if exc.field else member
        raise


def _fail(field: str, message: str) -> NoReturn:
    raise ProofError(message, field=field)
