"""`ledger verify` without a chain: pins, receipts, and honest offline output (issue 11)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.cli.main import main
from ledger.core.proof import ProofBundle
from ledger.core.receipt import ReceiptSigner
from ledger.core.trust import TrustRoot, is_local_chain, parse_address
from ledger.errors import ConfigError, ProofError, SignatureError
from ledger.keyfile import generate_key

VECTORS = Path(__file__).parents[1] / "vectors"
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # the vectors' anchor.contract
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
JAN_2010_MS = 1262304000000


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert err.startswith("ledger: error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def vector(description_start: str) -> str:
    cases = json.loads((VECTORS / "proofs.json").read_text())["valid"]
    return next(c["json"] for c in cases if c["description"].startswith(description_start))


@pytest.fixture
def anchored(tmp_path: Path) -> Path:
    """The vectors' bundle for leaf 42 of 100, anchored on chain 31337 by REGISTRY."""
    path = tmp_path / "bundle.json"
    path.write_text(vector("leaf 42 of 100, anchored"))
    return path


# -- receipts ---------------------------------------------------------------------------


@pytest.fixture
def receipts(tmp_path: Path) -> tuple[ReceiptSigner, ReceiptSigner, Path, Path]:
    """(service, attacker, the attacker's 2010 receipt, the service's own receipt)."""
    service = ReceiptSigner(generate_key("p256"))
    attacker = ReceiptSigner(generate_key("p256"))
    digest = bytes(range(32))
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(
        attacker.sign(digest, JAN_2010_MS, JAN_2010_MS + 600_000).to_obj()))
    genuine = tmp_path / "genuine.json"
    genuine.write_text(json.dumps(
        service.sign(digest, 1_790_000_000_000, 1_790_000_600_000).to_obj()))
    return service, attacker, forged, genuine


