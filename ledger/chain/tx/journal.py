"""Where the sender persists every signed transaction before broadcasting it.

`TxJournal` is the interface; the service implements it over its database. The
in-memory journal serves tests and one-shot tools (deployment); the JSON-file journal
is a durable stand-in for small tools.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from ledger.chain.tx.state import SentTx, TxAttempt
from ledger.errors import ChainError, StorageError
from ledger.files import replace_file


class TxJournal(Protocol):
    """Durable record of the sender's transactions, keyed by purpose key.

    Every method must have persisted its effect when it returns (commit before
    returning): the sender broadcasts a signed transaction only after
    `record_attempt` returned, so a crash can never leave a broadcast tx unjournaled.
    Keys are unique per journal; one sender address uses one journal.
    """

    async def record_attempt(self, tx: SentTx, attempt: TxAttempt) -> None:
        """Store ``tx`` with its newly signed ``attempt`` (``attempt is tx.latest``).

        For a new key, insert the transaction (key, sender, chain id, nonce, to, data,
        value, gas limit, status) and the attempt; for a known key, append the attempt
        (a fee-bumped replacement at the same nonce) and keep every earlier one.
        """
        ...

    async def update(self, tx: SentTx) -> None:
        """Persist ``tx.status`` and ``tx.inclusion`` of a known key (attempts unchanged)."""
        ...

    async def get(self, key: str) -> SentTx | None:
        """The transaction with this purpose key, in any status, or None."""
        ...

    async def load_open(self, sender: str) -> list[SentTx]:
        """Every transaction of ``sender`` whose status is open (pending, mined or
        confirmed), with all its attempts, in nonce order."""
        ...

    async def max_nonce(self, sender: str) -> int | None:
        """The highest nonce ever journaled for ``sender`` (any status), or None."""
        ...


class MemoryJournal:
    """A `TxJournal` in a dict: for tests and processes that need no restart."""

    def __init__(self) -> None:
        self._txs: dict[str, SentTx] = {}

    async def record_attempt(self, tx: SentTx, attempt: TxAttempt) -> None:
        """Insert or extend ``tx`` (see `TxJournal.record_attempt`)."""
        _check_attempt(self._txs.get(tx.key), tx, attempt)
        self._txs[tx.key] = tx

    async def update(self, tx: SentTx) -> None:
        """Store the new status and inclusion of a known key."""
        old = self._txs.get(tx.key)
        if old is None:
            raise StorageError(f"no journaled transaction with key {tx.key!r}")
        self._txs[tx.key] = replace(old, status=tx.status, inclusion=tx.inclusion)

    async def get(self, key: str) -> SentTx | None:
        """The transaction with this key, or None."""
        return self._txs.get(key)

    async def load_open(self, sender: str) -> list[SentTx]:
        """Open transactions of ``sender`` in nonce order."""
        mine = [t for t in self._txs.values() if t.sender == sender and t.status.is_open]
        return sorted(mine, key=lambda t: t.nonce)

    async def max_nonce(self, sender: str) -> int | None:
        """The highest journaled nonce of ``sender``."""
        return max((t.nonce for t in self._txs.values() if t.sender == sender), default=None)

    def all(self) -> list[SentTx]:
        """Every journaled transaction (for tests and reports)."""
        return list(self._txs.values())


class JsonFileJournal(MemoryJournal):
    """A `MemoryJournal` rewritten to a JSON file (atomically, fsynced) on every change.

    Fine for a deployment or a demo; the service uses its database instead.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self._lock = asyncio.Lock()
        if self.path.exists():
            self._txs = {t.key: t for t in _read(self.path)}

    async def record_attempt(self, tx: SentTx, attempt: TxAttempt) -> None:
        """Insert or extend ``tx``, then write the file."""
        async with self._lock:
            await super().record_attempt(tx, attempt)
            await asyncio.to_thread(_write, self.path, list(self._txs.values()))

    async def update(self, tx: SentTx) -> None:
        """Store the new status and inclusion, then write the file."""
        async with self._lock:
            await super().update(tx)
            await asyncio.to_thread(_write, self.path, list(self._txs.values()))


def _check_attempt(old: SentTx | None, tx: SentTx, attempt: TxAttempt) -> None:
    if tx.latest != attempt:
        raise StorageError(f"attempt {attempt.tx_hash} is not the latest of {tx.key!r}")
    if old is not None and (old.nonce, old.sender) != (tx.nonce, tx.sender):
        raise StorageError(f"key {tx.key!r} is journaled with another nonce or sender")
    if old is not None and old.attempts != tx.attempts[:-1]:
        raise StorageError(f"attempts of {tx.key!r} do not extend the journaled ones")


def _read(path: Path) -> list[SentTx]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read transaction journal {path}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("transactions"), list):
        raise StorageError(f"transaction journal {path} has no transactions list")
    try:
        return [SentTx.from_json(item) for item in doc["transactions"]]
    except (ChainError, AttributeError) as exc:
        raise StorageError(f"transaction journal {path}: {exc}") from exc


def _write(path: Path, txs: list[SentTx]) -> None:
    body = json.dumps({"transactions": [t.to_json() for t in txs]}, indent=1)
    try:
        replace_file(path, body.encode(), durable=True)
    except OSError as exc:
        raise StorageError(f"cannot write transaction journal {path}: {exc}") from exc
