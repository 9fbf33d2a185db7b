"""The fixed words of ledger's formats: document versions, price types and units, payee roles.

Plain constants in a module of their own, so the command line can offer them as
choices, and tell one document from another, without loading the validators and
signature schemes, which `ledger --help` and an offline `ledger verify` do not need.
"""

from __future__ import annotations

PRICE_TYPES = ("per-unit", "royalty", "one-time", "subscription")
PRICE_UNITS = ("sample", "epoch", "1k-samples")
PAYEE_ROLES = ("creator", "co-creator", "marketplace")

PROOF_VERSION = "ledger-proof/1"
"""A manifest's proof bundle (docs/proof-format.md §4)."""
RECEIPT_VERSION = "ledger-receipt/1"
"""An intake receipt (docs/proof-format.md §4a)."""
ASSET_PROOF_VERSION = "ledger-asset-proof/1"
"""One asset of a 1.1 manifest with its proof (docs/proof-format.md §8)."""
EVIDENCE_VERSION = "ledger-evidence/1"
"""One asset linked to one block, checkable with a block hash alone (docs/proof-format.md §9)."""
