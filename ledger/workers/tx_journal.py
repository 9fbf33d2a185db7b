"""The sender's transaction journal, kept in the service database."""

from __future__ import annotations

import json
from dataclasses import replace

from ledger.chain.tx.state import SentTx, TxAttempt, TxStatus
from ledger.errors import StorageError
from ledger.storage.leases import Fence
from ledger.storage.txdocs import TxDocStore

_OPEN = [s.value for s in TxStatus if s.is_open]


class DatabaseJournal:
    """A `ledger.chain.tx.journal.TxJournal` over `TxDocStore`: one row per purpose key.

    With a `fence` every write also proves, in its own transaction, that this
    replica still holds the sender's lease (`ledger.storage.leases`): a deposed
    leader's sender then fails before it could broadcast anything newly signed.
    """

    def __init__(self, docs: TxDocStore, fence: Fence | None = None) -> None:
        self._docs = docs
        self._fence = fence

    async def record_attempt(self, tx: SentTx, attempt: TxAttempt) -> None:
        """Store the transaction with its newest attempt (committed before returning)."""
        if tx.latest != attempt:
            raise StorageError(f"attempt {attempt.tx_hash} is not the latest of {tx.key!r}")
        await self._put(tx)

    async def update(self, tx: SentTx) -> None:
        """Store the new status and inclusion of a known transaction."""
        old = await self.get(tx.key)
        if old is None:
            raise StorageError(f"no journaled transaction with key {tx.key!r}")
        await self._put(replace(old, status=tx.status, inclusion=tx.inclusion))

    async def get(self, key: str) -> SentTx | None:
        """The transaction with this purpose key, or None."""
        doc = await self._docs.get(key)
        return None if doc is None else SentTx.from_json(json.loads(doc))

    async def load_open(self, sender: str) -> list[SentTx]:
        """Open transactions of `sender`, in nonce order."""
        return [SentTx.from_json(json.loads(d)) for d in await self._docs.by_status(sender, _OPEN)]

    async def max_nonce(self, sender: str) -> int | None:
        """The highest nonce journaled for `sender`."""
        return await self._docs.max_nonce(sender)

    async def _put(self, tx: SentTx) -> None:
        document = json.dumps(tx.to_json(), separators=(",", ":"))
        await self._docs.put(
            tx.key, tx.sender, tx.nonce, tx.status.value, document, fence=self._fence
        )
