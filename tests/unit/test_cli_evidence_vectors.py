"""`ledger verify` on every case of tests/vectors/evidence.json (issue 15): valid packages
exit 0 with the statement first; each tampered one exits 1 and its first lines name the
step that failed. Pins go on the command line as a verifier would give them; a case with
a node's canonical hashes runs through ``--rpc-url`` against a fake node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.cli import verify_evidence
from ledger.cli.main import main

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "evidence.json").read_text())
CASES = VECTORS["cases"]


def argv_of(case: dict[str, Any], folder: Path) -> list[str]:
    """The command line for one case, its package and file written into ``folder``."""
    pins = {**VECTORS["pins"], **case.get("pins", {})}
    package = folder / "evidence.json"
    package.write_text(json.dumps(case["package"]))
    argv = ["verify", str(package), "--registry", pins["registry"], "--chain-id",
            str(pins["chainId"]), "--code-hash", pins["codeHash"]]
    if pins["serviceKey"] is not None:
        argv += ["--service-key", pins["serviceKey"]]
    if "file" in case:
        path = folder / case["file"]
        path.write_bytes(bytes.fromhex(VECTORS["files"][case["file"]]))
        argv += ["--file", str(path)]
    if "canonicalHashes" in case:
        return [*argv, "--rpc-url", "http://node.example"]
    return [*argv, "--block-hash", case["blockHash"]]


def fake_node(case: dict[str, Any]) -> Any:
    """A node of the pinned chain whose blocks have the case's hashes (the package's
    block the trusted one; an anchor block another when the case says it was reorganised)."""
    block = case["package"]["chain"]["blockNumber"]
    hashes = {block: case["blockHash"], **{int(n): h for n, h in
                                           case.get("canonicalHashes", {}).items()}}

    def rpc(url: str, method: str, params: list[object]) -> Any:
        if method == "eth_chainId":
            return hex(VECTORS["pins"]["chainId"])
        number = int(str(params[0]), 16)
        return {"hash": hashes.get(number, "0x" + "00" * 32)}

    return rpc


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_through_the_cli(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(verify_evidence, "_rpc", fake_node(case))
    code = main(argv_of(case, tmp_path))
    out, err = capsys.readouterr()
    lines = out.splitlines()
    step = case["expect"]["step"]
    if case["expect"]["verified"]:
        assert (code, err) == (0, "")
        assert "was registered by" in lines[0] and "(no later than that time)." in lines[0]
        assert not [line for line in lines if line.startswith("  ✗")]
    else:
        assert (code, err) == (1, "")
        assert lines[0].startswith(f"NOT verified: {step}: ")
        assert next(line for line in lines if line.startswith("  ✗")).split()[1] == step


def test_json_verdict_of_a_vector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = next(c for c in CASES if c["name"] == "p256-1.1: valid, with the file")
    code = main([*argv_of(case, tmp_path), "--json"])
    verdict = json.loads(capsys.readouterr().out)
    assert code == 0
    assert verdict["verified"] is True
    assert [step["step"] for step in verdict["steps"]][:2] == ["file", "asset"]
    assert verdict["facts"]["file"].endswith("photo-1.jpg")
