"""Royalty workers: the usage batcher and the settler (issue 5).

The **usage batcher** seals stored usage events into Merkle trees of their
digests, as batches of the shared batch sequence; the anchorer anchors them
like manifest batches.

The **settler** charges anchored usage on the `RoyaltySplitter`. Per step it:

1. follows its open settlements by purpose key in the sender's journal (it never
   polls the sender itself: the anchorer's loop drives the shared sender, and
   the journal holds each transaction's state before any event is reported);
2. relays split terms that owners signed (``setSplitWithSig``, `SplitRelay`);
3. groups anchored, unsettled usage per batch, buyer and asset key; checks the usage
   of assets something was said about event by event against their lifecycle
   (`UsageLifecycle`: what a statement that arrived later refuses is marked refused,
   never settled; the rest is split by the periods of amended terms); prices each
   group at the latest split version on chain, accepted only when that version
   carries exactly the terms in force for it: an anchored manifest's of the same
   creator and asset, or an anchored amendment's (`SplitPrices`); and per
   (batch, buyer, token) quotes with ``eth_call``, holds what the
   buyer cannot pay (deposit, spending cap, maximum price: the reason is kept and
   shown), records the settlement and claims its events in one transaction, then
   submits ``settle`` under purpose key ``settle:<deployment>:<id>``.

A buyer that requires co-signing (``cosigning(buyer, token)`` on chain) is never
charged unsigned: the settler prepares the same items and total but records them
as a **proposal** with a deadline (``proposal_ttl_s`` away) and holds the usage;
once the buyer's EIP-712 signature is kept (``POST /v1/buyers/{a}/cosign``) it
records the settlement as above and sends ``settleCosigned`` under the same
purpose key scheme. A proposal unsigned at its deadline, or whose usage no longer
prices the same, expires and the usage is proposed again.

A buyer that asked to withdraw its deposit (``WithdrawalRequested``, followed by
a `WithdrawalWatch`) has its anchored usage settled first, at the next step, so it
is charged within the notice period, before the deposit can leave.

A split owner may publish a new version between pricing and settlement; the
splitter then skips that item (``UsageItemSkipped``) and charges the rest. Once
the settlement is final (past the reorg window), the settler drops skipped items
from it and frees their events, which are priced again and settled under another
part.

Never twice: a settlement's usage root is the anchored batch root (part 0) or
``keccak256(root, part)``, and the splitter refuses a (root, buyer, token) it has
settled; events belong to one settlement at a time. A settlement whose
transaction fails gives its part number back, so its events are settled again
under the same root, which the chain lets through at most once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace

from ledger.app.histories import Histories
from ledger.app.split_prices import SplitPrices, StatementLookup
from ledger.app.terms import TermsBook
from ledger.app.usage_lifecycle import UsageLifecycle
from ledger.app.withdrawals import WithdrawalWatch
from ledger.chain.contracts.splitter import RoyaltySplitter, SplitterRevert, UsageItem
from ledger.chain.rpc import ChainRevertError
from ledger.chain.tx.keys import TxKey
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SentTx, TxStatus
from ledger.core.royalty.settlement import (
    LIVE_PROPOSALS,
    OPEN_SETTLEMENTS,
    Hold,
    PricedSplit,
    Proposal,
    ProposalStatus,
    Settlement,
    SettlementDraft,
    SettlementItem,
    SettlementStatus,
    UsageGroup,
    item_shape,
    usage_root_of,
)
from ledger.storage.manifests import ManifestStore
from ledger.storage.usage import UsageStore
from ledger.workers.split_relay import SplitRelay

log = logging.getLogger(__name__)

# Errors that hold a whole settlement (the buyer's account) or one item (its asset).
_BUYER_HOLDS = {
    "RoyaltySplitterInsufficientDeposit": "deposit too small: {total} due, {deposit} deposited",
    "RoyaltySplitterSpendingCapExceeded": "spending cap reached: would spend {spentAfter}, "
                                          "cap {spendingCap}",
    "RoyaltySplitterAlreadySettled": "usage root already settled on chain",
}
_ITEM_HOLDS = {
    "RoyaltySplitterPriceAboveCap": "price {price} is above the buyer's maximum {maxPrice}",
    "RoyaltySplitterTokenMismatch": "split is priced in another token ({splitToken})",
}
# A split version changed between pricing and quoting: price again next step.
_RETRY = {"RoyaltySplitterUnknownVersion"}
PROPOSAL_TTL_S = 24 * 3600
_WATCH_S = 1.0


class Settler:
    """Settles anchored usage on the splitter through the service account's `Sender`."""

    def __init__(
        self,
        store: UsageStore,
        manifests: ManifestStore,
        splitter: RoyaltySplitter,
        sender: Sender,
        *,
        key_scope: str,
        max_items: int = 200,
        drive_sender: bool = False,
        clock: Callable[[], float] = time.time,
        proposal_ttl_s: int = PROPOSAL_TTL_S,
        withdrawals: WithdrawalWatch | None = None,
        settle_interval_s: float = 0.0,
        terms_book: TermsBook | None = None,
        histories: Histories | None = None,
        statements: StatementLookup | None = None,
    ) -> None:
        self._store = store
        self._manifests = manifests
        self._splitter = splitter
        self._sender = sender
        self._scope = key_scope
        # The store appends the id it assigns to make the settlement's `TxKey`.
        self._settle_prefix = TxKey.settlement_prefix(key_scope)
        self._max_items = max_items
        self._drive = drive_sender
        self._clock = clock
        self._proposal_ttl_s = proposal_ttl_s
        self._withdrawals = withdrawals
        self._interval_s = settle_interval_s
        self._last_pass = float("-inf")
        self._book = terms_book or TermsBook(manifests)
        self._prices = SplitPrices(splitter, manifests, self._book, statements)
        self._lifecycle = None if histories is None else UsageLifecycle(store, histories)
        self._relay = SplitRelay(store, manifests, self._book, splitter, sender,
                                 key_scope=key_scope, clock=clock)

    async def step(self) -> None:
        """Follow open settlements, then settle what is anchored and unsettled."""
        if self._drive:
            await self._sender.poll()
        await self._follow()
        await self._relay.step()
        leaving = await self._leaving()
        if leaving:
            # First, and apart: a long backlog of other buyers' usage must not delay them.
            groups = await self._store.unsettled_groups(buyers=leaving)
            if groups:
                await self._settle(groups)
        if time.monotonic() - self._last_pass < self._interval_s:
            return
        self._last_pass = time.monotonic()
        groups = [g for g in await self._store.unsettled_groups() if g.buyer not in leaving]
        if groups:
            await self._settle(groups)

    @property
    def delay(self) -> float:
        """Seconds to the next step: withdrawal requests are looked for every second even
        when ``settle_interval_s`` spaces the passes over all usage further apart."""
        if self._withdrawals is None:
            return self._interval_s
        return min(self._interval_s, _WATCH_S)

    async def _leaving(self) -> set[str]:
        """Buyers whose deposit may leave once their notice period ends."""
        if self._withdrawals is None:
            return set()
        await self._withdrawals.refresh()
        return self._withdrawals.buyers()

    # -- following -----------------------------------------------------------------

    async def _follow(self) -> None:
        for settlement in await self._store.settlements(OPEN_SETTLEMENTS):
            tx = await self._sender.get(settlement.tx_key)
            if tx is None:
                await self._submit(settlement)
            else:
                await self._track(settlement, tx)

    async def _track(self, settlement: Settlement, tx: SentTx) -> None:
        inclusion = tx.inclusion
        if tx.status in (TxStatus.CONFIRMED, TxStatus.FINAL) and inclusion is not None:
            if not inclusion.succeeded:
                await self._failed(settlement, inclusion.revert_reason or "reverted")
                return
            status = (SettlementStatus.FINAL if tx.status is TxStatus.FINAL
                      else SettlementStatus.CONFIRMED)
            tx_hash = bytes.fromhex(inclusion.tx_hash[2:])
            if status is SettlementStatus.FINAL and settlement.status is not status:
                await self._release_skipped(settlement, tx_hash)
            if (settlement.status, settlement.tx_hash) != (status, tx_hash):
                await self._store.mark_settlement(
                    settlement.id, status, tx_hash=tx_hash,
                    block_number=inclusion.block_number,
                    block_timestamp=inclusion.block_timestamp, gas_used=inclusion.gas_used,
                    confirmed_at=int(self._clock() * 1000),
                )
                if settlement.status is not SettlementStatus.CONFIRMED:
                    log.info("settlement %d of %s confirmed: %d units, %d wei, gas %d",
                             settlement.id, settlement.buyer, settlement.units,
                             settlement.total, inclusion.gas_used)
        elif tx.status is TxStatus.DROPPED:
            await self._failed(settlement, "dropped: its nonce was used by another transaction")
        elif settlement.status is not SettlementStatus.SUBMITTED:
            # Pending again after a reorg, or journaled before a crash.
            await self._store.mark_settlement(settlement.id, SettlementStatus.SUBMITTED,
                                              tx_hash=None, block_number=None,
                                              block_timestamp=None, gas_used=None,
                                              confirmed_at=None)

    async def _release_skipped(self, settlement: Settlement, tx_hash: bytes) -> None:
        """Free the events of the items the chain skipped, once no reorg can undo the skip
        (a skip undone would charge them twice), and before the settlement is marked final,
        so a crash in between repeats this. Named by asset key (unique in a settlement),
        not by index: the items left shift once some are dropped."""
        skipped = {key for _, key, _ in await self._splitter.skipped_items(tx_hash)}
        if not skipped:
            return
        log.warning("settlement %d: %d items skipped on chain (split version superseded); "
                    "their usage will be settled again", settlement.id, len(skipped))
        await self._store.release_skipped(settlement.id, skipped)

    async def _failed(self, settlement: Settlement, reason: str) -> None:
        if await self._splitter.is_settled(settlement.usage_root, settlement.buyer,
                                           settlement.token):
            # Settled by an earlier transaction of the same root; keep the claim.
            log.error("settlement %d failed (%s) but its root is settled on chain",
                      settlement.id, reason)
            await self._store.mark_settlement(settlement.id, SettlementStatus.CONFIRMED)
            return
        log.warning("settlement %d failed (%s); its usage will be settled again",
                    settlement.id, reason)
        await self._store.fail_settlement(settlement.id)

    async def _submit(self, settlement: Settlement) -> None:
        items = await self._store.settlement_items(settlement.id)
        usage = [UsageItem(i.asset_key, i.version, i.units) for i in items]
        signed = await self._signed_proposal(settlement, items)
        if signed is None:
            data = self._splitter.settle_data(settlement.buyer, settlement.token,
                                              settlement.usage_root, usage)
        else:
            assert signed.signature is not None
            data = self._splitter.settle_cosigned_data(
                settlement.buyer, settlement.token, settlement.usage_root, usage,
                signed.deadline, signed.signature,
            )
        try:
            await self._sender.submit(settlement.tx_key, self._splitter.address, data)
        except ChainRevertError as exc:
            # Nothing was signed: the buyer's limits or a split changed since the quote.
            await self._failed(settlement, exc.reason)
            return
        await self._store.mark_settlement(settlement.id, SettlementStatus.SUBMITTED)

    async def _signed_proposal(self, settlement: Settlement, items: Sequence[SettlementItem]
                               ) -> Proposal | None:
        """The buyer's signed proposal this settlement was made from, if any; found by
        root, so a settlement recorded just before a crash is still sent co-signed."""
        for proposal in await self._store.proposals(
            (ProposalStatus.SIGNED, ProposalStatus.USED), buyer=settlement.buyer,
            token=settlement.token, usage_root=settlement.usage_root,
        ):
            if (proposal.signature is None or proposal.total != settlement.total
                    or proposal.settlement_id not in (None, settlement.id)
                    or item_shape(proposal.items) != item_shape(items)):
                continue
            if proposal.status is ProposalStatus.SIGNED:
                await self._store.mark_proposal(proposal.id, ProposalStatus.USED, settlement.id)
            return proposal
        return None

    # -- settling ------------------------------------------------------------------

    async def _settle(self, groups: Sequence[UsageGroup]) -> None:
        if self._lifecycle is not None:
            # Refuses what a statement that arrived later refuses; splits by amendments.
            groups = await self._lifecycle.check(groups)
        prices: dict[tuple[bytes, bytes | None], PricedSplit | str] = {}
        for group in groups:
            if _price_key(group) not in prices:
                prices[_price_key(group)] = await self._prices.price(group)
        bundles: dict[tuple[int, str, str], list[tuple[UsageGroup, PricedSplit]]] = (
            defaultdict(list)
        )
        held: dict[str, list[UsageGroup]] = defaultdict(list)
        now = int(self._clock() * 1000)
        for group in groups:
            price = prices[_price_key(group)]
            if isinstance(price, str):
                held[price].append(group)
                continue
            # One live version per asset: one period of an asset at most is priced.
            bundles[(group.batch_number, group.buyer, price.token)].append((group, price))
        for (_, buyer, token), members in bundles.items():
            if await self._splitter.cosigning(buyer, token):
                await self._cosigned(token, members, now)
                continue
            for start in range(0, len(members), self._max_items):
                await self._settle_part(token, members[start : start + self._max_items], now)
        # After settling: a settlement drops its asset's hold, which another period may need.
        for reason, unpriced in held.items():
            await self._hold(unpriced, reason, now)

    async def _settle_part(
        self, token: str, members: list[tuple[UsageGroup, PricedSplit]], now: int
    ) -> None:
        first = members[0][0]
        part = await self._store.next_part(first.batch_number, first.buyer, token)
        root = usage_root_of(first.batch_root, part)
        members = await self._quotable(token, root, members, now)
        if not members:
            return
        settlement = await self._store.create_settlement(
            SettlementDraft.of(token, part, members), key_prefix=self._settle_prefix, now=now
        )
        if settlement is None:
            log.info("usage of %s in batch %d was claimed meanwhile", first.buyer,
                     first.batch_number)
            return
        await self._submit(settlement)

    async def _quotable(
        self, token: str, root: bytes, members: list[tuple[UsageGroup, PricedSplit]], now: int
    ) -> list[tuple[UsageGroup, PricedSplit]]:
        """The members ``quote`` accepts under ``root``; holds the others."""
        buyer = members[0][0].buyer
        while members:
            items = [UsageItem(g.asset_key, p.version, g.units) for g, p in members]
            try:
                await self._splitter.quote(buyer, token, root, items)
                break
            except SplitterRevert as exc:
                members = await self._refused(exc, members, now)
        return members

    # -- co-signed settlement --------------------------------------------------------

    async def _cosigned(
        self, token: str, members: list[tuple[UsageGroup, PricedSplit]], now: int
    ) -> None:
        """Settle what the buyer signed; hold the rest under proposals it can sign."""
        first = members[0][0]
        free = {g.asset_key: (g, p) for g, p in members}
        for proposal in await self._store.proposals(
            LIVE_PROPOSALS, buyer=first.buyer, token=token, batch_number=first.batch_number
        ):
            mine = [free[i.asset_key] for i in proposal.items if i.asset_key in free]
            current = [SettlementItem.of(g, p) for g, p in mine]
            if (proposal.deadline <= self._clock()
                    or item_shape(current) != item_shape(proposal.items)
                    or sum(g.events for g, _ in mine) != proposal.events):
                # Unsigned in time, or its usage no longer prices as signed: propose anew.
                await self._store.mark_proposal(proposal.id, ProposalStatus.EXPIRED)
                continue
            for g, _ in mine:
                del free[g.asset_key]
            if proposal.status is ProposalStatus.SIGNED:
                await self._settle_signed(proposal, first.batch_root, [g for g, _ in mine],
                                          now)
            else:
                await self._hold([g for g, _ in mine], _awaiting(proposal), now)
        rest = [m for m in members if m[0].asset_key in free]
        for start in range(0, len(rest), self._max_items):
            await self._propose(token, rest[start : start + self._max_items], now)

    async def _propose(
        self, token: str, members: list[tuple[UsageGroup, PricedSplit]], now: int
    ) -> None:
        first = members[0][0]
        taken = await self._store.live_parts(first.batch_number, first.buyer, token)
        part = await self._store.next_part(first.batch_number, first.buyer, token, taken)
        members = await self._quotable(token, usage_root_of(first.batch_root, part), members,
                                       now)
        if not members:
            return
        proposal = await self._store.add_proposal(
            SettlementDraft.of(token, part, members),
            deadline=int(self._clock()) + self._proposal_ttl_s, now=now,
        )
        await self._hold([g for g, _ in members], _awaiting(proposal), now)
        log.info("proposed usage root 0x%s (%d wei) to co-signing buyer %s",
                 proposal.usage_root.hex(), proposal.total, proposal.buyer)

    async def _settle_signed(self, proposal: Proposal, batch_root: bytes,
                             groups: Sequence[UsageGroup], now: int) -> None:
        settlement = await self._store.create_settlement(proposal.draft(batch_root, groups),
                                                         key_prefix=self._settle_prefix, now=now)
        if settlement is None:
            log.info("usage of proposal %d was claimed meanwhile", proposal.id)
            await self._store.mark_proposal(proposal.id, ProposalStatus.EXPIRED)
            return
        await self._store.mark_proposal(proposal.id, ProposalStatus.USED, settlement.id)
        await self._submit(settlement)

    async def _refused(
        self, exc: SplitterRevert, members: list[tuple[UsageGroup, PricedSplit]], now: int
    ) -> list[tuple[UsageGroup, PricedSplit]]:
        """What is left to settle after ``quote`` refused; holds what cannot be charged."""
        groups = [g for g, _ in members]
        if exc.error in _BUYER_HOLDS:
            await self._hold(groups, _reason(_BUYER_HOLDS[exc.error], exc), now)
            return []
        index = exc.args_by_name.get("index")
        if not isinstance(index, int) or not 0 <= index < len(members):
            log.warning("settlement of %s not quoted: %s", groups[0].buyer, exc.reason)
            return []
        if exc.error in _ITEM_HOLDS:
            await self._hold([groups[index]], _reason(_ITEM_HOLDS[exc.error], exc), now)
        elif exc.error in _RETRY:
            self._prices.forget()
        else:
            log.warning("settlement item refused: %s", exc.reason)
        return members[:index] + members[index + 1 :]

    async def _hold(self, groups: Sequence[UsageGroup], reason: str, now: int) -> None:
        by_buyer: dict[tuple[int, str], dict[bytes, Hold]] = defaultdict(dict)
        for g in groups:
            holds = by_buyer[(g.batch_number, g.buyer)]
            hold = Hold.of(g, reason, now)
            if g.asset_key in holds:
                # Two periods of one asset held for one reason: one hold of their units.
                hold = replace(hold, units=hold.units + holds[g.asset_key].units)
            holds[g.asset_key] = hold
        for (number, buyer), holds in by_buyer.items():
            await self._store.set_holds(number, buyer, list(holds.values()))


def _price_key(group: UsageGroup) -> tuple[bytes, bytes | None]:
    """What a price depends on: the asset and the source of the terms of its period."""
    return (group.asset_key, None if group.period is None else group.period.source)


def _awaiting(proposal: Proposal) -> str:
    return (f"awaiting the buyer's co-signature of usage root 0x{proposal.usage_root.hex()} "
            f"({proposal.total} due) until {proposal.deadline}")


def _reason(template: str, exc: SplitterRevert) -> str:
    try:
        return template.format(**exc.args_by_name)
    except (KeyError, IndexError):
        return exc.reason
