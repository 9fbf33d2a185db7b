"""Chain facts from a block header and EIP-1186 proofs, with no node to ask.

A block hash the verifier trusts fixes the header (its keccak-256 is that hash), the
header fixes the state root, an account proof fixes the registry's storage root and
code hash, and a storage proof fixes one `AnchorRegistry` record: the time, block and
batch number the contract itself wrote when the root was anchored.
docs/proof-format.md section 9 gives the bytes.

RLP and the Merkle-Patricia trie are the kept libraries `rlp` and `trie` (py-trie),
imported where used: they pull in eth_utils, which costs ~0.4 s to import, and only
evidence verification needs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.core.hashing import keccak256
from ledger.errors import ProofError

#: AnchorRegistry's `_anchors` mapping is storage slot 3 (`forge inspect AnchorRegistry
#: storageLayout`; tests/unit/core/test_chain_state.py checks it against the build).
ANCHORS_SLOT = 3

# Header fields in order: the first 15 are every fork's; each later hard fork appended
# one or more (London: baseFeePerGas; Shanghai: withdrawalsRoot; Cancun: blobGasUsed,
# excessBlobGas, parentBeaconBlockRoot; Prague: requestsHash). True marks an integer.
_HEADER_FIELDS: tuple[tuple[str, bool], ...] = (
    ("parentHash", False), ("sha3Uncles", False), ("miner", False), ("stateRoot", False),
    ("transactionsRoot", False), ("receiptsRoot", False), ("logsBloom", False),
    ("difficulty", True), ("number", True), ("gasLimit", True), ("gasUsed", True),
    ("timestamp", True), ("extraData", False), ("mixHash", False), ("nonce", False),
    ("baseFeePerGas", True), ("withdrawalsRoot", False), ("blobGasUsed", True),
    ("excessBlobGas", True), ("parentBeaconBlockRoot", False), ("requestsHash", False),
)
_LEGACY_FIELDS = 15
_STATE_ROOT, _NUMBER, _TIMESTAMP = 3, 8, 11
_U64 = (1 << 64) - 1


@dataclass(frozen=True)
class BlockHeader:
    """What a verifier reads from a header: its hash (keccak-256 of the RLP), number,
    timestamp (seconds) and state root."""

    hash: bytes
    number: int
    timestamp: int
    state_root: bytes


@dataclass(frozen=True)
class AccountState:
    """An account as the state trie holds it."""

    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


@dataclass(frozen=True)
class AnchorState:
    """An AnchorRegistry record: set once, by the contract, when the root is anchored."""

    timestamp: int
    block_number: int
    batch_number: int


def anchor_slot(root: bytes) -> bytes:
    """The storage slot of ``_anchors[root]``: keccak256(root ‖ uint256(ANCHORS_SLOT))."""
    return keccak256(root + ANCHORS_SLOT.to_bytes(32, "big"))


def parse_header(header: bytes) -> BlockHeader:
    """Decode an RLP block header of any hard fork; ProofError if it is not one."""
    import rlp

    try:
        items = rlp.decode(header, strict=True)
    except rlp.DecodingError as exc:
        raise ProofError(f"is not RLP: {exc}", field="chain.blockHeader") from exc
    if not isinstance(items, list) or not _LEGACY_FIELDS <= len(items) <= len(_HEADER_FIELDS):
        raise ProofError("is not a block header (an RLP list of 15 to 21 fields)",
                         field="chain.blockHeader")
    if not all(isinstance(item, bytes) for item in items) or len(items[_STATE_ROOT]) != 32:
        raise ProofError("is not a block header (a field is not a byte string)",
                         field="chain.blockHeader")
    return BlockHeader(
        hash=keccak256(header),
        number=_rlp_uint(items[_NUMBER], "number"),
        timestamp=_rlp_uint(items[_TIMESTAMP], "timestamp"),
        state_root=items[_STATE_ROOT],
    )


def header_rlp(block: Mapping[str, Any]) -> bytes:
    """The RLP header of an ``eth_getBlockByNumber`` answer (hex strings), every field
    of its hard fork in order; ProofError unless its keccak-256 is the block's hash."""
    import rlp

    fields: list[bytes] = []
    for position, (name, is_int) in enumerate(_HEADER_FIELDS):
        value = block.get(name)
        if value is None:
            if position < _LEGACY_FIELDS:
                raise ProofError(f"the node's block has no {name}")
            break
        raw = bytes.fromhex(value[2:].rjust(len(value[2:]) + len(value) % 2, "0"))
        fields.append(raw.lstrip(b"\0") if is_int else raw)
    encoded: bytes = rlp.encode(fields)
    if "0x" + keccak256(encoded).hex() != str(block.get("hash", "")).lower():
        raise ProofError(
            f"the header of block {block.get('number')} does not hash to its hash: the "
            "node's hard fork adds header fields this release does not know"
        )
    return encoded


