"""The data folder and every file in it are private to the service's user, whatever
the umask it was started under (issue 11: the database was created 0644)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.cli.client import LedgerClient
from ledger.run.serve import running
from tests.integration.service.conftest import FAST


@pytest.fixture
def umask_022() -> Iterator[None]:
    """Run under the common umask 022, and give the test process its own back."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(folder: Path) -> dict[str, int]:
    """Permission bits of the folder and of everything below it, by relative path."""
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(folder))] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.usefixtures("umask_022")
async def test_data_folder_and_its_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "old-notes.json").write_text("{}")  # made by an earlier run, 0644
    assert modes(data) == {".": 0o755, "old-notes.json": 0o644}
    settings = replace(FAST, data_dir=data)
    async with running(settings) as (_, url), LedgerClient(url) as client:
        assert (await client.ready())[0] == 200
        found = modes(data)
    assert {"ledger.db", "endpoint.json", "old-notes.json"} <= set(found)
    loose = {name: f"{mode:04o}" for name, mode in found.items()
             if mode != (0o700 if (data / name).is_dir() else 0o600)}
    assert loose == {}
