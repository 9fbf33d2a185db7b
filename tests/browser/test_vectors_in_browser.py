"""Every case of tests/vectors/evidence.json in the verifier page, opened from file://
in Chromium: valid packages verify with the CLI's statement, each tampered one names
the step `ledger verify` names, and the page asks nothing of the network (an RPC node
is asked only in the reorganised case, and only at the URL typed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.page import PAGE, drive, pin_fields
from tests.unit.core.test_evidence_vectors import CASES, VECTORS, run_case

pytestmark = [pytest.mark.node, pytest.mark.slow]

RPC = "http://127.0.0.1:9/rpc"  # answered by the driver: nothing listens there


def scenario(index: int, case: dict[str, Any], folder: Path) -> dict[str, Any]:
    pins = {**VECTORS["pins"], **case.get("pins", {})}
    package = folder / f"case-{index}.json"
    package.write_text(json.dumps(case["package"]))
    reorg = "canonicalHashes" in case
    out: dict[str, Any] = {
        "name": case["name"], "evidence": str(package),
        "fields": pin_fields(pins["chainId"], pins["registry"], pins["codeHash"],
                             pins["serviceKey"], "" if reorg else case["blockHash"]),
    }
    if reorg:
        # The page trusts what the node says of every block, and the node reports the
        # package's anchor block with another hash (the anchor was reorganised away).
        evidence = case["package"]
        anchors = [evidence["manifestProof"]["anchor"]] + [
            record["proof"]["anchor"] for record in evidence["creatorRecords"]]
        hashes = {str(a["blockNumber"]): a["blockHash"] for a in anchors}
        hashes[str(evidence["chain"]["blockNumber"])] = case["blockHash"]
        hashes.update(case["canonicalHashes"])
        out["fields"]["rpc-urls"] = RPC
        out["rpcMock"] = {"url": RPC, "chainId": pins["chainId"], "hashes": hashes}
    if "file" in case:
        named = folder / str(index)
        named.mkdir()
        (named / case["file"]).write_bytes(bytes.fromhex(VECTORS["files"][case["file"]]))
        out["file"] = str(named / case["file"])
    return out


def test_the_page_agrees_with_ledger_verify_on_every_vector(tmp_path: Path) -> None:
    scenarios = [scenario(i, case, tmp_path) for i, case in enumerate(CASES)]
    results = drive(PAGE.as_uri(), scenarios)
    for case, result in zip(CASES, results, strict=True):
        expect, ours = case["expect"], run_case(case)
        assert (result["verified"], result["failedStep"]) == (expect["verified"],
                                                              expect["step"]), result
        if expect["verified"]:
            assert result["title"] == "Verified"
            assert result["statement"] == ours.statement
        else:
            assert result["title"] == "NOT verified"
            assert result["statement"].startswith(f"NOT verified: {expect['step']}: ")
        assert [s["step"] for s in result["steps"]] == [s.name for s in ours.steps]
        allowed = {PAGE.as_uri()} | ({RPC} if "canonicalHashes" in case else set())
        assert set(result["requests"]) <= allowed, result["requests"]


def test_bad_input_is_named_and_nothing_is_checked(tmp_path: Path) -> None:
    valid = scenario(0, CASES[0], tmp_path)
    not_json = tmp_path / "notes.json"
    not_json.write_text("{not json")
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(CASES[0]["package"]["manifestProof"]))
    bad = {
        "no package": ({**valid, "evidence": None}, "Evidence package: "),
        "registry": ({**valid, "fields": {**valid["fields"], "registry": "0x12"}},
                     "Registry address: "),
        "chain id": ({**valid, "fields": {**valid["fields"], "chain-id": "one"}}, "Chain id: "),
        "block hash": ({**valid, "fields": {**valid["fields"], "block-hash": "0x1234"}},
                       "Trusted block hash: "),
        "not JSON": ({**valid, "evidence": str(not_json)},
                     "Evidence package: notes.json: is not JSON"),
        "a bundle": ({**valid, "evidence": str(bundle)}, 'Evidence package: bundle.json: is '
                     '"ledger-proof/1", not an evidence package (ledger-evidence/1)'),
    }
    results = drive(PAGE.as_uri(), [{**s, "name": name} for name, (s, _) in bad.items()])
    for result in results:
        said = bad[result["name"]][1]
        assert result["title"] in ("Cannot check", "Cannot read that"), result
        assert result["statement"].startswith(said), (said, result["statement"])
        assert result["steps"] == [] and result["verified"] is False
