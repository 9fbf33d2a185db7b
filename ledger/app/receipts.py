"""Intake receipts: signed once, when a manifest is accepted, and stored with it.

A receipt is a promise: `anchorBy` is fixed when it is given, so it is stored with
the manifest and every later answer serves the stored receipt; settings changed
since (the batch interval, the anchoring deadline) apply to manifests accepted after
them. A manifest stored before receipts were (revision 0014) gets its receipt on its
first read, derived from the settings then, and keeps it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from ledger.app.intake import Verifier, Wanted
from ledger.core.receipt import Receipt, ReceiptSigner
from ledger.core.records import ManifestRecord, NewManifest
from ledger.storage.manifests import ManifestStore


class ReceiptBook:
    """Signs the receipts of manifests about to be stored, and serves stored ones."""

    def __init__(
        self,
        signer: ReceiptSigner,
        manifests: ManifestStore,
        verifier: Verifier | None,
        promise_ms: Callable[[], int],
    ) -> None:
        self._signer = signer
        self._manifests = manifests
        self._verifier = verifier
        self._promise_ms = promise_ms

    async def sign_new(self, manifests: Sequence[NewManifest]) -> list[NewManifest]:
        """`manifests` with their receipts, promising anchoring within the current
        settings' time (in the verifier's workers when they sign)."""
        wanted = [self._wanted(m.digest, m.accepted_at) for m in manifests]
        if self._verifier is not None and self._verifier.signs_receipts:
            receipts = await self._verifier.sign(wanted)
        else:
            receipts = [self._signer.sign(*item) for item in wanted]
        return [replace(m, receipt=r) for m, r in zip(manifests, receipts, strict=True)]

    async def of(self, record: ManifestRecord) -> Receipt:
        """The receipt of an accepted manifest: the stored one; for a manifest stored
        without one, signed now and stored (the same every time it is asked)."""
        if record.receipt is not None:
            return record.receipt
        signed = self._signer.sign(*self._wanted(record.digest, record.accepted_at))
        return await self._manifests.keep_receipt(signed)

    def _wanted(self, digest: bytes, accepted_at: int) -> Wanted:
        return digest, accepted_at, accepted_at + self._promise_ms()