def verify_account(state_root: bytes, address: str, proof: Sequence[bytes]) -> AccountState:
    """The account at ``address`` proven by an EIP-1186 ``accountProof`` under
    ``state_root``; ProofError if the proof fails or proves there is no account."""
    import rlp

    value = _prove(state_root, keccak256(bytes.fromhex(address[2:])), proof, "chain.accountProof")
    if not value:
        raise ProofError(f"proves that {address} has no account in this block",
                         field="chain.accountProof")
    try:
        fields = rlp.decode(value, strict=True)
    except rlp.DecodingError as exc:
        raise ProofError("the proven account is not RLP", field="chain.accountProof") from exc
    if not isinstance(fields, list) or len(fields) != 4 or not all(
        isinstance(f, bytes) for f in fields
    ) or len(fields[2]) != 32 or len(fields[3]) != 32:
        raise ProofError("the proven account is not [nonce, balance, storageRoot, codeHash]",
                         field="chain.accountProof")
    return AccountState(
        nonce=_rlp_uint(fields[0], "account nonce", "chain.accountProof"),
        balance=_rlp_uint(fields[1], "account balance", "chain.accountProof"),
        storage_root=fields[2],
        code_hash=fields[3],
    )


def verify_anchor_state(
    storage_root: bytes, root: bytes, proof: Sequence[bytes], field: str = "chain.anchorProofs"
) -> AnchorState | None:
    """The AnchorRegistry record of ``root`` proven under the registry's ``storage_root``;
    None when the proof shows the slot empty (the root was never anchored there)."""
    import rlp

    value = _prove(storage_root, keccak256(anchor_slot(root)), proof, field)
    if not value:
        return None
    try:
        word = rlp.decode(value, strict=True)
    except rlp.DecodingError as exc:
        raise ProofError("the proven storage value is not RLP", field=field) from exc
    if not isinstance(word, bytes) or len(word) > 32:
        raise ProofError("the proven storage value is not one word", field=field)
    number = _rlp_uint(word, "storage value", field)
    return AnchorState(
        timestamp=number & _U64,
        block_number=(number >> 64) & _U64,
        batch_number=(number >> 128) & _U64,
    )


def _prove(root: bytes, key: bytes, proof: Sequence[bytes], field: str) -> bytes:
    """The value at ``key`` in the trie of ``root``, proven by ``proof`` (RLP nodes)."""
    import rlp
    from trie import exceptions
    from trie.hexary import HexaryTrie

    refused = (rlp.DecodingError, exceptions.BadTrieProof, exceptions.ValidationError,
               exceptions.InvalidNode, exceptions.InvalidNibbles, exceptions.MissingTrieNode,
               exceptions.TraversedPartialPath, ValueError, TypeError, IndexError)
    try:
        nodes = [rlp.decode(node, strict=True) for node in proof]
        value: bytes = HexaryTrie.get_from_proof(root, key, nodes)  # type: ignore[no-untyped-call]
    except refused as exc:
        raise ProofError(f"does not prove the value under the root: {exc}", field=field) from exc
    return value


def _rlp_uint(raw: bytes, name: str, field: str = "chain.blockHeader") -> int:
    if raw[:1] == b"\0":
        raise ProofError(f"the {name} has a leading zero byte (not canonical RLP)", field=field)
    return int.from_bytes(raw, "big")