def test_forged_receipt_fails_against_the_pinned_key(
    receipts: tuple[ReceiptSigner, ReceiptSigner, Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The audit's receipt: signed by the attacker's own key, claiming acceptance in 2010.
    service, attacker, forged, genuine = receipts
    code, out, err = run(capsys, "verify", forged, "--service-key", service.public_key)
    assert out == ""
    one_line_error(code, err, f"signed by {attacker.public_key}",
                   f"pinned service key {service.public_key}")
    code, out, err = run(capsys, "verify", genuine, "--service-key", service.public_key)
    assert (code, err) == (0, "")
    assert out.startswith(
        f"receipt ok: service key {service.public_key} (pinned from --service-key) signed")
    assert "at 2026-09-21T14:13:20Z and will anchor it by 2026-09-21T14:23:20Z" in out


def test_unpinned_receipt_is_never_ok(
    receipts: tuple[ReceiptSigner, ReceiptSigner, Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, attacker, forged, _ = receipts
    code, out, err = run(capsys, "verify", forged)
    assert out == ""
    one_line_error(code, err, f"valid for key {attacker.public_key}",
                   "which you did not pin: this proves nothing")
    # A deployment pins the chain, not the service key.
    code, out, err = run(capsys, "verify", forged, "--registry", REGISTRY, "--chain-id", "1")
    assert out == ""
    one_line_error(code, err, "which you did not pin")


def test_unpinned_receipt_with_a_bad_signature_says_so(
    receipts: tuple[ReceiptSigner, ReceiptSigner, Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, forged, _ = receipts
    obj = json.loads(forged.read_text())
    obj["acceptedAt"] += 1
    forged.write_text(json.dumps(obj))
    code, _, err = run(capsys, "verify", forged)
    one_line_error(code, err, "signature")
    assert "did not pin" not in err


# -- bundles offline ----------------------------------------------------------------------


def test_offline_check_says_only_the_merkle_path_was_checked(
    anchored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "verify", anchored)
    assert (code, err) == (0, "")
    assert out.startswith("Merkle path ok: manifest 0x")
    assert "leaf 42 of 100" in out
    assert "NOT checked: the anchor" in out and "2023-11-14T22:13:20Z" in out
    assert "warning: chain 31337 is a local test chain" in out
    assert "proof ok" not in out


def test_offline_check_compares_the_bundle_with_the_pin(
    anchored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "verify", anchored, "--registry", REGISTRY, "--chain-id", "31337")
    assert code == 0 and "names the registry and chain you pinned (--registry/--chain-id)" in out
    code, out, err = run(capsys, "verify", anchored, "--registry", OTHER, "--chain-id", "31337")
    assert out == ""
    one_line_error(code, err, "anchor.contract", f"names registry {REGISTRY}",
                   f"pinned registry {OTHER}")


def test_one_leaf_batch_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.json"
    path.write_text(vector("the only leaf"))
    code, out, _ = run(capsys, "verify", path)
    assert code == 0 and "note: the batch had one leaf" in out


def test_chain_check_without_a_pin_is_refused(
    anchored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Refused before any connection: the URL need not answer.
    code, out, err = run(capsys, "verify", anchored, "--rpc-url", "http://127.0.0.1:9")
    assert out == ""
    one_line_error(code, err, "against a registry you pin", "--deployment FILE")
    code, out, err = run(capsys, "verify", anchored, "--rpc-url", "http://127.0.0.1:9",
                         "--service-key", "p256:AAAA")
    one_line_error(code, err, "against a registry you pin")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--registry", REGISTRY], "--registry and --chain-id go together"),
        (["--chain-id", "1"], "--registry and --chain-id go together"),
        (["--service", "http://127.0.0.1:9", "--chain-id", "1"], "drop --chain-id"),
        (["--service", "http://127.0.0.1:9", "--service-key", "p256:AAAA"],
         "drop --service-key"),
        (["--deployment", "d.json", "--registry", REGISTRY, "--chain-id", "1"],
         "pin the registry once"),
        (["--registry", "0x5fbdb2315678afecb367f032d93f642f64180AA3", "--chain-id", "1"],
         "registry: has a wrong EIP-55 checksum"),
        (["--registry", "0x1234", "--chain-id", "1"], "registry: must be 0x and 40 hex"),
        (["--registry", REGISTRY, "--chain-id", "0"], "chainId: must be a positive integer"),
        (["--deployment", "missing.json"], "does not exist"),
    ],
)
def test_bad_pins_are_one_line_errors(
    anchored: Path, argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "verify", anchored, *argv)
    assert out == ""
    one_line_error(code, err, needle)


def test_no_document_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "verify")
    one_line_error(code, err, "give a proof bundle or receipt file")


def test_offline_verify_does_not_import_web3(anchored: Path) -> None:
    # `ledger verify` must start fast: web3 is imported only on the chain-check path.
    probe = (
        "import sys; from ledger.cli.main import main; "
        f"assert main(['verify', {str(anchored)!r}]) == 0; "
        "assert 'web3' not in sys.modules and 'aiohttp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)


# -- TrustRoot ------------------------------------------------------------------------------


def test_trust_root_from_service_json() -> None:
    answer = {"receiptKey": "p256:AAAA", "chainId": 8453, "registry": REGISTRY.lower(),
              "receiptVersion": "ledger-receipt/1"}
    trust = TrustRoot.from_service_json(answer, "service https://x")
    assert (trust.chain_id, trust.registry, trust.service_key) == (8453, REGISTRY, "p256:AAAA")
    for broken, field in (({**answer, "receiptKey": ""}, "receiptKey"),
                          ({**answer, "chainId": True}, "chainId"),
                          ({**answer, "registry": None}, "registry")):
        with pytest.raises(ConfigError) as caught:
            TrustRoot.from_service_json(broken, "s")
        assert caught.value.field == field
    with pytest.raises(ConfigError):
        TrustRoot.from_service_json([], "s")


def test_trust_root_checks_chain_and_contract() -> None:
    bundle = ProofBundle.from_json(vector("leaf 42 of 100, anchored"))
    assert TrustRoot.for_registry(31337, REGISTRY, "t").check_anchor(bundle) is bundle.anchor
    for trust, field in ((TrustRoot.for_registry(1, REGISTRY, "t"), "anchor.chainId"),
                         (TrustRoot.for_registry(31337, OTHER, "t"), "anchor.contract")):
        with pytest.raises(ProofError) as caught:
            trust.check_anchor(bundle)
        assert caught.value.field == field
    unanchored = ProofBundle.from_json(vector("leaf 2 of 5"))
    with pytest.raises(ProofError, match="no anchor"):
        TrustRoot.for_registry(31337, REGISTRY, "t").check_anchor(unanchored)


def test_trust_root_checks_the_receipt_key() -> None:
    service = ReceiptSigner(generate_key("p256"))
    receipt = service.sign(bytes(32), 1, 2)
    TrustRoot("t", service_key=service.public_key).check_receipt(receipt)
    with pytest.raises(SignatureError):
        TrustRoot("t", service_key=ReceiptSigner(generate_key("p256")).public_key
                  ).check_receipt(receipt)
    with pytest.raises(ConfigError):
        TrustRoot("t").check_receipt(receipt)


def test_addresses_and_local_chains() -> None:
    assert parse_address(REGISTRY.lower(), "r") == REGISTRY
    assert parse_address("0x" + REGISTRY[2:].upper(), "r") == REGISTRY
    assert is_local_chain(31337) and is_local_chain(1337) and not is_local_chain(1)
