"""A dispute resolver's check: `cast call verifyInclusion` on a deployed AnchorRegistry.

The proof comes from `ledger.core.merkle`; the registry is deployed from forge's build
output and driven only with `cast`, the way someone without our code would check a
proof bundle against the chain.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
from eth_account import Account

from ledger.chain.anvil import DEV_KEYS, AnvilProcess, repo_root
from ledger.chain.contracts.artifacts import load_artifact
from ledger.core.hashing import keccak256, sha256, to_hex
from ledger.core.merkle import MerkleTree

pytestmark = pytest.mark.chain

CAST = repo_root() / "node_modules" / ".bin" / "cast"
VERIFY = "verifyInclusion(bytes32,bytes32[],bytes32)(bool,uint64)"
KEY = DEV_KEYS[0]  # anvil's public dev key: deployer, admin and anchorer here


def cast(*args: str) -> str:
    """Run cast; its stdout, stripped. Fails the test with cast's stderr on an error."""
    result = subprocess.run(
        [str(CAST), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"cast {args[0]} failed: {result.stderr}"
    return result.stdout.strip()


def values(output: str) -> list[str]:
    """cast's decoded outputs, one a line, without its ``[1.7e9]`` annotations."""
    return [line.split()[0] for line in output.splitlines()]


@pytest.fixture
def node() -> Iterator[AnvilProcess]:
    with AnvilProcess() as running:
        yield running


@pytest.fixture
def registry(node: AnvilProcess) -> str:
    """A fresh AnchorRegistry whose admin and anchorer is anvil's first dev account."""
    me = Account.from_key(KEY).address
    creation = load_artifact("AnchorRegistry").bytecode.hex()
    constructor_args = cast("abi-encode", "constructor(address)", me).removeprefix("0x")
    receipt = cast(
        "send", "--rpc-url", node.rpc_url, "--private-key", KEY, "--json",
        "--create", "0x" + creation + constructor_args,
    )  # fmt: skip
    address: str = json.loads(receipt)["contractAddress"]
    cast(
        "send", "--rpc-url", node.rpc_url, "--private-key", KEY, address,
        "grantRole(bytes32,address)", to_hex(keccak256(b"ANCHORER_ROLE")), me,
    )  # fmt: skip
    return address


def test_cast_call_verifies_ledger_merkle_proofs(node: AnvilProcess, registry: str) -> None:
    digests = [sha256(f"manifest-{i}".encode()) for i in range(7)]
    tree = MerkleTree(digests)
    root = to_hex(tree.root)
    cast(
        "send", "--rpc-url", node.rpc_url, "--private-key", KEY, registry,
        "anchor(uint64,bytes32,uint32)", "1", root, str(len(digests)),
    )  # fmt: skip
    timestamp, _, batch_number = values(
        cast("call", "--rpc-url", node.rpc_url, registry,
             "anchoredAt(bytes32)(uint64,uint64,uint64)", root)
    )  # fmt: skip
    assert batch_number == "1"

    for index, digest in enumerate(digests):
        proof = "[" + ",".join(to_hex(sibling) for sibling in tree.proof(index)) + "]"
        answer = cast(
            "call", "--rpc-url", node.rpc_url, registry, VERIFY, to_hex(digest), proof, root
        )
        assert values(answer) == ["true", timestamp], f"leaf {index}"


def test_cast_call_rejects_wrong_leaf_and_unanchored_root(
    node: AnvilProcess, registry: str
) -> None:
    digests = [sha256(f"manifest-{i}".encode()) for i in range(5)]
    tree = MerkleTree(digests)
    proof = "[" + ",".join(to_hex(sibling) for sibling in tree.proof(2)) + "]"
    root = to_hex(tree.root)

    before = cast(
        "call", "--rpc-url", node.rpc_url, registry, VERIFY, to_hex(digests[2]), proof, root
    )
    assert values(before) == ["false", "0"], "a valid proof to a root not anchored"

    cast(
        "send", "--rpc-url", node.rpc_url, "--private-key", KEY, registry,
        "anchor(uint64,bytes32,uint32)", "1", root, str(len(digests)),
    )  # fmt: skip
    wrong = cast(
        "call", "--rpc-url", node.rpc_url, registry, VERIFY, to_hex(digests[3]), proof, root
    )
    assert values(wrong) == ["false", "0"], "another leaf with leaf 2's proof"
