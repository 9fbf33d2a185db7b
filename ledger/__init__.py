"""ledger: a provenance ledger and anchoring service for content licensed to AI training."""

__version__ = "0.1.0"
