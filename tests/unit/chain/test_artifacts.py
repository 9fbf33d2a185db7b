"""Loading forge artifacts and hashing ABIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.chain.contracts.artifacts import Artifact, abi_hash, load_artifact, runtime_code_hash
from ledger.core.hashing import keccak256
from ledger.errors import ChainError

ABI = [{"type": "function", "name": "f", "inputs": [], "outputs": [], "stateMutability": "view"}]


def write(out: Path, name: str, doc: object) -> None:
    (out / f"{name}.sol").mkdir(parents=True)
    (out / f"{name}.sol" / f"{name}.json").write_text(json.dumps(doc))


def test_loads_abi_and_bytecode(tmp_path: Path) -> None:
    write(tmp_path, "C", {"abi": ABI, "bytecode": {"object": "0x6001"}})
    art = load_artifact("C", tmp_path)
    assert art == Artifact("C", tuple(ABI), b"\x60\x01", abi_hash(ABI))


def test_abi_hash_ignores_key_order_but_not_signatures() -> None:
    reordered = [dict(reversed(list(ABI[0].items())))]
    assert abi_hash(reordered) == abi_hash(ABI)
    renamed = [{**ABI[0], "name": "g"}]
    assert abi_hash(renamed) != abi_hash(ABI)


def test_missing_artifact_says_run_setup(tmp_path: Path) -> None:
    with pytest.raises(ChainError, match=r"run scripts/setup\.sh"):
        load_artifact("Nope", tmp_path)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"bytecode": {"object": "0x60"}}, "abi"),
        ({"abi": ABI, "bytecode": {"object": "0x"}}, "bytecode.object"),
        ({"abi": ABI, "bytecode": {"object": "0xzz"}}, "bytecode.object"),
    ],
)
def test_malformed_artifact_names_the_field(tmp_path: Path, doc: object, field: str) -> None:
    write(tmp_path, "C", doc)
    with pytest.raises(ChainError) as info:
        load_artifact("C", tmp_path)
    assert info.value.field == field


def test_code_hash_zeroes_immutables(tmp_path: Path) -> None:
    # The constructor writes immutables into the runtime code: two deployments of one
    # artifact differ there, and the code hash must not.
    runtime = "0x6001" + "00" * 32 + "6002"
    refs = {"7": [{"start": 2, "length": 32}]}
    write(tmp_path, "C", {"abi": ABI, "bytecode": {"object": "0x6001"},
                          "deployedBytecode": {"object": runtime, "immutableReferences": refs}})
    art = load_artifact("C", tmp_path)
    assert art.immutable_ranges == ((2, 32),)
    deployed = bytes.fromhex("6001" + "ab" * 32 + "6002")
    assert runtime_code_hash(deployed, art.immutable_ranges) == art.code_hash()
    assert art.code_hash() == keccak256(bytes.fromhex(runtime[2:]))
    assert runtime_code_hash(deployed) != art.code_hash()
    assert runtime_code_hash(deployed[:-1] + b"\x03", art.immutable_ranges) != art.code_hash()


def test_code_hash_needs_runtime_code(tmp_path: Path) -> None:
    write(tmp_path, "C", {"abi": ABI, "bytecode": {"object": "0x6001"}})
    with pytest.raises(ChainError) as info:
        load_artifact("C", tmp_path).code_hash()
    assert info.value.field == "deployedBytecode.object"


@pytest.mark.parametrize(
    "deployed",
    [{"object": "0xzz"}, {"object": 7}, {"object": "0x60", "immutableReferences": {"1": [{}]}}],
)
def test_malformed_runtime_code_names_the_field(tmp_path: Path, deployed: object) -> None:
    write(tmp_path, "C", {"abi": ABI, "bytecode": {"object": "0x6001"},
                          "deployedBytecode": deployed})
    with pytest.raises(ChainError) as info:
        load_artifact("C", tmp_path)
    assert str(info.value.field).startswith("deployedBytecode.")


def test_shipped_registry_has_runtime_code() -> None:
    art = load_artifact("AnchorRegistry")
    assert art.deployed_bytecode and len(art.code_hash()) == 32
