"""The error hierarchy of ledger.

Every error a user can cause is a `LedgerError`; each carries a message fit to
show as is and, where the problem sits in a document, the path of the field.
Third-party exceptions are wrapped with ``raise ... from`` so none escapes bare.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error ledger raises on purpose."""

    code = "ledger_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_dict(self) -> dict[str, str]:
        """The error as the JSON object the HTTP API returns."""
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class CanonicalJSONError(LedgerError):
    """Input is not JSON that has exactly one canonical form (RFC 8785)."""

    code = "non_canonical_json"


class ValidationError(LedgerError):
    """A document is well-formed JSON but breaks the schema."""

    code = "invalid"


class SignatureError(LedgerError):
    """A signature or key is malformed, or does not verify."""

    code = "bad_signature"


class ProofError(LedgerError):
    """A proof or proof bundle is malformed or does not verify."""

    code = "bad_proof"


class ConfigError(LedgerError):
    """A setting is missing or invalid."""

    code = "bad_config"


class ChainError(LedgerError):
    """The chain answered with an error or could not be reached."""

    code = "chain_error"


class StorageError(LedgerError):
    """The database refused or failed a write or read."""

    code = "storage_error"


class LeaseLostError(StorageError):
    """This replica no longer leads the role it was acting for: another took the lease."""

    code = "lease_lost"
