"""Folder packaging: walk, hash, ids, media types (ledger.app.packager)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.app.file_hashes import BLOCK_SIZE, hash_listing, list_folder
from ledger.app.packager import (
    MAX_ID_LENGTH,
    PackageSpec,
    asset_ids,
    media_type,
    package_dir,
    parse_payee,
    slugify,
)
from ledger.core.manifest import Manifest
from ledger.errors import ValidationError

ALICE = PackageSpec("creator:alice", ["cc-by-4.0"], wallet="stripe:acct_1")


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def test_walk_is_sorted_and_skips_hidden_and_excluded(tmp_path: Path) -> None:
    root = _tree(
        tmp_path / "pkg",
        {
            "b.jpg": b"b",
            "a/z.png": b"z",
            "a/b.txt": b"t",
            "A.jpg": b"A",
            ".secret": b"s",
            ".git/config": b"c",
            "sub/.hidden/x.jpg": b"x",
            "manifest.json": b"{}",
        },
    )
    (root / ".link.jpg").symlink_to(root / "b.jpg")
    names = list_folder(root, [root / "manifest.json"]).relatives
    assert names == ["A.jpg", "a/b.txt", "a/z.png", "b.jpg"]


def test_walk_order_is_the_sorted_order_of_the_relative_paths(tmp_path: Path) -> None:
    """A folder is visited as "name/", so "a/x" comes after "a.jpg" and "a-b" as a
    sorted list of paths has it (the 1.0 packager sorted the whole list)."""
    names = ["a.jpg", "a/x.jpg", "a-b.jpg", "a0", "ab/c/d.jpg", "ab/c.jpg", "ab.jpg", "B"]
    root = _tree(tmp_path / "pkg", {name: name.encode() for name in names})
    assert list_folder(root).relatives == sorted(names)


def test_links_and_special_files_are_refused_by_name(tmp_path: Path) -> None:
    """Before: symbolic links were skipped silently, so a folder of links packaged
    to a manifest missing those assets without a word."""
    root = _tree(tmp_path / "pkg", {"b.jpg": b"b", "sub/c.jpg": b"c"})
    (root / "link.jpg").symlink_to(root / "b.jpg")
    (root / "outside.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (root / "linked-dir").symlink_to(root / "sub")
    (root / "sub" / "z.jpg").symlink_to(root / "b.jpg")
    with pytest.raises(ValidationError) as caught:
        list_folder(root)
    message = str(caught.value)
    assert "\n" not in message
    for part in (f"link.jpg is a symbolic link (to {root / 'b.jpg'})",
                 "linked-dir is a symbolic link", "outside.jpg is a symbolic link",
                 "and 1 more", "links are not followed"):
        assert part in message


def test_a_pipe_is_refused_not_read(tmp_path: Path) -> None:
    root = _tree(tmp_path / "pkg", {"b.jpg": b"b"})
    os.mkfifo(root / "pipe")  # reading it would block for ever
    with pytest.raises(ValidationError, match=r"^pipe is not a regular file"):
        list_folder(root)


def test_hashes_stream_large_files_and_report_progress(tmp_path: Path) -> None:
    content = os.urandom(3 * BLOCK_SIZE + 17)
    _tree(tmp_path, {"big.bin": content, "empty": b""})
    seen: list[tuple[int, int, int, int]] = []
    digests = list(hash_listing(list_folder(tmp_path), progress=lambda state: seen.append(
        (state.files_done, state.files_total, state.bytes_done, state.bytes_total))))
    assert digests == [hashlib.sha256(content).digest(), hashlib.sha256(b"").digest()]
    assert seen[-1] == (2, 2, len(content), len(content))
    assert seen == sorted(seen)


@pytest.mark.parametrize(
    ("path", "slug"),
    [
        ("Photos/IMG 01.JPG", "photos-img-01.jpg"),
        ("café/Ünïcode.png", "cafe-unicode.png"),
        ("__init__.py", "init__.py"),
        ("a//b", "a-b"),
    ],
)
def test_slugify(path: str, slug: str) -> None:
    assert slugify(path) == slug


def test_slugify_edge_cases() -> None:
    assert slugify("日本.").startswith("file-")
    long = slugify("x" * 300)
    assert len(long) == MAX_ID_LENGTH and long != slugify("x" * 301)


def test_asset_ids_are_unique_and_valid() -> None:
    paths = ["A.jpg", "a-jpg", "x" * 200, "x" * 200 + "/y"]
    ids = list(asset_ids(paths))
    assert ids[:2] == ["asset:a.jpg", "asset:a-jpg"]
    assert list(asset_ids(paths).values()) == paths
    assert all(len(asset_id) <= len("asset:") + MAX_ID_LENGTH for asset_id in ids)


@pytest.mark.parametrize(
    ("paths", "named"),
    [(["A.jpg", "a.jpg"], "A.jpg and a.jpg would both be asset:a.jpg"),
     (["Photos/IMG 01.JPG", "photos/img-01.jpg"], "asset:photos-img-01.jpg")],
)
def test_asset_ids_refuse_paths_that_differ_only_in_case(paths: list[str], named: str) -> None:
    """Before: the second file got asset:a.jpg-2, so adding A.jpg to a folder moved
    a.jpg's id (and the splits keyed on it) to another file."""
    with pytest.raises(ValidationError, match="rename one") as caught:
        asset_ids(paths)
    assert named in str(caught.value)


