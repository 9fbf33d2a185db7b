"""Parallel, resumable hashing of a folder (ledger.app.file_hashes) and 1.1 packaging."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ledger.app import file_hashes
from ledger.app.file_hashes import (
    CACHE_NAME,
    HashCache,
    HashProgress,
    hash_listing,
    list_folder,
)
from ledger.app.packager import ASSETS_FILE, PackageSpec, package_dir, package_library
from ledger.core.asset_tree import AssetTree, check_entry_line, entry_bytes
from ledger.core.manifest import ManifestHeader
from ledger.errors import ValidationError

ALICE = PackageSpec("creator:alice", ["cc-by-4.0"], wallet="stripe:acct_1", tags=["t"])


def _folder(root: Path, count: int, size: int = 100) -> Path:
    for index in range(count):
        path = root / f"d{index % 7}" / f"f{index:05}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(index.to_bytes(4, "big") * (size // 4))
    return root


def _expected(root: Path) -> list[bytes]:
    listing = list_folder(root)
    return [hashlib.sha256((root / rel).read_bytes()).digest() for rel in listing.relatives]


@pytest.mark.parametrize("workers", [1, 2, 8])
def test_parallel_hashes_equal_serial_ones_in_order(tmp_path: Path, workers: int) -> None:
    root = _folder(tmp_path / "lib", 700)
    (root / "big.bin").write_bytes(os.urandom(3 * file_hashes.BLOCK_SIZE + 5))
    assert list(hash_listing(list_folder(root), workers=workers)) == _expected(root)


def test_an_interrupted_run_resumes_hashing_only_what_is_left(tmp_path: Path) -> None:
    root = _folder(tmp_path / "lib", 2000)
    cache_file = tmp_path / CACHE_NAME

    def interrupt(state: HashProgress) -> None:
        if state.files_done >= 600:
            raise KeyboardInterrupt

    with HashCache(cache_file) as cache, pytest.raises(KeyboardInterrupt):
        list(hash_listing(list_folder(root), cache, workers=2, progress=interrupt))
    seen: list[HashProgress] = []
    with HashCache(cache_file) as cache:
        kept = len(cache)
        assert 600 <= kept < 2000
        digests = list(hash_listing(list_folder(root), cache, workers=2, progress=seen.append))
    assert digests == _expected(root)
    # Only the files the interrupted run had not hashed were read again.
    assert seen[-1].cached == kept and seen[-1].files_done == 2000


def test_a_file_written_while_hashed_is_not_remembered(tmp_path: Path) -> None:
    root = _folder(tmp_path / "lib", 3)
    listing = list_folder(root)
    (root / listing.relatives[1]).write_bytes(b"changed after the walk")
    with HashCache(tmp_path / CACHE_NAME) as cache:
        digests = list(hash_listing(listing, cache))
        assert len(cache) == 2
    assert digests[1] == hashlib.sha256(b"changed after the walk").digest()


def test_a_changed_file_is_hashed_again_and_a_torn_cache_line_ignored(tmp_path: Path) -> None:
    root = _folder(tmp_path / "lib", 5)
    cache_file = tmp_path / CACHE_NAME
    cache = HashCache(cache_file)
    list(hash_listing(list_folder(root), cache))
    cache.close()
    with open(cache_file, "a") as handle:
        handle.write("0123abc")  # an interrupted write
    changed = root / "d0" / "f00000.bin"
    changed.write_bytes(b"new content, new size")
    cache = HashCache(cache_file)
    assert len(cache) == 5
    assert list(hash_listing(list_folder(root), cache)) == _expected(root)
    cache.close()
    with HashCache(cache_file) as reopened:
        assert len(reopened) == 6  # the changed file's new state too


def test_package_library_writes_canonical_entries_that_match_the_header(tmp_path: Path) -> None:
    root = _folder(tmp_path / "lib", 300)
    assets = tmp_path / ASSETS_FILE
    header = package_library(root, ALICE, assets, cache_file=tmp_path / CACHE_NAME)
    parsed = ManifestHeader.from_obj(header, allow_unsigned=True)
    lines = assets.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 301
    entries = [check_entry_line(line, f"line {n}") for n, line in enumerate(lines[:-1])]
    assert entries == lines[:-1]
    assert parsed.asset_count == 300
    assert AssetTree.from_entries(entries).root == parsed.assets_root
    # The same assets as a 1.0 manifest of the same folder, in the same order.
    inline = package_dir(root, ALICE)["assets"]
    assert entries == [entry_bytes(asset) for asset in inline]
    # A rerun reads nothing and writes the same bytes.
    before = assets.read_bytes()
    assert package_library(root, ALICE, assets, cache_file=tmp_path / CACHE_NAME) == header
    assert assets.read_bytes() == before


def test_package_library_in_the_folder_skips_its_own_outputs(tmp_path: Path) -> None:
    root = _folder(tmp_path / "lib", 3)
    first = package_library(root, ALICE, root / ASSETS_FILE, cache_file=root / CACHE_NAME)
    (root / "manifest.json").write_text("{}")
    again = package_library(root, ALICE, root / ASSETS_FILE, cache_file=root / CACHE_NAME,
                            exclude=[root / "manifest.json"])
    assert again == first and first["assetCount"] == 3


def test_package_library_refuses_bad_entries_and_writes_nothing(tmp_path: Path) -> None:
    root = _folder(tmp_path / "lib", 3)
    assets = tmp_path / ASSETS_FILE
    bad = PackageSpec("creator:alice", ["bad licence"], wallet="stripe:acct_1")
    with pytest.raises(ValidationError) as caught:
        package_library(root, bad, assets)
    assert caught.value.field == "assets[0].licenses[0]"
    assert not assets.exists() and list(tmp_path.glob(".assets*")) == []


def test_composed_entries_equal_entry_bytes_and_long_urls_get_the_full_check(
    tmp_path: Path,
) -> None:
    """Entries after the first are composed from canonical members (fast); one whose URL
    the shortcut cannot vouch for is checked in full and named."""
    root = tmp_path / "lib"
    names = ["a.jpg", "Ünïcode b.png", "c/d e.tar.gz", "é" * 100 + ".jpg"]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())
    spec = PackageSpec("creator:alice", ["cc-by-4.0", {"id": "custom", "url": "https://x.org/l"}],
                       wallet="stripe:acct_1", url_base="https://cdn.example.com/lib/",
                       price_model={"type": "per-unit", "rate": 0.05, "currency": "USD"})
    assets = tmp_path / ASSETS_FILE
    package_library(root, spec, assets)
    inline = package_dir(root, spec)["assets"]
    assert assets.read_bytes().splitlines() == [entry_bytes(asset) for asset in inline]
    deep = root / ("é" * 120) / ("é" * 120)
    deep.mkdir(parents=True)
    (deep / ("é" * 120)).write_bytes(b"deep")
    with pytest.raises(ValidationError) as caught:
        package_library(root, spec, assets)
    assert caught.value.field == "assets[4].url"
