"""Cross-checks with OpenZeppelin's JS library: its verifier accepts our proofs, ours accepts its.

Runs scripts/oz_merkle.mjs once per test with node and the npm package
``@openzeppelin/merkle-tree`` (installed by scripts/setup.sh).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ledger.core.merkle import MerkleTree, verify

pytestmark = pytest.mark.node

ROOT = Path(__file__).parents[3]
HELPER = ROOT / "scripts" / "oz_merkle.mjs"
VECTORS = json.loads((ROOT / "tests" / "vectors" / "merkle.json").read_text(encoding="utf-8"))


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _digests(seed: int, size: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(32) for _ in range(size)]


def _run_oz(request: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH; it is part of the toolchain (scripts/setup.sh)")
    done = subprocess.run(
        [node, str(HELPER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def _tampered(proof: list[bytes], rng: random.Random) -> list[bytes]:
    at = rng.randrange(len(proof))
    bit = rng.randrange(256)
    sibling = bytearray(proof[at])
    sibling[bit // 8] ^= 1 << bit % 8
    return [*proof[:at], bytes(sibling), *proof[at + 1 :]]


def test_oz_verifies_our_proofs_and_rejects_tampered_ones() -> None:
    rng = random.Random(7)
    checks: list[dict[str, Any]] = []
    expected: list[bool] = []
    for seed, size in enumerate((1, 2, 3, 1000, 1337)):
        digests = _digests(seed, size)
        tree = MerkleTree(digests)
        proofs = list(tree.proofs())
        for digest, proof in zip(digests, proofs, strict=True):
            checks.append({"root": _hex(tree.root), "digest": _hex(digest), "proof": proof})
            expected.append(True)
        for index in rng.sample(range(size), min(size, 20)):
            if proofs[index]:
                checks.append(
                    {
                        "root": _hex(tree.root),
                        "digest": _hex(digests[index]),
                        "proof": _tampered(proofs[index], rng),
                    }
                )
                expected.append(False)
    for check in checks:
        check["proof"] = [_hex(sibling) for sibling in check["proof"]]
    assert _run_oz({"verify": checks})["verified"] == expected


def test_oz_agrees_with_onchain_vectors() -> None:
    cases = VECTORS["onchain"]
    request = [{"root": c["root"], "digest": c["leaf"], "proof": c["proof"]} for c in cases]
    assert _run_oz({"verify": request})["verified"] == [c["expected"] for c in cases]


def test_our_verify_accepts_oz_built_trees() -> None:
    # OZ sorts leaves and lays the tree out as a heap, so its roots differ from
    # ours; the hashing is the same, so its proofs must verify here.
    trees = [_digests(100 + size, size) for size in (1, 2, 3, 7, 1337)]
    built = _run_oz({"build": [[_hex(d) for d in digests] for digests in trees]})["built"]
    for digests, oz in zip(trees, built, strict=True):
        root = bytes.fromhex(oz["root"][2:])
        for digest, proof in zip(digests, oz["proofs"], strict=True):
            assert verify(root, digest, [bytes.fromhex(p[2:]) for p in proof])
        assert not verify(root, digests[0], [bytes(32)])
