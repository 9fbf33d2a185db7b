"""The transaction life cycle as data and pure transitions (no I/O, no clock).

A `SentTx` is one purpose (its key, e.g. ``anchor:7``) bound to one nonce, with every
signed attempt for that nonce: the first and each fee-bumped replacement. Any attempt
may be the one that gets mined, so all are watched. The `Sender` gathers an
`Observation` from the node and `step` decides the next state, the events to report
and what to broadcast; the sender then performs that I/O.

    PENDING --mined--> MINED --depth reached--> CONFIRMED --reorg window passed--> FINAL
       ^                 |                          |
       +----reorged------+--------------------------+        PENDING --nonce taken by
                                                              a foreign tx--> DROPPED
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ledger.errors import ChainError


class TxStatus(enum.StrEnum):
    """Where a transaction stands; the value is what journals store."""

    PENDING = "pending"  # signed (and journaled); not in a canonical block we know of
    MINED = "mined"  # in a canonical block, fewer than `confirmations` deep
    CONFIRMED = "confirmed"  # deep enough to report; still watched for reorgs
    FINAL = "final"  # deeper than the reorg window; no longer watched
    DROPPED = "dropped"  # its nonce was consumed by a transaction that is none of ours

    @property
    def is_open(self) -> bool:
        """True while the sender still watches the transaction."""
        return self in (TxStatus.PENDING, TxStatus.MINED, TxStatus.CONFIRMED)


class TxEventKind(enum.StrEnum):
    """What `Sender.poll` reports."""

    MINED = "mined"  # first seen in a block (not yet confirmed)
    CONFIRMED = "confirmed"  # succeeded and reached the confirmation depth
    FAILED = "failed"  # reverted, at the confirmation depth; `detail` holds the reason
    REPLACED = "replaced"  # re-signed with higher fees at the same nonce
    REORGED = "reorged"  # its block left the canonical chain; it is pending again
    DROPPED = "dropped"  # its nonce was used by another transaction: resubmit under a new key
    REJECTED = "rejected"  # the node refused the broadcast; retried, `detail` says why


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fee caps, in wei per gas."""

    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True)
