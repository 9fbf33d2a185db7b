"""Whether a buyer can pay for one more use: its deposit and limits on the splitter,
less what settlements in flight will take (the token endpoint's last check)."""

from __future__ import annotations

from typing import Protocol

from ledger.chain.contracts.splitter import RoyaltySplitter
from ledger.core.royalty.settlement import SETTLED
from ledger.core.royalty.terms import AssetTerms
from ledger.storage.usage import UsageStore


class Funds(Protocol):
    """Answers "may this buyer be charged one more use of this asset?"."""

    async def shortfall(self, buyer: str, terms: AssetTerms) -> str | None:
        """None when one use at the asset's price is covered; else why it is not."""


class SplitterFunds:
    """`Funds` from the buyer's account on the RoyaltySplitter and the settlements the
    service has proposed or sent but not seen settled. Usage metered but not yet in a
    settlement is not counted: settlement holds what the deposit cannot cover
    (docs/royalties.md), so a token is never a promise of payment."""

    def __init__(self, splitter: RoyaltySplitter, store: UsageStore) -> None:
        self._splitter = splitter
        self._store = store

    async def shortfall(self, buyer: str, terms: AssetTerms) -> str | None:
        """See `Funds.shortfall`."""
        price, token = terms.price.per_unit, terms.price.token
        if await self._splitter.max_price_per_unit(buyer, token, terms.asset_key) < price:
            return f"the buyer's maximum price for this asset is below its price {price}"
        account = await self._splitter.account(buyer, token)
        owed = sum(line.item.amount for line in await self._store.item_lines(buyer=buyer)
                   if line.token == token and line.status.value not in SETTLED)
        if account.spent + owed + price > account.spending_cap:
            return f"the buyer's spending cap in {token} leaves less than {price}"
        if account.deposit - account.pending_withdrawal - owed < price:
            return f"the buyer's deposit in {token} leaves less than {price}"
        return None
