"""Relaying split terms that owners signed (``setSplitWithSig``).

A split owner may sign its next split version instead of sending it; the usage
service keeps the signature (``POST /v1/splits``) and the settler's step hands
it to the `SplitRelay`, which sends it from the service account once the
manifest it names is anchored here, and records what became of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ledger.app.terms import TermsBook
from ledger.chain.contracts.splitter import RoyaltySplitter
from ledger.chain.rpc import ChainRevertError
from ledger.chain.tx.keys import TxKey
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import TxStatus
from ledger.core.records import BatchStatus
from ledger.core.royalty.terms import SplitSignature
from ledger.storage.manifests import ManifestStore
from ledger.storage.proposals import SplitSignatureStore

log = logging.getLogger(__name__)


class SplitRelay:
    """Sends owners' signed split versions through the service account's `Sender`."""

    def __init__(
        self,
        store: SplitSignatureStore,
        manifests: ManifestStore,
        book: TermsBook,
        splitter: RoyaltySplitter,
        sender: Sender,
        *,
        key_scope: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._manifests = manifests
        self._book = book
        self._splitter = splitter
        self._sender = sender
        self._scope = key_scope
        self._clock = clock

    async def step(self) -> None:
        """Record what became of the signatures sent, then send those waiting."""
        for sig in await self._store.split_signatures("sent"):
            tx = await self._sender.get(sig.tx_key or "")
            if tx is None or tx.status in (TxStatus.PENDING, TxStatus.MINED):
                continue
            ok = tx.inclusion is not None and tx.inclusion.succeeded
            await self._store.mark_split_signature(sig.manifest_digest, sig.asset_id,
                                                   "done" if ok else "failed", sig.tx_key)
        for sig in await self._store.split_signatures("waiting"):
            await self._relay_one(sig)

    async def _relay_one(self, sig: SplitSignature) -> None:
        record = await self._manifests.get(sig.manifest_digest)
        if record is None or record.status != BatchStatus.CONFIRMED.value:
            return  # relayed once the manifest is anchored: a split names an anchored digest
        terms = await self._book.asset_terms(sig.manifest_digest, sig.asset_id)
        latest = await self._splitter.latest_version(terms.asset_key)
        if latest >= sig.version:
            done = (await self._splitter.split_version(terms.asset_key, sig.version)
                    ).manifest_digest == sig.manifest_digest
            await self._store.mark_split_signature(sig.manifest_digest, sig.asset_id,
                                                   "done" if done else "failed", None)
            return
        if latest + 1 != sig.version or sig.deadline <= self._clock():
            log.warning("split signature for %s v%d cannot be used (latest %d)", sig.asset_id,
                        sig.version, latest)
            await self._store.mark_split_signature(sig.manifest_digest, sig.asset_id,
                                                   "failed", None)
            return
        key = TxKey.split(self._scope, sig.manifest_digest, sig.asset_id, sig.version).encode()
        data = self._splitter.set_split_with_sig_data(terms.owner, terms.split, sig.version,
                                                      sig.deadline, sig.signature)
        try:
            await self._sender.submit(key, self._splitter.address, data)
        except ChainRevertError as exc:
            log.warning("split of %s v%d refused: %s", sig.asset_id, sig.version, exc.reason)
            await self._store.mark_split_signature(sig.manifest_digest, sig.asset_id,
                                                   "failed", None)
            return
        await self._store.mark_split_signature(sig.manifest_digest, sig.asset_id, "sent", key)
        log.info("relayed the split of %s v%d for %s", sig.asset_id, sig.version, terms.owner)
