"""`ledger package --manifest-version 1.1` and the offline 1.1 commands (issue 14)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ledger.app.file_hashes import CACHE_NAME
from ledger.cli.main import main
from ledger.cli.upload import check_entries, read_library, upload_progress
from ledger.core.asset_tree import check_entry_line
from ledger.core.licence_status import notice_ms
from ledger.core.manifest import ManifestHeader
from ledger.core.signing import verify_manifest
from ledger.errors import ValidationError


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, needle: str = "") -> None:
    assert code == 2
    assert err.startswith("ledger: error: ") and err.count("\n") == 1, err
    assert needle in err, err


@pytest.fixture
def key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "creator.pem"
    assert run(capsys, "keygen", "-o", path)[0] == 0
    return path


def _folder(root: Path, count: int) -> Path:
    for index in range(count):
        path = root / f"set{index % 3}" / f"img-{index:04}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"image %d" % index)
    return root


def _package(capsys: pytest.CaptureFixture[str], folder: Path, *extra: str | Path
             ) -> tuple[int, str, str]:
    return run(capsys, "package", folder, "--creator", "creator:alice", "--license",
               "cc-by-4.0", "--wallet", "stripe:acct_1", "--manifest-version", "1.1", *extra)


def test_package_1_1_writes_a_signed_header_and_its_entries(
    key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "photos", 50)
    code, out, err = _package(capsys, folder, "--key", key)
    assert code == 0, err
    assert err == ""  # not a terminal: no progress
    digest = out.split()[0]
    assert out == f"{digest}  {folder / 'manifest.json'} (50 assets in " \
                  f"{folder / 'assets.jsonl'})\n"
    header = ManifestHeader.from_json((folder / "manifest.json").read_bytes())
    verify_manifest(header)
    assert header.digest_hex() == digest and header.asset_count == 50
    lines = (folder / "assets.jsonl").read_bytes().splitlines()
    assert [check_entry_line(line) for line in lines] == lines
    assert (folder / CACHE_NAME).exists()
    assert run(capsys, "verify-manifest", folder / "manifest.json")[1].strip() == digest
    assert run(capsys, "digest", folder / "manifest.json")[1].strip() == digest
    library = read_library(json.loads((folder / "manifest.json").read_text()),
                           folder / "assets.jsonl", 16)
    assert library.chunks == 4 and library.digest == digest
    assert [len(library.chunk(i)[0]) for i in range(4)] == [16, 16, 16, 2]
    # Packaging again gives the same bytes; the outputs are not packaged themselves.
    assert _package(capsys, folder, "--key", key)[1] == out


def test_package_1_2_declares_the_revocation_notice_in_every_licence(
    key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "photos", 3)
    code, _, err = _package(capsys, folder, "--key", key, "--manifest-version", "1.2",
                            "--revocation-notice", "90")
    assert code == 0, err
    header = ManifestHeader.from_json((folder / "manifest.json").read_bytes())
    assert header.manifest_version == "1.2"
    for line in (folder / "assets.jsonl").read_bytes().splitlines():
        entry = json.loads(line)
        assert entry["licenses"] == [{"id": "cc-by-4.0", "revocationNotice": 90 * 86_400}]
        assert notice_ms(entry) == 90 * 86_400_000


def test_a_1_1_draft_is_signed_by_ledger_sign(
    key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "photos", 4)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = _package(capsys, folder, "-o", out_dir / "draft.json")
    assert code == 0 and "unsigned" in out, err
    code, out, err = run(capsys, "sign", out_dir / "draft.json", "--key", key, "-o",
                         out_dir / "manifest.json")
    assert code == 0, err
    assert not (folder / "assets.jsonl").exists() and (out_dir / "assets.jsonl").exists()
    read_library(json.loads((out_dir / "manifest.json").read_text()),
                 out_dir / "assets.jsonl", 4096)


def test_progress_is_drawn_only_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    folder = _folder(tmp_path / "photos", 5)
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    code, _, _ = _package(capsys, folder)
    assert code == 0
    shown = terminal.getvalue()
    assert shown.startswith("\rhashing ") and "5/5 files" in shown and "MB/s" in shown
    assert shown.endswith("\n")
    monkeypatch.undo()
    code, _, err = _package(capsys, folder)
    assert code == 0 and err == ""
    assert "from the cache" not in shown


def test_an_edited_assets_file_is_refused_before_anything_is_sent(
    key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "photos", 6)
    assert _package(capsys, folder, "--key", key)[0] == 0
    header = json.loads((folder / "manifest.json").read_text())
    assets = folder / "assets.jsonl"
    lines = assets.read_bytes().splitlines(keepends=True)
    assets.write_bytes(b"".join(lines[::-1]))
    with pytest.raises(ValidationError, match="is not what the manifest signed"):
        read_library(header, assets, 4096)
    assets.write_bytes(b"".join(lines[:-1]))
    with pytest.raises(ValidationError, match="has 5 entries but the manifest signed "
                                              "assetCount 6"):
        read_library(header, assets, 4096)
    code, _, err = run(capsys, "verify-manifest", folder / "manifest.json")
    one_line_error(code, err, "assetCount 6")
    assets.write_bytes(b"".join(lines))
    assert run(capsys, "verify-manifest", folder / "manifest.json")[0] == 0
    spaced = lines[:]
    spaced[2] = spaced[2].replace(b",", b", ", 1)
    assets.write_bytes(b"".join(spaced))
    code, _, err = run(capsys, "verify-manifest", folder / "manifest.json")
    one_line_error(code, err, "assets.jsonl line 3: is not in canonical form")
    moved = tmp_path / "elsewhere.jsonl"
    moved.write_bytes(b"".join(lines))
    assert run(capsys, "verify-manifest", folder / "manifest.json", "--assets", moved)[0] == 0
    assets.unlink()
    code, _, err = run(capsys, "verify-manifest", folder / "manifest.json")
    assert code == 0 and "only the header and its signature were checked" in err
    assets.write_bytes(b"".join(lines[:-1]))
    # Bad input on the command line: one line, exit 2, before any network.
    url = ("--url", "http://127.0.0.1:9")
    code, _, err = run(capsys, "submit", folder / "manifest.json", *url)
    one_line_error(code, err, "assetCount 6")
    code, _, err = run(capsys, "submit", folder / "manifest.json", "--chunk-size", "100", *url)
    one_line_error(code, err, "--chunk-size")
    code, _, err = run(capsys, "submit", folder / "manifest.json", folder / "manifest.json",
                       "--assets", assets, *url)
    one_line_error(code, err, "--assets: goes with exactly one 1.1 manifest")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [(("--manifest-version", "1.3"), "invalid choice"),
     (("--manifest-version", "1.2"), "--revocation-notice"),
     (("--revocation-notice", "30"), "--revocation-notice"),
     (("--manifest-version", "1.2", "--revocation-notice", "-1"), "--revocation-notice"),
     (("--workers", "0"), "--workers"),
     (("--created-at", "yesterday"), "createdAt")],
)
def test_package_bad_options(
    argv: tuple[str, ...], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "photos", 2)
    code, _, err = _package(capsys, folder, *argv)
    assert code == 2 and needle in err and "Traceback" not in err
    assert not (folder / "assets.jsonl").exists()


def test_a_duplicate_asset_id_is_named_by_its_lines(
    key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path / "photos", 3)
    assert _package(capsys, folder, "--key", key)[0] == 0
    assets = folder / "assets.jsonl"
    lines = assets.read_bytes().splitlines(keepends=True)
    assets.write_bytes(b"".join([*lines, lines[1]]))
    header = json.loads((folder / "manifest.json").read_text())
    with pytest.raises(ValidationError) as caught:
        check_entries(ManifestHeader.from_obj(header), assets)
    assert str(caught.value).endswith("line 4: id asset:set1-img-0001.jpg is also on line 2")


def test_upload_progress_line() -> None:
    stream = io.StringIO()
    show = upload_progress(stream)
    show(1, 3, 4096)
    show(3, 3, 9000)
    text = stream.getvalue()
    assert text.startswith("\ruploading 1/3 chunks, 4,096 assets")
    assert "\ruploading 3/3 chunks, 9,000 assets" in text and text.endswith("assets/s\n")


def test_proof_asset_needs_an_index_or_an_id_with_its_assets_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ("--url", "http://127.0.0.1:9")
    for value, needle in (("photo", "--asset: must be an asset index or an asset id"),
                          ("asset:x", "--asset: an asset id is found")):
        code, _, err = run(capsys, "proof", "0x" + "ab" * 32, "--asset", value, *url)
        one_line_error(code, err, needle)
    assets = tmp_path / "assets.jsonl"
    assets.write_text('{"id":"asset:a"}\n')
    code, _, err = run(capsys, "proof", "0x" + "ab" * 32, "--asset", "asset:b", "--assets",
                       assets, *url)
    one_line_error(code, err, "asset:b is not in")
