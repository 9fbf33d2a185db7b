"""The audit use case: the lookup of other creators, the checks ``ledger package`` runs,
and the process pool giving what one process gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from skimage import data as samples

from ledger.app.audit import AuditOptions, audit, audit_errors, declared_from_spec
from ledger.app.packager import PackageSpec
from ledger.core.audit import Declared
from ledger.core.hashing import sha256
from ledger.errors import ValidationError
from tests.unit.app.audit_folder import EXPECTED, messy_folder, picture

NO_FACES = AuditOptions(faces=False)


def test_files_registered_by_another_creator_are_errors(tmp_path: Path) -> None:
    mine, theirs = picture(samples.coffee()), picture(samples.rocket())
    (tmp_path / "mine.jpg").write_bytes(mine)
    (tmp_path / "theirs.jpg").write_bytes(theirs)
    registry = {sha256(mine).hex(): ["creator:ana"],
                sha256(theirs).hex(): ["creator:ana", "creator:bo"]}
    asked: list[str] = []

    def lookup(digest: str) -> list[str]:
        asked.append(digest)
        return registry.get(digest, [])

    report = audit(tmp_path, Declared(creator_id="creator:ana"), options=NO_FACES,
                   lookup=lookup)
    assert [(item.path, item.code) for item in report.findings] == [
        ("theirs.jpg", "registered_by_other")]
    assert "creator:bo" in report.findings[0].message
    assert "creator:ana" not in report.findings[0].message
    assert sorted(asked) == sorted(registry)  # digests only, one question per file


def test_package_stops_on_errors_only(tmp_path: Path) -> None:
    folder = messy_folder(tmp_path / "library", face=False)
    spec = PackageSpec("creator:ana", ["non-exclusive-training"], privacy={"faces": True})
    found = {(item.path, item.code) for item in audit_errors(folder, spec)}
    errors = {("link.jpg", "symlink"), ("pipe", "special_file"), ("empty.png", "empty"),
              ("huge.png", "huge_dimensions")}
    assert found == errors | {(".", "model_release_missing")}
    decoded = {(item.path, item.code) for item in audit_errors(folder, spec, decode=True)}
    assert decoded == found | {("truncated.jpg", "corrupt")}
    spec = PackageSpec("creator:ana", ["non-exclusive-training"],
                       consent={"modelRelease": "ref-1"}, privacy={"faces": True})
    manifest = folder / "manifest.json"
    manifest.write_text("{}")
    assert {(item.path, item.code) for item in audit_errors(
        folder, spec, exclude=[manifest])} == errors


def test_the_pool_finds_what_one_process_finds(tmp_path: Path) -> None:
    folder = messy_folder(tmp_path / "library", face=False)
    for index in range(12):  # enough files for the pool
        (folder / f"extra-{index:02}.png").write_bytes(
            picture(samples.coffee()[index * 10:, :], "PNG"))
    alone = audit(folder, Declared(), options=AuditOptions(faces=False, workers=1))
    pooled = audit(folder, Declared(), options=AuditOptions(faces=False, workers=2))
    assert pooled == alone
    assert {(item.path, item.code) for item in alone.findings} >= EXPECTED


def test_declared_from_spec_keeps_privacy_and_consent() -> None:
    spec = PackageSpec("creator:ana", ["cc-by-4.0"], creator_name="Ana",
                       consent={"modelRelease": "r"}, privacy={"minors": True})
    declared = declared_from_spec(spec)
    assert declared.people and declared.model_release
    assert declared.creator_names == ("Ana",) and declared.licences == ("cc-by-4.0",)


def test_not_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValidationError, match="is not a folder"):
        audit(tmp_path / "file", Declared())
