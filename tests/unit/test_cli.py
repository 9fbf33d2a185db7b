"""The ledger command (ledger.cli.main): every subcommand, and errors as one line, exit 2."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.cli.main import build_parser, main
from ledger.core.manifest import Manifest
from ledger.core.signing import verify_manifest

ROOT = Path(__file__).parents[2]
VECTORS = ROOT / "tests" / "vectors"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, fragment: str = "") -> None:
    assert code == 2
    assert err.startswith("ledger: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert fragment in err


@pytest.fixture
def p256_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "p256.pem"
    code, out, _ = run(capsys, "keygen", "--type", "p256", "-o", path)
    assert code == 0 and out.startswith("p256:")
    return path


@pytest.fixture
def eth_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "eth.json"
    code, out, _ = run(capsys, "keygen", "--type", "eth", "-o", path)
    assert code == 0 and out.startswith("eth:0x")
    return path


def _folder(root: Path, count: int) -> Path:
    root.mkdir()
    for index in range(count):
        (root / f"img-{index:04}.jpg").write_bytes(b"image %d" % index)
    return root


# -- keygen -----------------------------------------------------------------------------


def test_keygen_writes_private_file_and_refuses_overwrite(
    p256_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stat.S_IMODE(p256_key.stat().st_mode) == 0o600
    code, _, err = run(capsys, "keygen", "-o", p256_key)
    assert_one_line_error(code, err, "already exists")


def test_world_readable_key_is_refused(
    p256_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p256_key.chmod(0o644)
    manifest = VECTORS / "manifests.json"
    code, _, err = run(capsys, "sign", manifest, "--key", p256_key)
    assert_one_line_error(code, err, "chmod 600")


# -- the "done when" criterion: package, verify, tamper -----------------------------


@pytest.mark.parametrize("key_fixture", ["p256_key", "eth_key"])
def test_package_thousand_files_verify_and_detect_edits(
    key_fixture: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key: Path = request.getfixturevalue(key_fixture)
    folder = _folder(tmp_path / "photos", 1000)
    code, out, err = run(
        capsys, "package", folder, "--creator", "creator:alice", "--license", "cc-by-4.0",
        "--key", key, "--wallet", "stripe:acct_1", "--tag", "outdoor", "--tag", "portrait",
        "--rate", "0.05", "--currency", "USD", "--unit", "sample",
    )  # fmt: skip
    assert code == 0, err
    manifest_path = folder / "manifest.json"
    digest = out.split()[0]
    assert len(json.loads(manifest_path.read_text())["assets"]) == 1000

    code, out, err = run(capsys, "verify-manifest", manifest_path)
    assert (code, out.strip(), err) == (0, digest, "")
    code, out, _ = run(capsys, "digest", manifest_path)
    assert (code, out.strip()) == (0, digest)

    original = json.loads(manifest_path.read_text())
    edits = {
        "hash": lambda obj: obj["assets"][500].update(hash="sha256:" + "0" * 64),
        "license": lambda obj: obj["assets"][0]["licenses"].__setitem__(0, "cc-by-sa-4.0"),
        "tag": lambda obj: obj["assets"][999]["tags"].__setitem__(1, "landscape"),
    }
    for name, edit in edits.items():
        edited = json.loads(json.dumps(original))
        edit(edited)
        target = tmp_path / f"edited-{name}.json"
        target.write_text(json.dumps(edited, indent=2))
        code, out, err = run(capsys, "verify-manifest", target)
        assert out == ""
        assert_one_line_error(code, err, "signature: the signature does not verify")


def test_package_without_key_writes_a_draft_then_sign(
    p256_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "f", 3)
    draft = tmp_path / "draft.json"
    code, out, err = run(
        capsys, "package", folder, "--creator", "creator:bob", "--license", "cc-by-4.0",
        "--payout", "stripe:acct_9", "-o", draft, "--faces", "--pii-redacted",
        "--model-release", "https://example.com/release.pdf",
        "--payee", "0x8ba1f109551bD432803012645Ac136ddd64DBA72:10000:creator",
        "--rate", "1", "--currency", "ETH", "--price-amount", "1000", "--token", "ETH",
    )  # fmt: skip
    assert code == 0, err
    assert "unsigned" in out
    obj = json.loads(draft.read_text())
    assert "signature" not in obj and "signingKey" not in obj["creator"]
    asset = obj["assets"][0]
    assert asset["privacy"] == {"faces": True}
    assert asset["consent"]["piiRedacted"] is True
    assert asset["priceModel"] == {
        "type": "per-unit", "rate": 1, "currency": "ETH", "amount": "1000", "token": "ETH"
    }  # fmt: skip

    signed = tmp_path / "signed.json"
    code, out, err = run(capsys, "sign", draft, "--key", p256_key, "-o", signed)
    assert code == 0, err
    manifest = Manifest.from_json(signed.read_bytes())
    verify_manifest(manifest)
    assert out.split()[0] == manifest.digest_hex()

    code, out, _ = run(capsys, "sign", draft, "--key", p256_key)
    assert code == 0 and json.loads(out) == json.loads(signed.read_text())


def test_package_with_eth_key_defaults_the_wallet(
    eth_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "f", 1)
    code, _, err = run(
        capsys, "package", folder, "--creator", "creator:eve", "--license", "cc0", "--key", eth_key
    )
    assert code == 0, err
    obj = json.loads((folder / "manifest.json").read_text())
    assert obj["creator"]["wallet"] == obj["creator"]["signingKey"][4:]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ([], "--wallet or --payout"),
        (["--wallet", "stripe:a", "--rate", "1"], "--rate and --currency"),
        (["--wallet", "stripe:a", "--payee", "0xabc"], "ADDRESS:BPS:ROLE"),
        (["--wallet", "stripe:a", "--created-at", "yesterday"], "createdAt"),
    ],
)
def test_package_user_errors(
    extra: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "f", 1)
    code, _, err = run(
        capsys, "package", folder, "--creator", "creator:a", "--license", "x", *extra
    )
    assert_one_line_error(code, err, fragment)


# -- errors never show a traceback -------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "invalid JSON"),
        (b'{"manifestVersion": "1.0", "creator": {', "invalid JSON"),
        (b"\xff\xfe", "invalid UTF-8"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"a": 1, "a": 2}', "duplicate member"),
        (b'{"manifestVersion": "1.0"}', "is required"),
    ],
)
@pytest.mark.parametrize("command", ["verify-manifest", "digest"])
def test_malformed_manifests(
    command: str, content: bytes, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(content)
    code, out, err = run(capsys, command, path)
    assert out == ""
    assert_one_line_error(code, err, fragment)


def test_truncated_signed_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads((VECTORS / "manifests.json").read_text())["cases"][0]
    for cut in (1, len(case["manifest"]) // 2, len(case["manifest"]) - 3):
        path = tmp_path / "m.json"
        path.write_text(case["manifest"][:cut])
        code, _, err = run(capsys, "verify-manifest", path)
        assert_one_line_error(code, err, "invalid JSON")


def test_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "verify-manifest", tmp_path / "nope.json")
    assert_one_line_error(code, err, "No such file")
    code, _, err = run(capsys, "sign", tmp_path / "nope.json", "--key", tmp_path / "k")
    assert_one_line_error(code, err, "No such file")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main([]) == 2
    assert main(["--help"]) == 0


def test_subprocess_errors_have_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"manifestVersion": "1.0", "assets": [')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for argv in (["verify-manifest", str(bad)], ["verify", str(bad)], ["digest", "-"]):
        result = subprocess.run(
            [sys.executable, "-m", "ledger.cli", *argv],
            input=b"\x00garbage",
            capture_output=True,
            cwd=ROOT,
            env=env,
            check=False,
        )
        assert result.returncode == 2
        assert result.stdout == b""
        assert result.stderr.startswith(b"ledger: error: ")
        assert result.stderr.count(b"\n") == 1 and b"Traceback" not in result.stderr


def test_stdin_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    case = json.loads((VECTORS / "manifests.json").read_text())["cases"][0]

    class Stdin:
        buffer = io.BytesIO(case["manifest"].encode())

    monkeypatch.setattr(sys, "stdin", Stdin)
    code, out, _ = run(capsys, "verify-manifest", "-")
    assert (code, out.strip()) == (0, case["expected"]["digest"])


# -- proof bundles ------------------------------------------------------------------------

def test_verify_bundles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vectors: dict[str, Any] = json.loads((VECTORS / "proofs.json").read_text())
    path = tmp_path / "bundle.json"
    for case in vectors["valid"][:3]:
        path.write_text(case["json"])
        code, out, err = run(capsys, "verify", path)
        assert (code, err) == (0, ""), err
        assert "ok" in out
    for case in vectors["invalid"][:10]:
        path.write_text(case["json"])
        code, out, err = run(capsys, "verify", path)
        assert out == ""
        assert_one_line_error(code, err)


def test_parser_lists_every_command() -> None:
    usage = build_parser().format_help()
    for command in ("keygen", "package", "sign", "verify-manifest", "digest", "verify"):
        assert command in usage


def test_package_says_when_a_manifest_is_too_large_for_one_request(
    p256_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ledger.cli import manifests

    monkeypatch.setattr(manifests, "_DEFAULT_BODY_LIMIT", 500)
    folder = _folder(tmp_path / "f", 3)
    code, _, err = run(capsys, "package", folder, "--creator", "creator:bob", "--license",
                       "cc-by-4.0", "--payout", "stripe:acct_9", "--key", p256_key)
    assert code == 0
    assert "--manifest-version 1.1" in err
