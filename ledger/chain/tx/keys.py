"""Purpose keys of the service's journaled transactions, typed.

The sender journals each transaction under a purpose key and sends at most one
transaction per key, which makes anchoring, settling and relaying exactly-once
across restarts. The key names what the transaction is for and the deployment it
belongs to (a redeployed contract starts afresh). Its text is a stored format:
journals and the settlements table hold it, so `TxKey.encode` must keep writing
exactly these strings::

    anchor:<scope>:<batch number>#<attempt>
    settle:<scope>:<settlement id>
    split:<scope>:<24 hex of keccak(manifest digest ‖ asset id)>:<version>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ledger.core.hashing import keccak256
from ledger.errors import ChainError


class TxKind(StrEnum):
    """What a journaled transaction is for."""

    ANCHOR = "anchor"
    SETTLE = "settle"
    SPLIT = "split"


_SUBJECT = {
    TxKind.ANCHOR: re.compile(r"[0-9]+"),
    TxKind.SETTLE: re.compile(r"[0-9]+"),
    TxKind.SPLIT: re.compile(r"[0-9a-f]{24}:[0-9]+"),
}
_KEY = re.compile(r"(?P<kind>[a-z]+):(?P<scope>[^:#]+):(?P<subject>[^#]+)(?:#(?P<attempt>[0-9]+))?")


@dataclass(frozen=True)
class TxKey:
    """A purpose key: ``kind`` of transaction, under the deployment ``scope``, for
    ``subject`` (a batch number, a settlement id, an asset's split version); anchors
    number their ``attempt`` since a dropped anchor is sent again under a new key."""

    kind: TxKind
    scope: str
    subject: str
    attempt: int | None = None

    @classmethod
    def anchor(cls, scope: str, batch_number: int, attempt: int) -> TxKey:
        """The key of the ``attempt``-th anchor of batch ``batch_number``."""
        return cls(TxKind.ANCHOR, scope, str(batch_number), attempt)

    @classmethod
    def settlement(cls, scope: str, settlement_id: int) -> TxKey:
        """The key of settlement ``settlement_id``'s ``settle`` transaction."""
        return cls(TxKind.SETTLE, scope, str(settlement_id))

    @classmethod
    def split(cls, scope: str, manifest_digest: bytes, asset_id: str, version: int) -> TxKey:
        """The key of relaying an owner's signed split ``version`` of ``asset_id``."""
        asset = keccak256(manifest_digest + asset_id.encode()).hex()[:24]
        return cls(TxKind.SPLIT, scope, f"{asset}:{version}")

    @staticmethod
    def settlement_prefix(scope: str) -> str:
        """What a settlement's key is before its id: the store appends the id it assigns."""
        return f"{TxKind.SETTLE}:{scope}:"

    @classmethod
    def parse(cls, text: str) -> TxKey:
        """The key ``text`` encodes; ChainError if it is not one of ours."""
        match = _KEY.fullmatch(text)
        kinds = {kind.value: kind for kind in TxKind}
        if match is None or match["kind"] not in kinds:
            raise ChainError(f"not a transaction key: {text!r}", field="key")
        kind = kinds[match["kind"]]
        if not _SUBJECT[kind].fullmatch(match["subject"]):
            raise ChainError(f"not a {kind} transaction key: {text!r}", field="key")
        attempt = match["attempt"]
        return cls(kind, match["scope"], match["subject"],
                   None if attempt is None else int(attempt))

    @classmethod
    def parse_or_none(cls, text: str) -> TxKey | None:
        """`parse`, or None for a key of another format (a journal may hold others)."""
        try:
            return cls.parse(text)
        except ChainError:
            return None

    @property
    def number(self) -> int:
        """The batch number of an anchor key, the settlement id of a settle key."""
        if self.kind is TxKind.SPLIT:
            raise ChainError("a split key names no number", field="key")
        return int(self.subject)

    def encode(self) -> str:
        """The key as journals store it."""
        attempt = "" if self.attempt is None else f"#{self.attempt}"
        return f"{self.kind}:{self.scope}:{self.subject}{attempt}"
