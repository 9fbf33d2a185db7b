"""`ledger.files.replacing`: a file is replaced whole or not at all, through a temporary
name no other writer and no stale file can share."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ledger.files import replace_file, replacing


def test_two_writers_into_one_folder_do_not_share_a_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with replacing(target) as first, replacing(target) as second:
        first.write(b"first")
        second.write(b"second")
    # The outer block ends last, so its bytes are the file's; neither was mixed in.
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(target, durable=True) as handle:
        handle.write(b"half")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_target_link_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    target = tmp_path / "out"
    target.symlink_to(victim)
    replace_file(target, b"new", durable=True)
    assert victim.read_bytes() == b"keep"
    assert not target.is_symlink() and target.read_bytes() == b"new"


def test_the_file_gets_the_mode_open_would_give(tmp_path: Path) -> None:
    mask = os.umask(0o027)
    try:
        replace_file(tmp_path / "out", b"x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o640
