"""OAuth 2.0 errors of the licence server: each `code` is the ``error`` value of an
RFC 6749 §5.2 error response (RFC 7662 and RFC 8707 for introspection and resources;
``payment_required`` is ours, an extension value as RFC 6749 §8.5 allows)."""

from __future__ import annotations

from ledger.errors import LedgerError


class OAuthError(LedgerError):
    """An error answered as ``{"error", "error_description"}``; 400 unless noted."""

    code = "invalid_request"


class InvalidRequest(OAuthError):
    """A parameter is missing, repeated or malformed."""

    code = "invalid_request"


class InvalidClient(OAuthError):
    """Client authentication failed: 401 with a ``WWW-Authenticate: Basic`` challenge."""

    code = "invalid_client"


class InvalidGrant(OAuthError):
    """The licence cannot be granted now (revoked, withdrawn, another buyer's exclusivity)."""

    code = "invalid_grant"


class UnsupportedGrantType(OAuthError):
    """A grant type other than OLP's ``rsl``."""

    code = "unsupported_grant_type"


class InvalidScope(OAuthError):
    """The requested licence is not one the asset's terms in force grant."""

    code = "invalid_scope"


class InvalidTarget(OAuthError):
    """The resource is not an asset this server licenses (RFC 8707 §2)."""

    code = "invalid_target"


class PaymentRequired(OAuthError):
    """The buyer's deposit or limits do not cover one use at the current price."""

    code = "payment_required"


class InvalidClientMetadata(OAuthError):
    """A registration member is refused (RFC 7591 §3.2.2); the description names it."""

    code = "invalid_client_metadata"