class TxAttempt:
    """One signed transaction for a nonce: what was broadcast, at which fees."""

    tx_hash: str  # 0x + 64 lowercase hex
    raw: bytes  # the signed EIP-2718 type-2 envelope, rebroadcast as is
    fees: Fees
    signed_at: float  # unix seconds

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (`from_json` inverts it)."""
        return {
            "txHash": self.tx_hash,
            "raw": "0x" + self.raw.hex(),
            "maxFeePerGas": self.fees.max_fee_per_gas,
            "maxPriorityFeePerGas": self.fees.max_priority_fee_per_gas,
            "signedAt": self.signed_at,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TxAttempt:
        """Parse `to_json` output; ChainError on any malformed member."""
        return cls(
            tx_hash=_hex32(doc, "txHash"),
            raw=_hexbytes(doc, "raw"),
            fees=Fees(_uint(doc, "maxFeePerGas"), _uint(doc, "maxPriorityFeePerGas")),
            signed_at=_number(doc, "signedAt"),
        )


@dataclass(frozen=True)
class Inclusion:
    """Where and how one attempt was mined (a receipt, reduced to what we keep)."""

    tx_hash: str
    block_number: int
    block_hash: str
    block_timestamp: int
    gas_used: int
    effective_gas_price: int
    succeeded: bool
    revert_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (`from_json` inverts it)."""
        return {
            "txHash": self.tx_hash,
            "blockNumber": self.block_number,
            "blockHash": self.block_hash,
            "blockTimestamp": self.block_timestamp,
            "gasUsed": self.gas_used,
            "effectiveGasPrice": self.effective_gas_price,
            "succeeded": self.succeeded,
            "revertReason": self.revert_reason,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Inclusion:
        """Parse `to_json` output; ChainError on any malformed member."""
        succeeded = doc.get("succeeded")
        reason = doc.get("revertReason")
        if not isinstance(succeeded, bool):
            raise ChainError("must be a boolean", field="succeeded")
        if reason is not None and not isinstance(reason, str):
            raise ChainError("must be a string or null", field="revertReason")
        return cls(
            tx_hash=_hex32(doc, "txHash"),
            block_number=_uint(doc, "blockNumber"),
            block_hash=_hex32(doc, "blockHash"),
            block_timestamp=_uint(doc, "blockTimestamp"),
            gas_used=_uint(doc, "gasUsed"),
            effective_gas_price=_uint(doc, "effectiveGasPrice"),
            succeeded=succeeded,
            revert_reason=reason,
        )


@dataclass(frozen=True)
class SentTx:
    """One purpose key bound to one nonce of one sender, with all its signed attempts."""

    key: str
    sender: str  # checksummed address
    chain_id: int
    nonce: int
    to: str | None  # None creates a contract
    data: bytes
    value: int
    gas_limit: int
    attempts: tuple[TxAttempt, ...]
    status: TxStatus = TxStatus.PENDING
    inclusion: Inclusion | None = None

    @property
    def latest(self) -> TxAttempt:
        """The attempt signed last (the highest fees)."""
        return self.attempts[-1]

    @property
    def tx_hashes(self) -> tuple[str, ...]:
        """Every hash ever signed for this nonce, oldest first."""
        return tuple(a.tx_hash for a in self.attempts)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (`from_json` inverts it)."""
        return {
            "key": self.key,
            "sender": self.sender,
            "chainId": self.chain_id,
            "nonce": self.nonce,
            "to": self.to,
            "data": "0x" + self.data.hex(),
            "value": str(self.value),
            "gasLimit": self.gas_limit,
            "attempts": [a.to_json() for a in self.attempts],
            "status": self.status.value,
            "inclusion": self.inclusion.to_json() if self.inclusion else None,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> SentTx:
        """Parse `to_json` output; ChainError naming the member on any problem."""
        key, sender, to = doc.get("key"), doc.get("sender"), doc.get("to")
        attempts, status, inclusion = doc.get("attempts"), doc.get("status"), doc.get("inclusion")
        if not isinstance(key, str) or not key:
            raise ChainError("must be a non-empty string", field="key")
        if not isinstance(sender, str) or not _is_address(sender):
            raise ChainError("must be a 0x address", field="sender")
        if to is not None and not (isinstance(to, str) and _is_address(to)):
            raise ChainError("must be a 0x address or null", field="to")
        if not isinstance(attempts, list) or not attempts:
            raise ChainError("must be a non-empty list", field="attempts")
        if status not in {s.value for s in TxStatus}:
            raise ChainError(f"unknown status {status!r}", field="status")
        if inclusion is not None and not isinstance(inclusion, Mapping):
            raise ChainError("must be an object or null", field="inclusion")
        value = doc.get("value")
        if not isinstance(value, str) or not value.isdigit():
            raise ChainError("must be a decimal string", field="value")
        return cls(
            key=key,
            sender=sender,
            chain_id=_uint(doc, "chainId"),
            nonce=_uint(doc, "nonce"),
            to=to,
            data=_hexbytes(doc, "data"),
            value=int(value),
            gas_limit=_uint(doc, "gasLimit"),
            attempts=tuple(_attempt(a, i) for i, a in enumerate(attempts)),
            status=TxStatus(status),
            inclusion=_inclusion(inclusion) if inclusion is not None else None,
        )


@dataclass(frozen=True)
class TxEvent:
    """Something that happened to a transaction, reported by `Sender.poll`."""

    kind: TxEventKind
    tx: SentTx  # the transaction as it stands after the event
    tx_hash: str  # the attempt concerned (the mined one, the new one, the reorged one)
    detail: str | None = None  # revert reason, node message, or the block a reorg removed

    @property
    def key(self) -> str:
        """The purpose key of the transaction."""
        return self.tx.key


@dataclass(frozen=True)
class SendPolicy:
    """How the sender prices, paces and judges transactions.

    ``confirmations``: depth at which a tx is reported confirmed (the block holding it
    counts as 1; 0 behaves as 1). ``reorg_window``: depth after which a confirmed tx is
    final and no longer checked (a reorg deeper than that is not detected).
    ``stuck_after``: seconds without inclusion before the fees are bumped by
    ``fee_bump_bps`` (basis points, at least 1000: nodes refuse replacements under
    +10%, and 1250 = +12.5% clears every client's rule). ``max_fee_cap`` bounds
    maxFeePerGas; a tx that cannot be bumped within it is only rebroadcast.
    """

    confirmations: int = 1
    reorg_window: int = 64
    stuck_after: float = 30.0
    rebroadcast_every: float = 10.0
    fee_bump_bps: int = 1250
    max_fee_cap: int = 500 * 10**9
    min_priority_fee: int = 10**8
    max_priority_fee: int = 50 * 10**9
    base_fee_multiplier: int = 2
    gas_headroom_bps: int = 2500
    poll_interval: float = 0.5
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if self.fee_bump_bps < 1000:
            raise ChainError("must be at least 1000 (+10%)", field="fee_bump_bps")
        if self.reorg_window < self.depth:
            raise ChainError("must be at least confirmations", field="reorg_window")
        if self.max_fee_cap <= 0 or self.min_priority_fee < 0:
            raise ChainError("fee limits must be positive", field="max_fee_cap")
        if self.stuck_after <= 0 or self.poll_interval <= 0 or self.rebroadcast_every <= 0:
            raise ChainError("intervals must be positive", field="stuck_after")

    @property
    def depth(self) -> int:
        """The confirmation depth, at least 1."""
        return max(1, self.confirmations)


class Action(enum.Enum):
    """I/O that `step` asks of the sender."""

    NONE = "none"
    REBROADCAST = "rebroadcast"  # send the latest attempt again
    BUMP = "bump"  # sign a replacement with higher fees (rebroadcast if the cap forbids)


@dataclass(frozen=True)
class Observation:
    """What the node said about one transaction in one poll.

    ``account_nonce`` must be read *before* looking for receipts: then "nonce consumed
    and none of our hashes mined" really means a foreign transaction took the nonce.
    """

    head: int  # latest block number
    account_nonce: int  # the sender's mined transaction count at `head`
    inclusion: Inclusion | None  # where one of the tx's hashes is in the canonical chain
    now: float  # unix seconds
    since_broadcast: float  # seconds since this process last broadcast the tx


@dataclass(frozen=True)
class Step:
    """The outcome of `step`: the new state, the events, and the I/O to do."""

    tx: SentTx
    events: tuple[TxEvent, ...] = field(default=())
    action: Action = Action.NONE


def step(tx: SentTx, obs: Observation, policy: SendPolicy) -> Step:
    """Advance ``tx`` by what the node reports in ``obs``."""
    if tx.status is TxStatus.PENDING:
        return _step_pending(tx, obs, policy)
    if tx.status in (TxStatus.MINED, TxStatus.CONFIRMED):
        return _step_included(tx, obs, policy)
    return Step(tx)


def _step_pending(tx: SentTx, obs: Observation, policy: SendPolicy) -> Step:
    if obs.inclusion is not None:
        mined = replace(tx, status=TxStatus.MINED, inclusion=obs.inclusion)
        event = TxEvent(TxEventKind.MINED, mined, obs.inclusion.tx_hash)
        after = _deepen(mined, obs.head, policy)
        return Step(after.tx, (event, *after.events))
    if obs.account_nonce > tx.nonce:
        dropped = replace(tx, status=TxStatus.DROPPED)
        reason = f"nonce {tx.nonce} was used by a transaction that is none of ours"
        return Step(dropped, (TxEvent(TxEventKind.DROPPED, dropped, tx.latest.tx_hash, reason),))
    if obs.now - tx.latest.signed_at >= policy.stuck_after:
        return Step(tx, action=Action.BUMP)
    if obs.since_broadcast >= policy.rebroadcast_every:
        return Step(tx, action=Action.REBROADCAST)
    return Step(tx)


def _step_included(tx: SentTx, obs: Observation, policy: SendPolicy) -> Step:
    assert tx.inclusion is not None
    if obs.inclusion == tx.inclusion:
        return _deepen(tx, obs.head, policy)
    gone = tx.inclusion
    detail = f"block {gone.block_number} ({gone.block_hash}) left the canonical chain"
    pending = replace(tx, status=TxStatus.PENDING, inclusion=None)
    reorged = TxEvent(TxEventKind.REORGED, pending, gone.tx_hash, detail)
    if obs.inclusion is None:
        return Step(pending, (reorged,), Action.REBROADCAST)
    again = _step_pending(pending, obs, policy)
    return Step(again.tx, (reorged, *again.events), again.action)


def _deepen(tx: SentTx, head: int, policy: SendPolicy) -> Step:
    """Confirm or finalise an included tx once it is deep enough."""
    assert tx.inclusion is not None
    depth = head - tx.inclusion.block_number + 1
    if tx.status is TxStatus.MINED and depth >= policy.depth:
        done = replace(tx, status=TxStatus.CONFIRMED)
        inc = tx.inclusion
        if inc.succeeded:
            return Step(done, (TxEvent(TxEventKind.CONFIRMED, done, inc.tx_hash),))
        reason = inc.revert_reason or "reverted"
        return Step(done, (TxEvent(TxEventKind.FAILED, done, inc.tx_hash, reason),))
    if tx.status is TxStatus.CONFIRMED and depth >= policy.reorg_window:
        return Step(replace(tx, status=TxStatus.FINAL))
    return Step(tx)


def initial_fees(base_fee: int, suggested_priority: int, policy: SendPolicy) -> Fees:
    """Fees for a first attempt: the tip clamped to policy, maxFee = k * base + tip, capped."""
    tip = min(max(suggested_priority, policy.min_priority_fee), policy.max_priority_fee)
    max_fee = min(policy.base_fee_multiplier * base_fee + tip, policy.max_fee_cap)
    return Fees(max_fee, min(tip, max_fee))


def bumped_fees(old: Fees, market: Fees, policy: SendPolicy) -> Fees | None:
    """Fees for a replacement: both caps up by at least ``fee_bump_bps``, or the market's
    if higher; None when ``max_fee_cap`` leaves no room for a replacement nodes accept.
    """
    need_max = _raise_bps(old.max_fee_per_gas, policy.fee_bump_bps)
    need_tip = _raise_bps(old.max_priority_fee_per_gas, policy.fee_bump_bps)
    max_fee = min(max(need_max, market.max_fee_per_gas), policy.max_fee_cap)
    tip = min(max(need_tip, market.max_priority_fee_per_gas), max_fee)
    if max_fee < need_max or tip < need_tip:
        return None
    return Fees(max_fee, tip)


def _raise_bps(value: int, bps: int) -> int:
    # Round up, so a 1-wei tip still rises and the bump is never under the node's rule.
    return value + -(-value * bps // 10_000)


def first_nonce(latest: int, pending: int, journal_max: int | None) -> int:
    """The nonce to use next after a restart.

    Never below the mined count (``latest``), nor at or below a nonce we journaled (a
    signed tx may be in flight: reusing its nonce would replace it), nor below the
    node's pending count (someone else's queued tx would make ours a replacement).
    """
    after_journal = journal_max + 1 if journal_max is not None else 0
    return max(latest, pending, after_journal)


class SendOutcome(enum.Enum):
    """How the node answered ``eth_sendRawTransaction``."""

    ACCEPTED = "accepted"
    KNOWN = "known"  # the very same tx is already in its pool (e.g. web3.py retried)
    NONCE_USED = "nonce_used"  # the nonce is mined: likely one of our attempts; poll decides
    UNDERPRICED = "underpriced"  # a tx at this nonce with similar fees is pooled (ours)
    REJECTED = "rejected"  # anything else: not in the pool; retried later


_KNOWN = ("already known", "already imported", "known transaction", "alreadyknown",
          "already exists", "already in mempool")
_NONCE_USED = ("nonce too low", "nonce is too low", "oldnonce", "invalid nonce; got")
_UNDERPRICED = ("underpriced", "replacement fee too low", "feetoolow")


def classify_send_error(message: str) -> SendOutcome:
    """Sort a node's error message for a raw transaction (geth, anvil, erigon, besu,
    nethermind and reth word these differently)."""
    text = message.lower().replace("_", " ")
    if any(m in text for m in _KNOWN):
        return SendOutcome.KNOWN
    if any(m in text for m in _NONCE_USED):
        return SendOutcome.NONCE_USED
    if any(m in text for m in _UNDERPRICED):
        return SendOutcome.UNDERPRICED
    return SendOutcome.REJECTED


def _attempt(doc: object, index: int) -> TxAttempt:
    if not isinstance(doc, Mapping):
        raise ChainError("must be an object", field=f"attempts[{index}]")
    try:
        return TxAttempt.from_json(doc)
    except ChainError as exc:
        raise ChainError(exc.message, field=f"attempts[{index}].{exc.field}") from exc


def _inclusion(doc: Mapping[str, Any]) -> Inclusion:
    try:
        return Inclusion.from_json(doc)
    except ChainError as exc:
        raise ChainError(exc.message, field=f"inclusion.{exc.field}") from exc


def _uint(doc: Mapping[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ChainError("must be a non-negative integer", field=name)
    return value


def _number(doc: Mapping[str, Any], name: str) -> float:
    value = doc.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ChainError("must be a number", field=name)
    return float(value)


def _hexbytes(doc: Mapping[str, Any], name: str) -> bytes:
    value = doc.get(name)
    if not isinstance(value, str) or not value.startswith("0x") or len(value) % 2:
        raise ChainError("must be 0x-prefixed hex", field=name)
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ChainError("must be 0x-prefixed hex", field=name) from exc


def _hex32(doc: Mapping[str, Any], name: str) -> str:
    raw = _hexbytes(doc, name)
    if len(raw) != 32:
        raise ChainError("must be 32 bytes of hex", field=name)
    return "0x" + raw.hex()


def _is_address(text: str) -> bool:
    if not text.startswith("0x") or len(text) != 42:
        return False
    try:
        bytes.fromhex(text[2:])
    except ValueError:
        return False
    return True
