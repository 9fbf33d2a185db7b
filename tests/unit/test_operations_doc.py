"""docs/operations.md documents every setting (and its flags exist) and every metric."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from ledger.cli.main import main
from ledger.config import Settings
from ledger.metrics import Metrics

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
SETTINGS = [f.name for f in fields(Settings)]


def _rows() -> dict[str, str]:
    """The configuration table's rows, by the setting named in their first cell."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## 1. Configuration", 1)[1].split("\n## 2.", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `([a-z_]+)` \|", line)
        if match:
            rows[match.group(1)] = line
    return rows


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_has_a_row(name: str) -> None:
    assert name in _rows(), f"docs/operations.md has no `{name}` row in its settings table"


def test_the_table_names_no_setting_that_does_not_exist() -> None:
    assert set(_rows()) <= set(SETTINGS)


def test_every_flag_in_the_table_is_a_flag_of_serve(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    flags = set(re.findall(r"--[a-z-]+", capsys.readouterr().out))
    for name, row in _rows().items():
        flag = row.split("|")[2].strip().strip("`")
        if flag.startswith("--"):
            assert flag in flags, f"{name}: `ledger serve` has no {flag}"


def test_every_metric_of_metrics_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = re.findall(r"^# TYPE (\S+) ", Metrics().render(), flags=re.MULTILINE)
    assert names
    for name in names:
        assert f"`{name}`" in text, f"docs/operations.md does not mention metric {name}"
