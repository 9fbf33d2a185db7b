"""The settlement rules: what a buyer is charged for anchored usage, how a charge is
split into parts, and where each settlement and proposal stands.

This is the one place the settlement arithmetic lives: an item costs
``units * pricePerUnit`` (`amount_due`), a payee is due ``total * share / 10,000``
(`entitlement`), and part ``n`` of a batch settles under `usage_root_of`. The
splitter computes the same on chain; storage, the settler and the views read
these types and never redo the sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from ledger.core.hashing import keccak256
from ledger.core.records import PENDING, BatchStatus
from ledger.core.royalty.periods import Period
from ledger.core.royalty.terms import TOTAL_SHARES


def amount_due(units: int, price_per_unit: int) -> int:
    """What ``units`` cost: the splitter's ``units * pricePerUnit``."""
    return units * price_per_unit


def entitlement(total_received: int, share_bps: int) -> int:
    """A payee's cumulative due from a split version: ``total * share / 10,000``, floored."""
    return total_received * share_bps // TOTAL_SHARES


def usage_root_of(batch_root: bytes, part: int) -> bytes:
    """The settlement key of part ``part`` of an anchored usage batch.

    Part 0 is the anchored root itself; later parts (usage held back, or more
    items than one transaction takes) are ``keccak256(abi.encode(root, part))``,
    so each part settles once under the splitter's (root, buyer, token) fence.
    """
    if part == 0:
        return batch_root
    return keccak256(batch_root + part.to_bytes(32, "big"))


# -- statuses ------------------------------------------------------------------------


class SettlementStatus(StrEnum):
    """Where a settlement stands; `FAILED` ones released their events for another part."""

    PREPARED = "prepared"  # recorded, events claimed; its transaction may not exist yet
    SUBMITTED = "submitted"  # signed and journaled; not confirmed
    CONFIRMED = "confirmed"  # confirmed on chain; still followed for reorgs
    FINAL = "final"  # past the reorg window
    FAILED = "failed"  # reverted or dropped: its events went back to be settled again


OPEN_SETTLEMENTS = (SettlementStatus.PREPARED, SettlementStatus.SUBMITTED,
                    SettlementStatus.CONFIRMED)
SETTLED = (SettlementStatus.CONFIRMED.value, SettlementStatus.FINAL.value)


class ProposalStatus(StrEnum):
    """Where a co-signed settlement proposal stands."""

    OPEN = "open"  # awaiting the buyer's signature
    SIGNED = "signed"  # signature kept; its settlement is not recorded yet
    USED = "used"  # its settlement is recorded (``settlement_id``)
    EXPIRED = "expired"  # unsigned past its deadline, or no longer matching: proposed again


LIVE_PROPOSALS = (ProposalStatus.OPEN, ProposalStatus.SIGNED)


REFUSED = "refused"
"""The state of usage a statement refused after it was stored: never settled."""


def usage_state(settlement: str | None, batch: str | None, refused: bool = False) -> str:
    """The state usage totals are counted in, from its settlement's and batch's status:
    "settled", "settling", "unsettled" (anchored), "pending" (not anchored) or
    "refused" (re-checked at settlement against a statement that arrived later)."""
    if refused:
        return REFUSED
    if settlement in SETTLED:
        return "settled"
    if settlement is not None:
        return "settling"
    if batch == BatchStatus.CONFIRMED.value:
        return "unsettled"
    return PENDING


def event_status(batch: str | None, settlement: str | None, settlement_id: int | None,
                 hold_reason: str | None, refusal: str | None = None) -> str:
    """A stored event's status: "refused" once a statement refused it, its settlement's
    while one is live, "held" while its usage is held and unclaimed, else its batch's
    ("pending" before one)."""
    if refusal is not None:
        return REFUSED
    if settlement in SETTLED:
        return "settled"
    if settlement in (SettlementStatus.PREPARED.value, SettlementStatus.SUBMITTED.value):
        return "settling"
    if hold_reason is not None and settlement_id is None:
        return "held"
    return batch or PENDING


# -- what is charged -------------------------------------------------------------------


@dataclass(frozen=True)
class UsageGroup:
    """Anchored, unsettled usage of one buyer and asset key in one batch."""

    batch_number: int
    batch_root: bytes
    buyer: str
    asset_key: bytes
    creator_id: str
    asset_id: str
    manifest_digest: bytes
    token: str
    units: int
    events: int
    #: The events' ids (storage sequence numbers) when the group is one period of its
    #: (batch, buyer, asset key) usage (issue 17); None: every unsettled event of it.
    seqs: tuple[int, ...] | None = None
    #: How many manifests its events name (a new manifest version keeps the asset key).
    manifests: int = 1
    #: The terms' period its usage falls in, once checked against the asset's lifecycle
    #: (None: never amended, priced as the manifest's).
    period: Period | None = None


@dataclass(frozen=True)
class PricedSplit:
    """A split version that may be charged: verified against an anchored manifest."""

    version: int
    token: str
    price: int
    manifest_digest: bytes


