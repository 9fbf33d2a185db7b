"""``ledger audit DIR``: a messy folder gives the expected findings, the exit codes say
what scripts need, and nothing a file name holds reaches the terminal or the page raw."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from skimage import data as samples

from ledger.cli.main import main
from tests.unit.app.audit_folder import EXPECTED, FACE, NO_AI, messy_folder, picture
from tests.unit.test_cli_startup import _PROBE


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["audit", *argv, "--json", "-"])
    return code, json.loads(capsys.readouterr().out)


def _found(report: dict[str, object]) -> set[tuple[str, str]]:
    return {(item["path"], item["code"]) for item in report["findings"]}  # type: ignore[attr-defined, index]


def test_messy_folder_gives_every_expected_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = messy_folder(tmp_path / "library")
    code, report = _json(capsys, str(folder))
    assert code == 1
    assert report["format"] == "ledger-audit/1" and report["facesChecked"] is True
    assert _found(report) == EXPECTED | {FACE}
    files = {item["path"]: item for item in report["files"]}  # type: ignore[attr-defined]
    assert ".hidden.jpg" not in files
    assert files["link.jpg"]["kind"] == "symlink" and "sha256" not in files["link.jpg"]
    assert files["huge.png"]["problem"] == "bomb"
    assert files["coffee.jpg"]["sha256"] == files["coffee-copy.jpg"]["sha256"]
    severities = {item["code"]: item["severity"] for item in report["findings"]}  # type: ignore[attr-defined]
    assert severities["faces_undeclared"] == "review"
    assert severities["corrupt"] == severities["huge_dimensions"] == "error"
    assert severities["gps_location"] == "warning"
    counts = report["counts"]
    assert counts == {"files": len(files), **{  # type: ignore[dict-item]
        name: sum(item["severity"] == name for item in report["findings"])  # type: ignore[attr-defined]
        for name in ("error", "warning", "review")}}
    for item in report["findings"]:  # type: ignore[attr-defined]
        assert set(item) == {"path", "code", "severity", "message", "fix"} and item["fix"]


def test_declared_faces_need_a_release_and_silence_the_detector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "people"
    folder.mkdir()
    (folder / "astronaut.png").write_bytes(picture(samples.astronaut()))
    code, report = _json(capsys, str(folder), "--faces")
    assert code == 1 and _found(report) == {(".", "model_release_missing")}
    code, report = _json(capsys, str(folder), "--faces", "--model-release",
                         "https://example.com/releases/1.pdf")
    assert (code, report["findings"]) == (0, [])


def test_no_faces_skips_the_detector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = messy_folder(tmp_path / "library")
    code, report = _json(capsys, str(folder), "--no-faces")
    assert code == 1 and report["facesChecked"] is False
    assert _found(report) == EXPECTED


def test_metadata_conflicts_are_errors_when_a_training_licence_is_declared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = messy_folder(tmp_path / "library", face=False, conflict=True)
    _, report = _json(capsys, str(folder), "--no-faces")
    assert _found(report) == EXPECTED  # no creator, no licence: nothing to contradict
    _, report = _json(capsys, str(folder), "--no-faces", "--creator", "creator:ana",
                      "--license", "non-exclusive-training")
    conflicts = {(path, code) for path, code in _found(report) if path == NO_AI}
    assert conflicts == {(NO_AI, "conflict_training_prohibited"),
                         (NO_AI, "conflict_other_rights_holder")}


def test_a_clean_folder_exits_0_with_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "one.png").write_bytes(picture(samples.coffee(), "PNG"))
    assert main(["audit", str(tmp_path), "--no-faces"]) == 0
    assert capsys.readouterr().out == "1 files: 0 errors, 0 warnings, 0 to review (face " \
        "detection off)\n"


@pytest.mark.parametrize("argv", [["audit", "/nonexistent-folder"],
                                  ["audit", ".", "--workers", "0"]])
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: error: ") and err.count("\n") == 1


def test_a_file_named_like_markup_is_escaped_in_the_page_and_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    evil = '<script>alert("x")<img src=x onerror=alert(1)>\x1b[2J.txt'
    (folder / evil).write_text("not an image")
    (folder / "photo.png").write_bytes(picture(samples.coffee(), "PNG"))
    page = tmp_path / "report.html"
    assert main(["audit", str(folder), "--no-faces", "--html", str(page)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[2J" in out
    html = page.read_text()
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("data:image/png;base64,") == 1  # photo.png's thumbnail only
    assert "default-src 'none'" in html


def test_json_goes_to_a_file_beside_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = messy_folder(tmp_path / "library", face=False)
    target = tmp_path / "audit.json"
    assert main(["audit", str(folder), "--no-faces", "--json", str(target)]) == 1
    table = capsys.readouterr().out
    assert "ERROR    truncated.jpg" in table and "fix: " in table
    assert _found(json.loads(target.read_text())) == EXPECTED


def test_help_loads_no_image_library() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE, "audit", "--help"],
                          capture_output=True, text=True, check=True, timeout=60)
    loaded = set(done.stdout.strip().split(","))
    assert not loaded & {"PIL", "numpy", "skimage", "imagehash", "pyexiv2", "c2pa", "cv2"}


def test_quick_finds_all_but_what_needs_decoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = messy_folder(tmp_path / "library")
    (folder / "cut-at-the-end.png").write_bytes(picture(samples.coffee(), "PNG")[:-12])
    code, report = _json(capsys, str(folder), "--quick")
    assert code == 1 and report["facesChecked"] is False
    decoded_only = {item for item in EXPECTED if item[1] == "near_duplicate"}
    assert _found(report) == (EXPECTED - decoded_only) | {("cut-at-the-end.png", "corrupt")}
    files = {item["path"]: item for item in report["files"]}  # type: ignore[attr-defined]
    assert "phash" not in files["coffee.jpg"]
    assert capsys.readouterr().err == ""  # no note about the face detector: not asked for
