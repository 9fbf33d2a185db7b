"""Journals: the in-memory one's invariants and the JSON file surviving a reopen."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ledger.chain.tx.journal import JsonFileJournal, MemoryJournal
from ledger.chain.tx.state import Fees, TxAttempt, TxStatus
from ledger.errors import StorageError
from tests.unit.chain.test_txstate import TX, attempt, inclusion


async def test_attempts_append_and_open_filter(tmp_path: Path) -> None:
    journal = JsonFileJournal(tmp_path / "j.json")
    first = replace(TX, attempts=TX.attempts[:1])
    await journal.record_attempt(first, first.latest)
    await journal.record_attempt(TX, TX.latest)
    other = replace(TX, key="anchor:8", nonce=5, attempts=(attempt(3),))
    await journal.record_attempt(other, other.latest)
    await journal.update(replace(other, status=TxStatus.FINAL, inclusion=inclusion()))
    reopened = JsonFileJournal(tmp_path / "j.json")
    assert await reopened.get("anchor:7") == TX
    assert [t.key for t in await reopened.load_open(TX.sender)] == ["anchor:7"]
    assert await reopened.max_nonce(TX.sender) == 5
    assert await reopened.max_nonce("0x" + "33" * 20) is None
    final = await reopened.get("anchor:8")
    assert final is not None and final.status is TxStatus.FINAL and final.inclusion == inclusion()


async def test_attempts_must_extend_the_journaled_ones() -> None:
    journal = MemoryJournal()
    await journal.record_attempt(TX, TX.latest)
    forked = replace(TX, attempts=(attempt(9), TxAttempt("0x" + "ee" * 32, b"", Fees(1, 1), 0)))
    with pytest.raises(StorageError, match="do not extend"):
        await journal.record_attempt(forked, forked.latest)
    with pytest.raises(StorageError, match="another nonce"):
        moved = replace(TX, nonce=9, attempts=(*TX.attempts, attempt(4)))
        await journal.record_attempt(moved, moved.latest)
    with pytest.raises(StorageError, match="no journaled"):
        await journal.update(replace(TX, key="nope"))


def test_corrupt_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text('{"transactions": [{"key": 1}]}')
    with pytest.raises(StorageError, match="key"):
        JsonFileJournal(path)
