"""Metering keys from a file: read at start, re-read when it changes (rotation), and
refused with a ConfigError naming the setting when malformed."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.app.royalty import KeyRingSource
from ledger.config import Settings
from ledger.errors import ConfigError


def _write(path: Path, *keys: tuple[str, str]) -> None:
    doc = {"version": "ledger-usage-keys/1",
           "sources": {"edge-1": [{"id": k, "secret": s} for k, s in keys]}}
    path.write_text(json.dumps(doc))


def test_keys_file_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    _write(path, ("old", "aa" * 32))
    source = KeyRingSource(replace(Settings(), usage_keys_file=path))
    assert [k.key_id for k in source.get().keys("edge-1")] == ["old"]
    _write(path, ("old", "aa" * 32), ("new", "bb" * 32))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    time.sleep(1.05)  # checked at most once a second
    assert [k.key_id for k in source.get().keys("edge-1")] == ["old", "new"]


def test_inline_keys_win_and_bad_keys_are_refused(tmp_path: Path) -> None:
    inline = json.dumps({"version": "ledger-usage-keys/1",
                         "sources": {"job": [{"id": "k", "secret": "cc" * 32}]}})
    source = KeyRingSource(replace(Settings(), usage_keys=inline))
    assert source.get().keys("job")[0].secret == bytes.fromhex("cc" * 32)
    with pytest.raises(ConfigError) as info:
        KeyRingSource(replace(Settings(), usage_keys='{"version": "x", "sources": {}}'))
    assert info.value.field == "usage_keys"
    with pytest.raises(ConfigError) as info:
        KeyRingSource(replace(Settings(), usage_keys_file=tmp_path / "missing.json"))
    assert info.value.field == "usage_keys_file"
    assert KeyRingSource(Settings()).get().sources == {}
