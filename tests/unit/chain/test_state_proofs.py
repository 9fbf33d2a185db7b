"""What the service fetches for evidence is checked before use: a node whose header,
account proof or storage proofs do not verify, or that has no record of a root, gives
a ChainError, never a package that would fail for its reader.

The node here is a fake answering from a real Merkle-Patricia state built with py-trie:
one registry account whose storage holds anchor records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import rlp
from trie.hexary import HexaryTrie

from ledger.chain.rpc import ChainUnavailableError
from ledger.chain.state_proofs import StateProofs
from ledger.core.chain_state import AnchorState, anchor_slot
from ledger.core.hashing import keccak256
from ledger.errors import ChainError

REGISTRY = "0x" + "5f" * 20
ROOT, OTHER = b"\x11" * 32, b"\x22" * 32
NUMBER = 42


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _word(state: AnchorState) -> bytes:
    number = state.timestamp | state.block_number << 64 | state.batch_number << 128
    encoded: bytes = rlp.encode(number.to_bytes(32, "big").lstrip(b"\0"))
    return encoded


@dataclass
class FakeNode:
    """Answers eth_getBlockByNumber and eth_getProof from one state; `tamper` edits an
    answer before it is sent."""

    anchors: dict[bytes, AnchorState]
    tamper: Callable[[str, Any], Any] = lambda method, result: result
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.storage = HexaryTrie({})
        for root, state in self.anchors.items():
            self.storage[keccak256(anchor_slot(root))] = _word(state)
        account = rlp.encode([1, 0, self.storage.root_hash, b"\x33" * 32])
        self.state = HexaryTrie({})
        self.state[keccak256(bytes.fromhex(REGISTRY[2:]))] = account
        fields = [b"\0" * 32, b"\0" * 32, b"\0" * 20, self.state.root_hash, b"\0" * 32,
                  b"\0" * 32, b"\0" * 256, 0, NUMBER, 30_000_000, 0, 1_700_000_000, b"",
                  b"\0" * 32, b"\0" * 8]
        self.header = rlp.encode(fields)
        self.block = {
            "parentHash": _hex(b"\0" * 32), "sha3Uncles": _hex(b"\0" * 32),
            "miner": _hex(b"\0" * 20), "stateRoot": _hex(self.state.root_hash),
            "transactionsRoot": _hex(b"\0" * 32), "receiptsRoot": _hex(b"\0" * 32),
            "logsBloom": _hex(b"\0" * 256), "difficulty": "0x0", "number": hex(NUMBER),
            "gasLimit": hex(30_000_000), "gasUsed": "0x0", "timestamp": hex(1_700_000_000),
            "extraData": "0x", "mixHash": _hex(b"\0" * 32), "nonce": _hex(b"\0" * 8),
            "hash": _hex(keccak256(self.header)),
        }

    async def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.calls.append(method)
        if method == "eth_getBlockByNumber":
            result: Any = dict(self.block)
        else:
            _, slots, _ = params
            account = self.state.get_proof(keccak256(bytes.fromhex(REGISTRY[2:])))
            result = {"accountProof": [_hex(rlp.encode(node)) for node in account],
                      "storageProof": [
                          {"key": slot, "value": "0x0", "proof": [
                              _hex(rlp.encode(node)) for node in
                              self.storage.get_proof(keccak256(bytes.fromhex(slot[2:])))]}
                          for slot in slots]}
        return {"jsonrpc": "2.0", "id": 1, "result": self.tamper(method, result)}


@dataclass
class FakeWeb3:
    provider: Any


def proofs_from(node: Any) -> StateProofs:
    return StateProofs(FakeWeb3(node), REGISTRY)  # type: ignore[arg-type]


RECORDS = {ROOT: AnchorState(1_700_000_000, NUMBER, 7), OTHER: AnchorState(1_699_999_000, 30, 6)}


async def test_a_block_and_its_records_are_fetched_and_checked() -> None:
    node = FakeNode(RECORDS)
    fetched = await proofs_from(node).fetch(NUMBER, [ROOT, OTHER])
    assert fetched.block_number == NUMBER and fetched.header == node.header
    assert fetched.block_hash == keccak256(node.header)
    assert {root: state for root, (_, state) in fetched.anchors.items()} == RECORDS


def _flip_last_node(method: str, result: Any) -> Any:
    if method == "eth_getProof":
        node = result["storageProof"][0]["proof"][-1]
        result["storageProof"][0]["proof"][-1] = node[:-2] + ("00" if node[-2:] != "00"
                                                              else "01")
    return result


def _other_state_root(method: str, result: Any) -> Any:
    if method == "eth_getBlockByNumber":
        result["stateRoot"] = _hex(b"\x44" * 32)
    return result


def _no_account_proof(method: str, result: Any) -> Any:
    if method == "eth_getProof":
        result["accountProof"] = []
    return result


def _fewer_storage_proofs(method: str, result: Any) -> Any:
    if method == "eth_getProof":
        result["storageProof"] = result["storageProof"][:1]
    return result


@pytest.mark.parametrize("tamper", [_flip_last_node, _other_state_root, _no_account_proof,
                                    _fewer_storage_proofs],
                         ids=lambda f: f.__name__.strip("_"))
async def test_a_node_whose_answers_do_not_verify_gives_an_error(
    tamper: Callable[[str, Any], Any],
) -> None:
    with pytest.raises(ChainError):
        await proofs_from(FakeNode(RECORDS, tamper)).fetch(NUMBER, [ROOT, OTHER])


async def test_a_root_the_registry_never_anchored_is_refused() -> None:
    with pytest.raises(ChainError, match="has no record"):
        await proofs_from(FakeNode({ROOT: RECORDS[ROOT]})).fetch(NUMBER, [ROOT, OTHER])


async def test_another_block_than_asked_is_refused() -> None:
    node = FakeNode(RECORDS)
    with pytest.raises(ChainError, match="answered block 42 for block 41"):
        await proofs_from(node).fetch(NUMBER - 1, [ROOT])


async def test_hashes_and_heights_come_from_the_node() -> None:
    node = FakeNode(RECORDS)
    state = proofs_from(node)
    assert await state.block_hash(NUMBER) == keccak256(node.header)
    assert await state.head() == NUMBER
    assert await state.finalized() == NUMBER


class Refusing:
    async def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "no"}}


class Silent:
    async def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        raise aiohttp.ClientConnectionError("refused")


class Empty:
    async def make_request(self, method: str, params: list[Any]) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": 1, "result": None}


async def test_node_failures_are_chain_errors() -> None:
    with pytest.raises(ChainError, match="refused eth_getBlockByNumber"):
        await proofs_from(Refusing()).head()
    with pytest.raises(ChainUnavailableError):
        await proofs_from(Silent()).block_hash(1)
    assert await proofs_from(Empty()).block_hash(10**9) is None  # not mined yet
    assert await proofs_from(Empty()).finalized() is None  # no finalized block yet
