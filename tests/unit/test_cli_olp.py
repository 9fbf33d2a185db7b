"""``ledger olp rotate-key`` and ``ledger export rsl``: bad input is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.cli.main import main


def test_rotate_key_without_a_database_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["olp", "rotate-key", "--data-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: error: no database at") and err.count("\n") == 1


def test_export_rsl_without_a_database_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "rsl", str(tmp_path / "out"), "--data-dir",
                 str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: error: no database at") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_rotate_key_makes_a_new_current_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert main(["db", "upgrade", "--data-dir", data]) == 0
    capsys.readouterr()
    assert main(["olp", "rotate-key", "--data-dir", data]) == 0
    assert main(["olp", "rotate-key", "--data-dir", data]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("new signing key olp-") and first != second
