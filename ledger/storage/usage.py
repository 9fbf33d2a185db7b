"""The royalty tables behind one repository (issue 5): usage events and batches,
settlements and holds, proposals, and split signatures.

Each part lives in its own module; `UsageStore` joins them because the usage
service and the settler each use all of them over one engine. Amounts are Python
ints here and decimal strings in the database.
"""

from __future__ import annotations

from ledger.storage.proposals import ProposalStore, SplitSignatureStore
from ledger.storage.settlements import SettlementStore
from ledger.storage.usage_events import UsageEventStore
from ledger.storage.usage_refusals import UsageRefusalStore


class UsageStore(UsageEventStore, UsageRefusalStore, SettlementStore, ProposalStore,
                 SplitSignatureStore):
    """Repository of usage events (and their refusals), usage batches, settlements, holds,
    proposals and split signatures."""
