"""The error hierarchy of ledger.

Every error a user can cause is a `LedgerError`; each carries a message fit to
show as is and, where the problem sits in a document, the path of the field.
Third-party exceptions are wrapped with ``raise ... from`` so none escapes bare.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


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


class NotFound(LedgerError):
    """What the request names does not exist (a manifest, batch, creator, event)."""

    code = "not_found"


class Conflict(LedgerError):
    """The request contradicts what is stored already."""

    code = "conflict"


class AlreadyExists(Conflict):
    """Something created once (a creator id) would be created again."""

    code = "exists"


class BuyerWithdrawing(Conflict):
    """Usage for a buyer that is taking its deposit out: none is metered meanwhile."""

    code = "buyer_withdrawing"


class LicenceRefused(Conflict):
    """Usage at a time the asset's lifecycle statements refuse it (revoked, withdrawn,
    taken down, or exclusive to another buyer): never stored, never settled."""

    code = "licence_refused"

    def __init__(self, message: str, *, statement: bytes, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.statement = statement

    def to_dict(self) -> dict[str, str]:
        """The error with the digest of the statement that refuses the usage."""
        return {**super().to_dict(), "statement": "0x" + self.statement.hex()}


class Unauthenticated(LedgerError):
    """The request carries no credentials, or credentials that do not check."""

    code = "unauthenticated"


class Forbidden(LedgerError):
    """The request is authenticated, but as someone who may not do or read this."""

    code = "forbidden"


class RateLimited(LedgerError):
    """Too many requests of one kind from one caller: try again in ``retry_after_s``."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s


class Unavailable(LedgerError):
    """A part the request needs is missing or down; retrying later may succeed."""

    code = "unavailable"


class StorageError(Unavailable):
    """The database refused or failed a write or read."""

    code = "storage_error"


class LeaseLostError(StorageError):
    """This replica no longer leads the role it was acting for: another took the lease."""

    code = "lease_lost"


def each_or_error(check: Callable[[In], Out], items: Iterable[In]) -> list[Out | LedgerError]:
    """``check(item)`` for each item, or in its place the LedgerError it raised: how a
    batch of independent inputs is answered item by item."""
    out: list[Out | LedgerError] = []
    for item in items:
        try:
            out.append(check(item))
        except LedgerError as exc:
            out.append(exc)
    return out
