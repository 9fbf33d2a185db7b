"""`ledger verify` of an evidence package and `ledger evidence`'s bad input (issue 15).

The verdict's lines (statement first, then each step: ✓, ✗, or a dash when not
checked), ``--json``, the exit codes (0 verified, 1 not, 2 bad input) and the trusted
block from ``--block-hash`` or a node. Packages here are shaped right but prove
nothing, so every step the core runs fails or is not checked; a verified verdict is
hand-built. Real packages, valid and
tampered, are in tests/vectors/evidence.json (test_cli_evidence_vectors.py) and come
from a running service in tests/integration/service/test_cli_evidence.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.cli import verify_evidence
from ledger.cli.main import main
from ledger.core.evidence import Evidence
from ledger.core.verdict import STEPS, Step, Verdict

REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
PINS = ("--registry", REGISTRY, "--chain-id", "31337")
BLOCK = "0x" + "01" * 32
ASSET_SHA = "ab" * 32
NOT_CHECKED = verify_evidence.MARKS[None]

SHAPED: dict[str, Any] = {
    "version": "ledger-evidence/1",
    "asset": {"id": "asset:sunset.jpg", "hash": f"sha256:{ASSET_SHA}",
              "licenses": ["non-exclusive-training"]},
    "assetIndex": 0,
    "assetProof": None,
    "manifest": {},
    "manifestProof": {"anchor": {"blockNumber": 5}},
    "receipt": {},
    "creatorRecords": [],
    "manifestRecords": 0,
    "statements": [],
    "chain": {"chainId": 31337, "registry": REGISTRY, "blockNumber": 7,
              "blockHeader": "0xc0", "accountProof": ["0xc0"],
              "anchorProofs": [{"root": "0x" + "11" * 32, "proof": ["0xc0"]}]},
}


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert err.startswith("ledger: error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def package(tmp_path: Path) -> Path:
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(SHAPED))
    return path


def verified(*steps: Step) -> Verdict:
    return Verdict(True, steps, "sunset.jpg (sha256 ab…) was registered by creator:ana, …",
                   {"creatorId": "creator:ana"})


# -- the verdict as printed ---------------------------------------------------------------


def test_a_package_that_proves_nothing_is_not_verified_and_names_the_step(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "verify", package, *PINS, "--block-hash", BLOCK)
    lines = out.splitlines()
    assert (code, err) == (1, "")
    assert lines[0] == "NOT verified: asset: asset.type: is required"
    assert lines[1].startswith("  ✗ asset     asset.type: is required")
    assert f"  {NOT_CHECKED} creator   needs the manifest step" in out
    names = [name for name in STEPS if name != "file"]
    assert [line.split()[1] for line in lines[1 : 1 + len(names)]] == names
    assert f"  pinned (--registry/--chain-id): chain 31337, registry {REGISTRY}, " in out
    assert "warning: chain 31337 is a local test chain" in out


def test_json_prints_the_verdict_object_alone(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "verify", package, *PINS, "--block-hash", BLOCK, "--json")
    verdict = json.loads(out)
    assert code == 1
    assert verdict["verified"] is False
    assert verdict["statement"].startswith("NOT verified: asset:")
    assert verdict["steps"][0] == {"step": "asset", "ok": False,
                                   "detail": "asset.type: is required"}
    assert verdict["facts"]["assetId"] == "asset:sunset.jpg"


def test_a_verified_verdict_prints_the_statement_first_and_exits_0(
    package: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    verdict = verified(Step("asset", True, "entry 0 under the assets root"),
                       Step("receipt", None, "no service key pinned"),
                       Step("block", True, "block 7 is 0x01…, as --block-hash says"))
    monkeypatch.setattr("ledger.core.evidence_check.verify_evidence",
                        lambda *args, **kwargs: verdict)
    code, out, _ = run(capsys, "verify", package, *PINS, "--block-hash", BLOCK)
    assert code == 0
    assert out.splitlines()[:4] == [
        verdict.statement,
        "  ✓ asset    entry 0 under the assets root",
        f"  {NOT_CHECKED} receipt  no service key pinned",
        "  ✓ block    block 7 is 0x01…, as --block-hash says",
    ]


def test_without_a_trusted_block_the_block_is_not_checked(
    package: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake(*args: Any, **kwargs: Any) -> Verdict:
        seen.update(kwargs)
        return Verdict(False, (Step("block", None, "no trusted hash"),), "NOT verified: …")

    monkeypatch.setattr("ledger.core.evidence_check.verify_evidence", fake)
    code, out, _ = run(capsys, "verify", package, *PINS)
    assert code == 1
    assert seen["block_hash"] is None
    assert f"  {NOT_CHECKED} block  no trusted hash" in out
    assert "no trusted block hash: add --block-hash 0x…" in out


def test_the_file_is_hashed_and_checked_first(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "sunset.jpg"
    photo.write_bytes(b"not the registered bytes")
    code, out, _ = run(capsys, "verify", package, *PINS, "--block-hash", BLOCK,
                       "--file", photo)
    assert code == 1
    assert out.splitlines()[0].startswith("NOT verified: file:")
    assert out.splitlines()[1].startswith("  ✗ file")


def test_code_hashes_given_replace_this_releases(
    package: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    monkeypatch.setattr("ledger.core.evidence_check.verify_evidence",
                        lambda evidence, trust, hashes, **kw: seen.append(hashes) or verified())
    run(capsys, "verify", package, *PINS, "--block-hash", BLOCK,
        "--code-hash", "0x" + "aa" * 32, "--code-hash", "0x" + "bb" * 32)
    assert seen == [[b"\xaa" * 32, b"\xbb" * 32]]


# -- the block from a node the verifier chose ---------------------------------------------


class FakeNode:
    """Answers eth_chainId and eth_getBlockByNumber like a node of `chain_id`."""

    def __init__(self, chain_id: int, blocks: dict[int, bytes]) -> None:
        self.chain_id = chain_id
        self.blocks = blocks
        self.calls: list[tuple[str, list[object]]] = []

    def __call__(self, url: str, method: str, params: list[object]) -> Any:
        self.calls.append((method, params))
        if method == "eth_chainId":
            return hex(self.chain_id)
        number = int(str(params[0]), 16)
        found = self.blocks.get(number)
        return None if found is None else {"hash": "0x" + found.hex()}


def test_rpc_url_reads_the_block_and_every_anchor_block_from_the_node(
    package: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = FakeNode(31337, {7: b"\x07" * 32, 5: b"\x05" * 32})
    monkeypatch.setattr(verify_evidence, "_rpc", node)
    seen: dict[str, Any] = {}
    monkeypatch.setattr("ledger.core.evidence_check.verify_evidence",
                        lambda *args, **kwargs: seen.update(kwargs) or verified())
    code, _, _ = run(capsys, "verify", package, *PINS, "--rpc-url", "http://node.example")
    assert code == 0
    assert seen["block_hash"] == b"\x07" * 32
    assert seen["block_source"] == "rpc http://node.example"
    assert seen["canonical_hashes"] == {5: b"\x05" * 32, 7: b"\x07" * 32}


def test_an_anchor_block_the_node_lacks_matches_no_anchor(
    package: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_evidence, "_rpc", FakeNode(31337, {7: b"\x07" * 32}))
    seen: dict[str, Any] = {}
    monkeypatch.setattr("ledger.core.evidence_check.verify_evidence",
                        lambda *args, **kwargs: seen.update(kwargs) or verified())
    run(capsys, "verify", package, *PINS, "--rpc-url", "http://node.example")
    assert seen["canonical_hashes"][5] == b""


def test_a_node_of_another_chain_is_bad_input(
    package: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_evidence, "_rpc", FakeNode(1, {}))
    code, out, err = run(capsys, "verify", package, *PINS, "--rpc-url", "http://node.example")
    assert out == ""
    one_line_error(code, err, "--rpc-url", "the node is chain 1, but you pinned chain 31337")


def test_a_node_answering_junk_is_bad_input_or_matches_nothing(
    package: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_evidence, "_rpc", lambda url, method, params: "chain one")
    code, _, err = run(capsys, "verify", package, *PINS, "--rpc-url", "http://node.example")
    one_line_error(code, err, "--rpc-url", "eth_chainId with 'chain one'")

    def junk_hashes(url: str, method: str, params: list[object]) -> Any:
        return "0x7a69" if method == "eth_chainId" else {"hash": "0xnothex"}

    monkeypatch.setattr(verify_evidence, "_rpc", junk_hashes)
    seen: dict[str, Any] = {}
    monkeypatch.setattr("ledger.core.evidence_check.verify_evidence",
                        lambda *args, **kwargs: seen.update(kwargs) or verified())
    run(capsys, "verify", package, *PINS, "--rpc-url", "http://node.example")
    assert seen["canonical_hashes"] == {5: b"", 7: b""}


# -- bad input: exit 2, one line ------------------------------------------------------------


@pytest.mark.parametrize("value", ["0x12", "01" * 32, "0x" + "zz" * 32, "0x" + "01" * 33, ""])
def test_a_malformed_block_hash_is_bad_input(
    package: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "verify", package, *PINS, "--block-hash", value)
    assert out == ""
    one_line_error(code, err, "--block-hash: must be 0x and 64 hex digits")


def test_block_hash_and_rpc_url_together_are_bad_input(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "verify", package, *PINS, "--block-hash", BLOCK,
                       "--rpc-url", "http://node.example")
    one_line_error(code, err, "--block-hash or --rpc-url, not both")


def test_a_missing_file_is_bad_input(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "verify", package, *PINS, "--block-hash", BLOCK,
                         "--file", tmp_path / "absent.jpg")
    assert out == ""
    one_line_error(code, err, "absent.jpg")


def test_without_pinned_chain_and_registry_it_is_bad_input(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "verify", package, "--block-hash", BLOCK)
    one_line_error(code, err, "--deployment FILE, --registry ADDR --chain-id N")
    code, _, err = run(capsys, "verify", package, "--block-hash", BLOCK,
                       "--service-key", "p256:AAAA")
    one_line_error(code, err, "never the ones it names")


def _variant(tmp_path: Path, change: Any) -> Path:
    obj = copy.deepcopy(SHAPED)
    change(obj)
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.parametrize(("change", "needle"), [
    (lambda o: o.pop("chain"), "chain"),
    (lambda o: o.update(extra=1), "extra"),
    (lambda o: o["chain"].update(blockHeader="0xC0"), "chain.blockHeader"),
    (lambda o: o["chain"].update(registry="0x5fBDB2315678afecb367f032d93F642f64180aa3"),
     "chain.registry"),
    (lambda o: o.update(creatorRecords={}), "creatorRecords"),
], ids=["missing member", "unknown member", "upper-case hex", "wrong EIP-55 checksum",
        "records not a list"])
def test_a_malformed_package_is_bad_input_naming_the_member(
    tmp_path: Path, change: Any, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "verify", _variant(tmp_path, change), *PINS,
                         "--block-hash", BLOCK)
    assert out == ""
    one_line_error(code, err, needle)


def test_a_document_that_is_not_json_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evidence.json"
    path.write_bytes(b'{"version": "ledger-evidence/1",')
    code, _, err = run(capsys, "verify", path, *PINS, "--block-hash", BLOCK)
    one_line_error(code, err)


def test_evidence_options_on_a_bundle_are_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vectors = json.loads((Path(__file__).parents[1] / "vectors" / "proofs.json").read_text())
    bundle = tmp_path / "bundle.json"
    bundle.write_text(vectors["valid"][0]["json"])
    for extra in (["--block-hash", BLOCK], ["--json"], ["--file", str(bundle)]):
        code, _, err = run(capsys, "verify", bundle, *extra)
        one_line_error(code, err, extra[0], "only for an evidence package")


# -- ledger evidence: bad input -----------------------------------------------------------


@pytest.mark.parametrize(("argv", "needle"), [
    (["0x" + "ab" * 32], "--asset: with a manifest digest, name the asset"),
    (["0x" + "ab" * 32, "--asset", "first"], "--asset: must be an asset index or an asset id"),
    (["0x" + "ab" * 32, "--asset", "asset:x.jpg"], "--asset: an asset id is found in"),
    (["photo.jpg", "--asset", "0"], "--asset: a file names its own asset"),
    (["0x" + "ab" * 32, "--asset", "0", "--wait", "-1"], "--wait: must be 0 or more"),
], ids=["digest without asset", "asset neither index nor id", "asset id without assets",
        "file with asset", "negative wait"])
def test_evidence_bad_arguments_are_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "evidence", *argv, "--url", "http://127.0.0.1:9")
    assert out == ""
    one_line_error(code, err, needle)


def test_evidence_of_a_missing_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "evidence", tmp_path / "absent.jpg", "--url", "http://127.0.0.1:9")
    one_line_error(code, err, "absent.jpg")


# -- ledger evidence against a fake service -------------------------------------------------


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """LedgerClient's lookup and evidence answered from this dict: ``registrations``, and
    ``answers``, the evidence route's (status, body) in turn, the last one repeated."""
    from ledger.cli import evidence
    from ledger.cli.client import LedgerClient

    state: dict[str, Any] = {"registrations": [], "answers": [], "asked": []}

    async def lookup(self: LedgerClient, sha256: str) -> Any:
        return {"sha256": sha256, "registrations": state["registrations"]}

    async def fetch(self: LedgerClient, digest: str, index: int) -> Any:
        state["asked"].append((digest, index))
        answers = state["answers"]
        return answers.pop(0) if len(answers) > 1 else answers[0]

    monkeypatch.setattr(LedgerClient, "lookup", lookup)
    monkeypatch.setattr(LedgerClient, "evidence", fetch)
    monkeypatch.setattr(evidence, "_POLL_S", 0.0)
    return state