@dataclass(frozen=True)
class SettlementItem:
    """One settled item: ``units`` of split ``version`` of ``asset_key`` at ``price``."""

    asset_key: bytes
    version: int
    creator_id: str
    asset_id: str
    manifest_digest: bytes
    units: int
    price: int

    @classmethod
    def of(cls, group: UsageGroup, split: PricedSplit) -> SettlementItem:
        """The item charging ``group``'s usage at ``split``."""
        return cls(group.asset_key, split.version, group.creator_id, group.asset_id,
                   split.manifest_digest, group.units, split.price)

    @property
    def amount(self) -> int:
        """What the item costs (`amount_due`)."""
        return amount_due(self.units, self.price)


def item_totals(items: Iterable[SettlementItem]) -> tuple[int, int]:
    """Units and amount over ``items``."""
    units = amount = 0
    for item in items:
        units += item.units
        amount += item.amount
    return units, amount


def item_shape(items: Iterable[SettlementItem]) -> set[tuple[bytes, int, int, int]]:
    """What a buyer's signature fixes of items: asset key, version and units (and the
    price, which fixes the total)."""
    return {(i.asset_key, i.version, i.units, i.price) for i in items}


@dataclass(frozen=True)
class SettlementDraft:
    """Part ``part`` of what ``buyer`` owes in ``token`` for usage in the batch of
    ``batch_root``: ``items``, covering ``events`` usage events."""

    batch_number: int
    batch_root: bytes
    buyer: str
    token: str
    part: int
    items: tuple[SettlementItem, ...]
    events: int
    #: The events to claim of an asset key charged for one period only (`UsageGroup.seqs`);
    #: the other keys claim every unsettled event of theirs.
    seqs: tuple[tuple[bytes, tuple[int, ...]], ...] = ()

    @classmethod
    def of(cls, token: str, part: int, members: Sequence[tuple[UsageGroup, PricedSplit]]
           ) -> SettlementDraft:
        """Part ``part`` of settling ``members`` (all of one batch and buyer) in ``token``."""
        first = members[0][0]
        return cls(first.batch_number, first.batch_root, first.buyer, token, part,
                   tuple(SettlementItem.of(g, p) for g, p in members),
                   sum(g.events for g, _ in members), seqs_of(g for g, _ in members))

    @property
    def usage_root(self) -> bytes:
        """The root the splitter is told this part settles (`usage_root_of`)."""
        return usage_root_of(self.batch_root, self.part)

    @property
    def units(self) -> int:
        """Units over every item."""
        return item_totals(self.items)[0]

    @property
    def total(self) -> int:
        """What the buyer pays for every item."""
        return item_totals(self.items)[1]


# -- records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """A settlement record and its transaction once known."""

    id: int
    batch_number: int
    buyer: str
    token: str
    part: int
    usage_root: bytes
    units: int
    total: int
    status: SettlementStatus
    tx_key: str
    tx_hash: bytes | None
    block_number: int | None
    block_timestamp: int | None
    gas_used: int | None
    created_at: int


@dataclass(frozen=True)
class Hold:
    """Usage of ``buyer`` for ``asset_key`` in a batch that could not be charged."""

    batch_number: int
    buyer: str
    asset_key: bytes
    token: str
    creator_id: str
    reason: str
    units: int
    held_at: int

    @classmethod
    def of(cls, group: UsageGroup, reason: str, now: int) -> Hold:
        """The hold of ``group``'s usage for ``reason``, from ``now`` (ms)."""
        return cls(group.batch_number, group.buyer, group.asset_key, group.token,
                   group.creator_id, reason, group.units, now)


@dataclass(frozen=True)
class ItemLine:
    """A settlement item with its settlement's buyer, token, status and transaction."""

    item: SettlementItem
    settlement_id: int
    buyer: str
    token: str
    status: SettlementStatus
    tx_hash: bytes | None
    usage_root: bytes


@dataclass(frozen=True)
class UsageTotal:
    """Units and events of one (creator, asset key, asset id, buyer, token) in one state."""

    creator_id: str
    asset_key: bytes
    asset_id: str
    buyer: str
    token: str
    state: str  # "pending" (not anchored), "unsettled", "settling", "settled"
    units: int
    events: int


@dataclass(frozen=True)
class Proposal:
    """A settlement offered to a co-signing buyer: ``total`` for ``items`` under
    ``usage_root``, signable until ``deadline`` (seconds since the Unix epoch)."""

    id: int
    batch_number: int
    buyer: str
    token: str
    part: int
    usage_root: bytes
    items: tuple[SettlementItem, ...]
    units: int
    events: int
    total: int
    deadline: int
    signature: bytes | None
    status: ProposalStatus
    settlement_id: int | None
    created_at: int

    def draft(self, batch_root: bytes, groups: Iterable[UsageGroup] = ()) -> SettlementDraft:
        """The settlement this proposal offers, in the batch of ``batch_root``; ``groups``
        are its usage as priced now, to claim only their events of one period."""
        return SettlementDraft(self.batch_number, batch_root, self.buyer, self.token,
                               self.part, self.items, self.events, seqs_of(groups))


def seqs_of(groups: Iterable[UsageGroup]) -> tuple[tuple[bytes, tuple[int, ...]], ...]:
    """The events to claim per asset key of the groups that are one period of their usage."""
    return tuple((g.asset_key, g.seqs) for g in groups if g.seqs is not None)
