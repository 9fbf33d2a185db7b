"""`ledger export proofs` refuses what it cannot export from with one line and exit 2,
and makes nothing (tests/integration/service/test_evidence.py exports for real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.cli.main import main


def test_no_database_is_one_line_and_makes_none(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    code = main(["export", "proofs", str(tmp_path / "site"), "--data-dir", str(data),
                 "--rpc-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("ledger: error: no database at") and err.count("\n") == 1
    assert not data.exists() and not (tmp_path / "site").exists()


def test_no_chain_node_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ledger.db").write_bytes(b"")
    code = main(["export", "proofs", str(tmp_path / "site"), "--data-dir", str(data)])
    err = capsys.readouterr().err
    assert code == 2 and "no chain node: pass --rpc-url, or start `ledger serve`" in err
    assert not (tmp_path / "site").exists()
