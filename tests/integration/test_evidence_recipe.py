"""The independent recipe of docs/proof-format.md ("9.4 Checking it with another
toolchain") on every vector of tests/vectors/evidence.json: another trie library,
another RLP, another canonical JSON, and the same verdict as `ledger verify`.

Where the vector's first failing step is one the recipe covers, it must name that step;
elsewhere (signatures, the file, the receipt, the key and licence rules, a reorganised anchor that
only a node reveals) it may verify or fail later, but never blame an earlier link.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ledger.core.verdict import STEPS
from tests.unit.core.test_evidence_vectors import CASES, VECTORS, run_case

pytestmark = pytest.mark.node

ROOT = Path(__file__).parents[2]
COVERED = {"asset", "batch", "registry", "anchor", "block"}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `verify-evidence.mjs` of the docs, beside a link to the repo's node_modules."""
    folder = tmp_path_factory.mktemp("recipe")
    doc = (ROOT / "docs" / "proof-format.md").read_text()
    start = doc.index("```js\n// verify-evidence.mjs") + len("```js\n")
    script = folder / "verify-evidence.mjs"
    script.write_text(doc[start:doc.index("```", start)])
    (folder / "node_modules").symlink_to(ROOT / "node_modules")
    return script


def run_recipe(script: Path, case: dict[str, Any]) -> tuple[str | None, str]:
    """The step the recipe names (None: verified) and what it printed."""
    pins = {**VECTORS["pins"], **case.get("pins", {})}
    package = script.parent / "evidence.json"
    package.write_text(json.dumps(case["package"]))
    env = {**os.environ, "CHAIN_ID": str(pins["chainId"]), "REGISTRY": pins["registry"],
           "CODE_HASH": pins["codeHash"], "BLOCK_HASH": case["blockHash"]}
    done = subprocess.run([shutil.which("node") or "node", str(script), str(package)],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.stderr == "", done.stderr
    out = done.stdout.strip()
    if done.returncode == 0:
        assert out.startswith("verified: "), out
        return None, out
    assert done.returncode == 1 and out.startswith("NOT verified: "), out
    return out.split(": ")[1], out


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_recipe_agrees_with_ledger_verify(recipe: Path, case: dict[str, Any]) -> None:
    failed = run_case(case).failed
    ours = failed.name if failed else None
    theirs, out = run_recipe(recipe, case)
    if ours is None or (ours in COVERED and "canonicalHashes" not in case):
        assert theirs == ours, out
    elif theirs is not None:
        assert STEPS.index(theirs) >= STEPS.index(ours), out


def test_recipe_states_the_asset_manifest_chain_block_and_time(recipe: Path) -> None:
    case = next(c for c in CASES if c["expect"]["verified"])
    facts = run_case(case).facts
    _, out = run_recipe(recipe, case)
    assert out == (f"verified: {facts['assetId']} (sha256:{facts['sha256']}) is in manifest "
                   f"{facts['manifestDigest']}, anchored on chain {facts['chainId']} in block "
                   f"{facts['anchorBlock']} at {facts['anchoredAtUtc']} (no later than that time)")
