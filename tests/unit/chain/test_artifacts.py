"""Loading forge artifacts and hashing ABIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.chain.artifacts import Artifact, abi_hash, load_artifact
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
