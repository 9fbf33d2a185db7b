"""The one folder walk (`ledger.app.file_hashes.walk_folder`) that packaging lists and
the audit examines: the same entries, in the same order, with one difference on
purpose: a folder it cannot read stops packaging and is a finding of the audit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger.app.audit import audit
from ledger.app.file_hashes import (
    FILE,
    SPECIAL,
    SYMLINK,
    UNREADABLE,
    exclusion,
    list_folder,
    walk_folder,
)
from ledger.core.audit import Declared
from ledger.errors import ValidationError


def _tree(root: Path) -> Path:
    for name in ("a.jpg", "a/x.bin", "a-b", "b", ".hidden", "c/.cache/y"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"data")
    return root


def test_entries_come_in_path_order_without_hidden_ones(tmp_path: Path) -> None:
    root = _tree(tmp_path / "folder")
    (root / "link").symlink_to(root / "b")
    os.mkfifo(root / "pipe")
    found = [(entry.relative, entry.kind) for entry in walk_folder(root)]
    assert found == [("a-b", FILE), ("a.jpg", FILE), ("a/x.bin", FILE), ("b", FILE),
                     ("link", SYMLINK), ("pipe", SPECIAL)]
    assert [relative for relative, _ in found] == sorted(relative for relative, _ in found)


def test_packaging_lists_what_the_audit_examines(tmp_path: Path) -> None:
    root = _tree(tmp_path / "folder")
    report = audit(root, Declared())
    assert list_folder(root).relatives == [facts.path for facts in report.files]


def test_exclusion_compares_real_paths(tmp_path: Path) -> None:
    root = _tree(tmp_path / "folder")
    (root / "to-b").symlink_to(root / "b")
    excluded = exclusion(root, [root / "a" / ".." / "b"])
    assert [e.relative for e in walk_folder(root) if excluded(e)] == ["b", "to-b"]
    assert not any(exclusion(root, [])(entry) for entry in walk_folder(root))


def test_an_unreadable_folder_stops_packaging_and_is_a_finding_of_the_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path / "folder")
    scandir = os.scandir

    def refusing(path: str) -> object:
        if path.endswith("/a"):
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    with pytest.raises(PermissionError):
        list_folder(root)
    kinds = [(e.relative, e.kind, e.detail) for e in walk_folder(root, report_unreadable=True)]
    assert ("a", UNREADABLE, "Permission denied") in kinds
    assert [facts.path for facts in audit(root, Declared()).files] == ["a", "a-b", "a.jpg", "b"]


def test_packaging_refuses_links_and_special_files(tmp_path: Path) -> None:
    root = _tree(tmp_path / "folder")
    (root / "to-b").symlink_to("b")
    with pytest.raises(ValidationError, match=r"^to-b is a symbolic link \(to b\): links"):
        list_folder(root)
