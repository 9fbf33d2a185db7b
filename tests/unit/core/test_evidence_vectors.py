"""Every case of tests/vectors/evidence.json through `verify_evidence`: the valid packages
verify header-only, and each tampered one fails first at the step the vector names.
The CLI, the independent recipe and the verifier page run the same cases."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.evidence import Evidence
from ledger.core.evidence_check import verify_evidence
from ledger.core.times import iso_utc
from ledger.core.trust import TrustRoot
from ledger.core.verdict import STEPS
from ledger.errors import LedgerError

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "evidence.json").read_text())
CASES = VECTORS["cases"]


def run_case(case: dict[str, Any]) -> Any:
    """Verify one vector case as a verifier holding its pins would."""
    pins = {**VECTORS["pins"], **case.get("pins", {})}
    trust = TrustRoot.for_registry(pins["chainId"], pins["registry"], "vectors",
                                   pins["serviceKey"])
    file = case.get("file")
    data = bytes.fromhex(VECTORS["files"][file]) if file else None
    return verify_evidence(
        Evidence.from_obj(case["package"]), trust, {bytes.fromhex(pins["codeHash"][2:])},
        block_hash=bytes.fromhex(case["blockHash"][2:]), block_source="the vector",
        file_name=file, file_sha256=hashlib.sha256(data).digest() if data else None,
        canonical_hashes={int(n): bytes.fromhex(h[2:])
                          for n, h in case.get("canonicalHashes", {}).items()},
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case: dict[str, Any]) -> None:
    verdict = run_case(case)
    expect = case["expect"]
    assert verdict.ok is expect["verified"], verdict.statement
    failed = verdict.failed
    assert (failed.name if failed else None) == expect["step"], verdict.steps
    assert [s.name for s in verdict.steps] == [s for s in STEPS if s != "file" or "file" in case]


def test_every_step_is_tampered_somewhere() -> None:
    failing = {case["expect"]["step"] for case in CASES}
    assert failing == set(STEPS) | {None}


def test_a_verified_statement_names_the_file_creator_licence_block_and_time() -> None:
    case = next(c for c in CASES if c["name"] == "p256-1.1: valid, with the file")
    verdict = run_case(case)
    facts = verdict.facts
    assert verdict.statement.startswith(f"photo-1.jpg (sha256 {facts['sha256']}) was "
                                        f"registered by {facts['creatorId']}, key ")
    assert "licence non-exclusive-training" in verdict.statement
    assert f"in block {facts['anchorBlock']} at {facts['anchoredAtUtc']}" in verdict.statement
    assert "(no later than that time). At block " in verdict.statement
    status = facts["licenceStatus"]
    assert status["state"] == "notice"
    since, until = iso_utc(status["since"] // 1000), iso_utc(status["until"] // 1000)
    assert verdict.statement.endswith(f"its licence is notice since {since} until {until}, by "
                                      "the 1 lifecycle statement(s) in the package.")


def test_without_a_trusted_block_hash_nothing_is_verified() -> None:
    case = CASES[0]
    pins = VECTORS["pins"]
    verdict = verify_evidence(
        Evidence.from_obj(case["package"]),
        TrustRoot.for_registry(pins["chainId"], pins["registry"], "vectors"),
        {bytes.fromhex(pins["codeHash"][2:])}, block_hash=None,
    )
    assert not verdict.ok and verdict.failed is None
    assert verdict.steps[-1].ok is None
    assert verdict.statement.startswith("NOT verified: block: no trusted hash")


def test_the_package_round_trips_canonically() -> None:
    for name in ("p256-1.1", "eth-1.0"):
        case = next(c for c in CASES if c["name"] == f"{name}: valid, header only")
        ev = Evidence.from_obj(case["package"])
        assert Evidence.from_json(ev.to_json()) == ev
        assert json.loads(ev.to_json()) == case["package"]


# -- any change to a package is caught -------------------------------------------------------

# What the chain state does not prove (docs/proof-format.md section 9.1): a bundle's
# transaction hash, its leaf index and count (sorted pairs bind no position, section 3),
# and the block hash of an anchor older than the proven block (a verifier with a node
# checks it: `canonical_hashes`).
_UNPROVEN = ("anchor.txHash", "leafIndex", "leafCount")


def _leaves(obj: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        return [leaf for key, value in obj.items() for leaf in _leaves(value, f"{path}.{key}")]
    if isinstance(obj, list):
        return [leaf for i, value in enumerate(obj) for leaf in _leaves(value, f"{path}[{i}]")]
    return [(path, obj)]


def _set_path(obj: Any, path: str, value: Any) -> None:
    parts = [p for p in path.replace("[", ".").replace("]", "").split(".") if p]
    for part in parts[:-1]:
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    last = parts[-1]
    if isinstance(obj, list):
        obj[int(last)] = value
    else:
        obj[last] = value


def _proven(path: str, package: dict[str, Any]) -> bool:
    if path.endswith(_UNPROVEN):
        return False
    if path.endswith("anchor.blockHash"):
        bundle_path = path.removesuffix(".anchor.blockHash")
        bundle: Any = package
        for part in [p for p in bundle_path.replace("[", ".").replace("]", "").split(".") if p]:
            bundle = bundle[int(part)] if isinstance(bundle, list) else bundle[part]
        return bool(bundle["anchor"]["blockNumber"] == package["chain"]["blockNumber"])
    return True


def _changed(value: Any, pick: int) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 + pick % 3
    if isinstance(value, str) and value:
        at = pick % len(value)
        swap = "1" if value[at] != "1" else "2"
        return value[:at] + swap + value[at + 1:]
    return "x"


@pytest.mark.parametrize("name", ["p256-1.1: valid, with the file",
                                  "eth-1.0: valid, with the file"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_change_to_a_proven_member_is_not_verified(name: str, data: st.DataObject) -> None:
    case = next(c for c in CASES if c["name"] == name)
    leaves = [(p, v) for p, v in _leaves(case["package"]) if _proven(p, case["package"])]
    path, value = data.draw(st.sampled_from(leaves))
    tampered = copy.deepcopy(case["package"])
    _set_path(tampered, path, _changed(value, data.draw(st.integers(0, 10**6))))
    if tampered == case["package"]:
        return
    try:
        verdict = run_case({**case, "package": tampered})
    except LedgerError:
        return  # refused as malformed: not verified either
    assert not verdict.ok, (path, verdict.statement)


@pytest.mark.parametrize("change", [
    lambda p: p["asset"].pop("licenses"),
    lambda p: p["manifest"].update(assets="not a list"),
    lambda p: p["creatorRecords"][0]["record"].update(keys="not a list"),
    lambda p: p["statements"][0]["statement"].update(target=["not", "an", "object"]),
    lambda p: p["manifestProof"].update(anchor=[]),
    lambda p: p["receipt"].update(acceptedAt="soon"),
])
def test_a_part_of_the_wrong_shape_fails_a_step_and_never_raises(change: Any) -> None:
    case = next(c for c in CASES if c["name"] == "p256-1.1: valid, header only")
    package = copy.deepcopy(case["package"])
    change(package)
    verdict = run_case({**case, "package": package})
    assert not verdict.ok and verdict.failed is not None
