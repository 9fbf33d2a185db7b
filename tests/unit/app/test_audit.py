"""The audit use case: the lookup of other creators, the checks ``ledger package`` runs,
and the process pool giving what one process gives."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from skimage import data as samples

from ledger.app.audit import (
    AuditOptions,
    audit,
    audit_errors,
    audit_for_package,
    declared_from_spec,
)
from ledger.app.packager import PackageSpec, package_dir
from ledger.core.audit import Declared
from ledger.core.hashing import sha256
from ledger.errors import ValidationError
from tests.support import hashed_files
from tests.unit.app.audit_folder import EXPECTED, messy_folder, picture
from tests.unit.media.images import BERLIN_GPS, data_mining, image

NO_FACES = AuditOptions(faces=False)


def test_files_registered_by_another_creator_are_errors(tmp_path: Path) -> None:
    mine, theirs = picture(samples.coffee()), picture(samples.rocket())
    (tmp_path / "mine.jpg").write_bytes(mine)
    (tmp_path / "theirs.jpg").write_bytes(theirs)
    registry = {sha256(mine).hex(): ["creator:ana"],
                sha256(theirs).hex(): ["creator:ana", "creator:bo"]}
    asked: list[str] = []

    def lookup(digests: Sequence[str]) -> dict[str, list[str]]:
        asked.extend(digests)
        return {digest: registry[digest] for digest in digests if digest in registry}

    report = audit(tmp_path, Declared(creator_id="creator:ana"), options=NO_FACES,
                   lookup=lookup)
    assert [(item.path, item.code) for item in report.findings] == [
        ("theirs.jpg", "registered_by_other")]
    assert "creator:bo" in report.findings[0].message
    assert "creator:ana" not in report.findings[0].message
    assert sorted(asked) == sorted(registry)  # digests only, one question per file


def test_the_lookup_is_asked_once_for_the_folder_and_each_digest_once(
        tmp_path: Path) -> None:
    """One call for the whole folder (a service lookup asks many at a time), each
    distinct digest once however many files share it, empty files never."""
    for name, data in (("a.txt", b"same"), ("b.txt", b"same"), ("c.txt", b"other"),
                       ("empty.txt", b"")):
        (tmp_path / name).write_bytes(data)
    calls: list[list[str]] = []

    def lookup(digests: Sequence[str]) -> dict[str, list[str]]:
        calls.append(list(digests))
        return {sha256(b"same").hex(): ["creator:bo"]}

    report = audit(tmp_path, Declared(creator_id="creator:ana"), options=NO_FACES,
                   lookup=lookup)
    assert calls == [sorted([sha256(b"same").hex(), sha256(b"other").hex()])]
    assert {facts.path: facts.registered_by for facts in report.files} == {
        "a.txt": ("creator:bo",), "b.txt": ("creator:bo",), "c.txt": (), "empty.txt": ()}


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


def test_packaging_takes_the_digests_the_audit_computed_for_unchanged_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a lookup the audit hashes every file; `PackageAudit.known` holds them by the
    hash cache key of the state read, so packaging reads only a file changed since."""
    (tmp_path / "same.txt").write_bytes(b"unchanged")
    (tmp_path / "edited.txt").write_bytes(b"before")
    spec = PackageSpec("creator:ana", ["non-exclusive-training"], payout="stripe:acct_1")
    audited = audit_for_package(tmp_path, spec, lookup=lambda _: {})
    assert sorted(audited.known.values()) == sorted([sha256(b"unchanged"), sha256(b"before")])
    edited = tmp_path / "edited.txt"
    stat = edited.stat()
    edited.write_bytes(b"after!")
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    read = hashed_files(monkeypatch)
    manifest = package_dir(tmp_path, spec, known=audited.known)
    assert read == ["edited.txt"]
    assert {asset["id"]: asset["hash"] for asset in manifest["assets"]} == {
        "asset:same.txt": "sha256:" + sha256(b"unchanged").hex(),
        "asset:edited.txt": "sha256:" + sha256(b"after!").hex()}


def test_the_pool_finds_what_one_process_finds(tmp_path: Path) -> None:
    folder = messy_folder(tmp_path / "library", face=False)
    for index in range(12):  # enough files for the pool
        (folder / f"extra-{index:02}.png").write_bytes(
            picture(samples.coffee()[index * 10:, :], "PNG"))
    alone = audit(folder, Declared(), options=AuditOptions(faces=False, workers=1))
    pooled = audit(folder, Declared(), options=AuditOptions(faces=False, workers=2))
    assert pooled == alone
    assert {(item.path, item.code) for item in alone.findings} >= EXPECTED


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def test_photographs_hashed_as_they_are_read_give_the_facts_read_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--quick`` keeps only a JPEG's header and last bytes when the header fits in its
    first 64 KiB; every fact must be what reading the file whole gives."""
    photo = image("jpg", noise_side=1400, gps=BERLIN_GPS, exif={"BodySerialNumber": "SN-7"},
                  xmp=data_mining("DMI-PROHIBITED-AIMLTRAINING"))
    assert len(photo) > 2**20  # more than one block of the hashing loop
    files = {
        "gps.jpg": photo,
        "cut.jpg": photo[:len(photo) // 2],
        "padded.jpg": photo + bytes(3000),
        "cut-padded.jpg": photo[:-2] + bytes(3000),
        # Its header outgrows the first 64 KiB: read whole.
        "big-header.jpg": photo[:2] + _segment(0xE2, bytes(60_000)) * 2 + photo[2:],
        "c2pa-label.jpg": photo[:2] + _segment(0xEB, b"JP\x00\x00" + b"c2pa" * 4) + photo[2:],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    quick = AuditOptions(faces=False, phash=False, decode=False, check_ends=True, workers=1)
    import ledger.app.audit as audit_module

    streamed: list[bytes] = []
    hashed = audit_module.sha256_rest

    def counted(handle: object, start: bytes, keep: int = 0) -> tuple[bytes, bytes]:
        streamed.append(start)
        return hashed(handle, start, keep)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(audit_module, "sha256_rest", counted)
        kept = audit(tmp_path, Declared(), options=quick)
    assert len(streamed) == len(files) - 1
    monkeypatch.setattr(audit_module, "_HEAD_BYTES", 2**30)
    whole = audit(tmp_path, Declared(), options=quick)
    assert kept == whole
    assert [facts.sha256 for facts in kept.files] == [
        sha256(files[facts.path]) for facts in kept.files]
    found = {(item.path, item.code) for item in kept.findings}
    assert {("cut.jpg", "corrupt"), ("cut-padded.jpg", "corrupt"),
            ("gps.jpg", "gps_location"), ("gps.jpg", "device_serial")} <= found
    assert not {path for path, code in found if code == "corrupt"} & {"gps.jpg", "padded.jpg"}


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
