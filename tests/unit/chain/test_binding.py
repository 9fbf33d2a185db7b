"""Contract bindings from the forge ABI: the clients' calls exist in the shipped ABI with
the signatures they had when they were typed by hand, and the binding round-trips."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_abi.grammar import TupleType
from eth_abi.grammar import parse as parse_type
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.crypto import keccak

from ledger.chain.contracts.artifacts import load_abi
from ledger.chain.contracts.binding import ContractBinding
from ledger.errors import ChainError

CHAIN = Path(__file__).resolve().parents[3] / "ledger" / "chain"

#: Every function the clients and the deployment call, as they were typed by hand
#: before the bindings: the bound call data must stay byte-identical.
CALLED = {
    "AnchorRegistry": [
        "anchor(uint64,bytes32,uint32)", "anchorMany(uint64,bytes32[],uint32[])",
        "grantRole(bytes32,address)", "beginDefaultAdminTransfer(address)",
        "nextBatchNumber()", "anchoredAt(bytes32)",
        "verifyInclusion(bytes32,bytes32[],bytes32)", "hasRole(bytes32,address)",
    ],
    "RoyaltySplitter": [
        "setSplit((bytes32,uint32,bytes32,address,uint96,address[],uint16[]))",
        "setSplitWithSig(address,(bytes32,uint32,bytes32,address,uint96,address[],uint16[]),"
        "uint256,bytes)",
        "deposit(address,uint256)", "setMaxPrices(address,bytes32[],uint256[])",
        "setSpendingCap(address,uint256)", "setCosigning(address,bool)",
        "requestWithdrawal(address,uint256)", "cancelSplitTerms(bytes32)",
        "withdrawDeposit(address,address)",
        "settle(address,address,bytes32,(bytes32,uint32,uint256)[])",
        "settleCosigned(address,address,bytes32,(bytes32,uint32,uint256)[],uint256,bytes)",
        "release(bytes32,uint32,address)", "releaseBatch(address,address,(bytes32,uint32)[])",
        "assetKeyOf(address,bytes32)", "latestVersion(bytes32)", "splitOwner(bytes32)",
        "splitVersion(bytes32,uint32)", "released(bytes32,uint32,address)",
        "releasable(bytes32,uint32,address)", "account(address,address)",
        "maxPricePerUnit(address,address,bytes32)", "cosigning(address,address)",
        "isSettled(bytes32,address,address)",
        "quote(address,address,bytes32,(bytes32,uint32,uint256)[])",
        "splitTermsDigest(address,(bytes32,uint32,bytes32,address,uint96,address[],uint16[]),"
        "uint256)",
        "settlementDigest(address,address,bytes32,(bytes32,uint32,uint256)[],uint256,uint256)",
        "noticePeriod()", "splitTermsCancelled(address,bytes32)",
        "grantRole(bytes32,address)", "renounceRole(bytes32,address)",
    ],
    "IERC20": ["approve(address,uint256)", "transfer(address,uint256)", "balanceOf(address)"],
}

#: The events the clients decode, with the topics they filtered on before.
DECODED = {
    "AnchorRegistry": ["Anchored(bytes32,uint64,uint32)"],
    "RoyaltySplitter": [
        "SplitVersionCreated(bytes32,uint32,address,bytes32,bytes32,address,uint256,"
        "address[],uint16[])",
        "WithdrawalRequested(address,address,uint256,uint64)",
        "DepositWithdrawn(address,address,address,uint256)",
        "UsageItemSkipped(address,address,bytes32,uint256,bytes32,uint32)",
    ],
}


def _binding(contract: str) -> ContractBinding:
    return ContractBinding(contract, load_abi(contract))


def _names(signatures: list[str]) -> set[str]:
    return {s.split("(", 1)[0] for s in signatures}


@pytest.mark.parametrize(("contract", "signature"),
                         [(c, s) for c, sigs in CALLED.items() for s in sigs])
def test_called_functions_are_in_the_shipped_abi_with_these_types(
    contract: str, signature: str
) -> None:
    binding = _binding(contract)
    name = signature.split("(", 1)[0]
    assert binding.signature(name) == signature
    assert binding.encode_call(name, *_zero_args(binding, name))[:4] == \
        function_signature_to_4byte_selector(signature)


@pytest.mark.parametrize(("contract", "signature"),
                         [(c, s) for c, sigs in DECODED.items() for s in sigs])
def test_decoded_events_are_in_the_shipped_abi(contract: str, signature: str) -> None:
    assert _binding(contract).topic(signature.split("(", 1)[0]) == keccak(text=signature)


def test_the_table_covers_every_name_the_chain_code_binds() -> None:
    # A name used in ledger/chain but missing above would be bound unchecked.
    source = "\n".join(p.read_text("utf-8") for p in CHAIN.rglob("*.py"))
    called = set(re.findall(r'(?:encode_call|_call)\(\s*"(\w+)"', source))
    decoded = set(re.findall(r'(?:topic|decode_log)\(\s*"(\w+)"', source))
    assert called and called <= set().union(*(_names(s) for s in CALLED.values()))
    assert decoded and decoded <= set().union(*(_names(s) for s in DECODED.values()))


def _zero_args(binding: ContractBinding, name: str) -> list[object]:
    return [_zero(kind) for kind in binding.input_types(name)]


def _zero(kind: str) -> object:
    parsed = parse_type(kind)
    if parsed.is_array:
        return []
    if isinstance(parsed, TupleType):
        return tuple(_zero(c.to_type_str()) for c in parsed.components)
    if kind == "address":
        return "0x" + "00" * 20
    if kind == "bool":
        return False
    if kind == "bytes":
        return b""
    if kind.startswith("bytes"):
        return bytes(int(kind[5:]))
    return 0


# -- the binding itself, on a small ABI ---------------------------------------------------

ABI: list[dict[str, Any]] = [
    {"type": "constructor", "inputs": [{"name": "admin", "type": "address"}]},
    {"type": "function", "name": "f", "stateMutability": "view",
     "inputs": [{"name": "x", "type": "uint64"},
                {"name": "t", "type": "tuple", "components": [
                    {"name": "a", "type": "bytes32"}, {"name": "b", "type": "uint32"}]}],
     "outputs": [{"name": "ok", "type": "bool"}, {"name": "n", "type": "uint256"}]},
    {"type": "function", "name": "g", "inputs": [], "outputs": []},
    {"type": "function", "name": "g", "inputs": [{"name": "x", "type": "uint8"}],
     "outputs": []},
    {"type": "event", "name": "E", "anonymous": False,
     "inputs": [{"name": "who", "type": "address", "indexed": True},
                {"name": "tag", "type": "string", "indexed": True},
                {"name": "amount", "type": "uint256", "indexed": False},
                {"name": "keys", "type": "bytes32[]", "indexed": False}]},
    {"type": "error", "name": "C__Low", "inputs": [{"name": "have", "type": "uint256"},
                                                   {"name": "want", "type": "uint256"}]},
]
WHO = "0x" + "ab" * 20


def test_encode_call_is_selector_and_arguments() -> None:
    binding = ContractBinding("C", ABI)
    data = binding.encode_call("f", 7, (b"\x01" * 32, 9))
    assert data == (function_signature_to_4byte_selector("f(uint64,(bytes32,uint32))")
                    + abi_encode(["uint64", "(bytes32,uint32)"], [7, (b"\x01" * 32, 9)]))


def test_decode_return_round_trips() -> None:
    binding = ContractBinding("C", ABI)
    assert binding.decode_return("f", abi_encode(["bool", "uint256"], [True, 5])) == (True, 5)


def test_constructor_arguments() -> None:
    assert ContractBinding("C", ABI).encode_constructor(WHO) == abi_encode(["address"], [WHO])
    assert ContractBinding("C", []).encode_constructor() == b""


def test_decode_log_takes_indexed_values_from_topics() -> None:
    binding = ContractBinding("C", ABI)
    tag_hash = b"\x07" * 32
    log = {"topics": [binding.topic("E"), abi_encode(["address"], [WHO]), tag_hash],
           "data": abi_encode(["uint256", "bytes32[]"], [3, [b"\x02" * 32]])}
    assert binding.decode_log("E", log) == {
        "who": WHO, "tag": tag_hash, "amount": 3, "keys": (b"\x02" * 32,)}


def test_decode_log_refuses_a_log_of_another_shape() -> None:
    binding = ContractBinding("C", ABI)
    with pytest.raises(ChainError, match="indexed topics"):
        binding.decode_log("E", {"topics": [binding.topic("E")], "data": b""})


def test_decode_error_by_name() -> None:
    binding = ContractBinding("C", ABI)
    data = function_signature_to_4byte_selector("C__Low(uint256,uint256)") + abi_encode(
        ["uint256", "uint256"], [1, 2])
    assert binding.decode_error(data) == ("C__Low", {"have": 1, "want": 2})
    assert binding.decode_error(data[:10]) == ("", {})  # truncated
    assert binding.decode_error(b"\xde\xad\xbe\xef") == ("", {})


def test_unknown_and_overloaded_names_are_refused() -> None:
    binding = ContractBinding("C", ABI)
    with pytest.raises(ChainError, match="C has no function 'h'"):
        binding.encode_call("h")
    with pytest.raises(ChainError, match="overloads function 'g'"):
        binding.encode_call("g")
    with pytest.raises(ChainError, match="C has no event 'F'"):
        binding.topic("F")


def test_the_wait_commands_anchored_topic_is_the_abis() -> None:
    """`ledger submit --wait` reads logs over raw JSON-RPC without the forge artifacts,
    so it carries the topic as a constant: held here against the shipped ABI."""
    from ledger.cli.wait import ANCHORED_TOPIC

    binding = ContractBinding("AnchorRegistry", load_abi("AnchorRegistry"))
    assert "0x" + binding.topic("Anchored").hex() == ANCHORED_TOPIC