def test_package_dir_refuses_a_case_collision(tmp_path: Path) -> None:
    root = _tree(tmp_path / "pkg", {"Photo.JPG": b"1", "photo.jpg": b"2"})
    with pytest.raises(ValidationError, match=r"Photo\.JPG and photo\.jpg"):
        package_dir(root, ALICE)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", "image/jpeg"),
        ("A.JPG", "image/jpeg"),
        ("clip.mp4", "video/mp4"),
        ("notes.txt", "text/plain"),
        ("data.tar.gz", "application/gzip"),
        ("README", "application/octet-stream"),
        ("x.unknownext", "application/octet-stream"),
    ],
)
def test_media_type(name: str, expected: str) -> None:
    assert media_type(name) == expected


def test_parse_payee() -> None:
    payee = parse_payee("0x8ba1f109551bD432803012645Ac136ddd64DBA72:7000:creator")
    assert payee == {
        "account": "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
        "shareBps": 7000,
        "role": "creator",
    }
    for bad in ("0xabc:70", "0xabc:x:creator", "0xabc:10:owner"):
        with pytest.raises(ValidationError):
            parse_payee(bad)


def test_package_dir_builds_a_valid_draft(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"a.jpg": b"a", "sub/b c.png": b"b"})
    obj = package_dir(root, replace(
        ALICE,
        price_model={"type": "per-unit", "rate": 0.01, "currency": "USD"},
        payees=[parse_payee("0x8ba1f109551bD432803012645Ac136ddd64DBA72:10000:creator")],
        privacy={"faces": True},
        tags=["outdoor"],
        url_base="https://cdn.example.com/pkg/",
        created_at="2026-01-01T00:00:00Z",
    ))
    manifest = Manifest.from_obj(obj, allow_unsigned=True)
    assert [asset.id for asset in manifest.assets] == ["asset:a.jpg", "asset:sub-b-c.png"]
    assert manifest.assets[1].url == "https://cdn.example.com/pkg/sub/b%20c.png"
    assert manifest.assets[0].hash == "sha256:" + hashlib.sha256(b"a").hexdigest()
    assert obj["assets"][0]["priceModel"] is not obj["assets"][1]["priceModel"]
    assert package_dir(root, ALICE) == (
        package_dir(root, ALICE)
    )


def test_package_dir_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no files"):
        package_dir(tmp_path, ALICE)
    with pytest.raises(ValidationError, match="not a folder"):
        package_dir(tmp_path / "missing", ALICE)
    _tree(tmp_path, {"a.jpg": b"a"})
    with pytest.raises(ValidationError) as caught:
        package_dir(tmp_path, replace(ALICE, licenses=["bad license"]))
    assert caught.value.field == "assets[0].licenses[0]"


def test_ten_thousand_files(tmp_path: Path) -> None:
    root = tmp_path / "many"
    for folder in range(10):
        directory = root / f"d{folder}"
        directory.mkdir(parents=True)
        for index in range(1000):
            (directory / f"f{index:04}.txt").write_bytes(b"%d" % index)
    obj = package_dir(root, ALICE)
    assert len(obj["assets"]) == 10_000
    assert obj["assets"][0]["id"] == "asset:d0-f0000.txt"