def _valid_package() -> dict[str, Any]:
    vectors = json.loads((Path(__file__).parents[1] / "vectors" / "evidence.json").read_text())
    return dict(vectors["cases"][0]["package"])


def test_evidence_of_a_file_takes_its_earliest_registration_and_waits(
    service: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"a photo")
    service["registrations"] = [
        {"manifestDigest": "0x" + "aa" * 32, "assetIndex": 3, "creatorId": "creator:ana"},
        {"manifestDigest": "0x" + "bb" * 32, "assetIndex": 0, "creatorId": "creator:ben"},
    ]
    package = _valid_package()
    pending = (202, {"status": "pending", "reason": "block 9 is not final yet"})
    service["answers"] = [pending, pending, (200, package)]
    out = tmp_path / "evidence.json"
    code, stdout, err = run(capsys, "evidence", photo, "-o", out, "--wait", "60",
                            "--url", "http://127.0.0.1:9")
    assert (code, stdout) == (0, "")
    assert service["asked"] == [("0x" + "aa" * 32, 3)] * 3
    assert "has 2 registrations; taking the earliest anchored, creator:ana's" in err
    assert err.count("not final yet: block 9 is not final yet") == 1  # said once
    assert out.read_bytes() == Evidence.from_obj(package).to_json()


def test_evidence_not_final_without_wait_writes_nothing(
    service: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service["answers"] = [(202, {"status": "pending", "reason": "block 9 is not final yet"})]
    out = tmp_path / "evidence.json"
    code, _, err = run(capsys, "evidence", "0x" + "AB" * 32, "--asset", "1", "-o", out,
                       "--url", "http://127.0.0.1:9")
    assert (code, out.exists()) == (1, False)
    assert service["asked"] == [("0x" + "ab" * 32, 1)]
    assert err == "no evidence: block 9 is not final yet\n"


def test_evidence_the_service_got_wrong_is_not_written(
    service: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _valid_package()
    package["surprise"] = True
    service["answers"] = [(200, package)]
    out = tmp_path / "evidence.json"
    code, _, err = run(capsys, "evidence", "0x" + "ab" * 32, "--asset", "0", "-o", out,
                       "--url", "http://127.0.0.1:9")
    assert not out.exists()
    one_line_error(code, err, "surprise")
