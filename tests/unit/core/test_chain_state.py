"""Block headers and EIP-1186 proofs (ledger/core/chain_state.py) on real anvil data from
tests/vectors/evidence.json, and the odd inputs a verifier must refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.chain_state import (
    ANCHORS_SLOT,
    anchor_slot,
    header_rlp,
    parse_header,
    verify_account,
    verify_anchor_state,
)
from ledger.core.hashing import keccak256
from ledger.errors import ProofError

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "evidence.json").read_text())
# The Ethereum creator's package proves the manifest's own anchor block.
PACKAGE = next(c for c in VECTORS["cases"] if c["name"] == "eth-1.0: valid, header only")["package"]
CHAIN = PACKAGE["chain"]
HEADER = bytes.fromhex(CHAIN["blockHeader"][2:])
ACCOUNT_PROOF = [bytes.fromhex(n[2:]) for n in CHAIN["accountProof"]]
REGISTRY = CHAIN["registry"]
# The header fields in order, written out again here rather than imported.
FIELDS = [
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot",
    "logsBloom", "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData",
    "mixHash", "nonce", "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas",
    "parentBeaconBlockRoot", "requestsHash",
]
INTS = {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas",
        "blobGasUsed", "excessBlobGas"}


def _block_json(items: list[bytes]) -> dict[str, Any]:
    """What a node's eth_getBlockByNumber gives for a header of these fields."""
    block: dict[str, Any] = {}
    for name, raw in zip(FIELDS, items, strict=False):
        block[name] = hex(int.from_bytes(raw, "big")) if name in INTS else "0x" + raw.hex()
    block["hash"] = "0x" + keccak256(rlp.encode(items)).hex()
    block["number"] = block["number"]
    return block


def test_anchor_slot_is_keccak_of_root_and_slot_three() -> None:
    root = bytes(range(32))
    assert ANCHORS_SLOT == 3
    assert anchor_slot(root) == keccak256(root + (3).to_bytes(32, "big"))


def test_the_vector_header_decodes_to_the_anchor_block() -> None:
    header = parse_header(HEADER)
    anchor = PACKAGE["manifestProof"]["anchor"]
    assert header.number == CHAIN["blockNumber"] == anchor["blockNumber"]
    assert header.timestamp == anchor["blockTimestamp"]
    assert "0x" + header.hash.hex() == anchor["blockHash"]


@pytest.mark.parametrize("fields", range(15, 22))
def test_header_rlp_rebuilds_every_fork_s_header(fields: int) -> None:
    items = rlp.decode(HEADER)[:fields] + [b"\x01" * 32] * max(0, fields - len(rlp.decode(HEADER)))
    block = _block_json(items)
    assert header_rlp(block) == rlp.encode(items)


def test_header_rlp_refuses_a_header_it_cannot_rebuild() -> None:
    block = _block_json(rlp.decode(HEADER))
    block["hash"] = "0x" + "00" * 32
    with pytest.raises(ProofError, match="does not hash to its hash"):
        header_rlp(block)
    del block["mixHash"]
    with pytest.raises(ProofError, match="has no mixHash"):
        header_rlp(block)


@pytest.mark.parametrize("bad", [
    b"\xc0",  # an empty list
    b"\x82\x00",  # not RLP: the length says two bytes, one follows
    rlp.encode([b"x"] * 14),  # too few fields
    rlp.encode([b"x"] * 22),  # too many
    rlp.encode([[b"x"]] + [b"x"] * 14),  # a nested list
])
def test_parse_header_refuses_what_is_not_a_header(bad: bytes) -> None:
    with pytest.raises(ProofError):
        parse_header(bad)


def test_parse_header_refuses_a_number_with_a_leading_zero() -> None:
    items = rlp.decode(HEADER)
    items[8] = b"\x00" + items[8]
    with pytest.raises(ProofError, match="leading zero"):
        parse_header(rlp.encode(items))


def test_the_account_proof_gives_the_registry_s_code_hash_and_storage_root() -> None:
    account = verify_account(parse_header(HEADER).state_root, REGISTRY, ACCOUNT_PROOF)
    assert "0x" + account.code_hash.hex() == VECTORS["pins"]["codeHash"]
    for item in CHAIN["anchorProofs"]:
        state = verify_anchor_state(account.storage_root, bytes.fromhex(item["root"][2:]),
                                    [bytes.fromhex(n[2:]) for n in item["proof"]])
        assert state is not None and state.batch_number >= 1


def test_an_account_proof_for_another_address_proves_nothing() -> None:
    with pytest.raises(ProofError):
        verify_account(parse_header(HEADER).state_root, "0x" + "11" * 20, ACCOUNT_PROOF)


def test_a_storage_proof_of_another_root_does_not_pass_as_an_anchor() -> None:
    account = verify_account(parse_header(HEADER).state_root, REGISTRY, ACCOUNT_PROOF)
    proof = [bytes.fromhex(n[2:]) for n in CHAIN["anchorProofs"][0]["proof"]]
    try:
        state = verify_anchor_state(account.storage_root, keccak256(b"never anchored"), proof)
    except ProofError:
        return
    assert state is None


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_changed_byte_of_the_account_proof_fails(data: st.DataObject) -> None:
    node = data.draw(st.integers(0, len(ACCOUNT_PROOF) - 1))
    at = data.draw(st.integers(0, len(ACCOUNT_PROOF[node]) - 1))
    flip = data.draw(st.integers(1, 255))
    proof = list(ACCOUNT_PROOF)
    changed = bytearray(proof[node])
    changed[at] ^= flip
    proof[node] = bytes(changed)
    with pytest.raises(ProofError):
        verify_account(parse_header(HEADER).state_root, REGISTRY, proof)
