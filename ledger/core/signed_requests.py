"""Signed requests: how a creator or a buyer authenticates a request that acts for it
(its webhook subscriptions, its event feed, a dataset check made for it).

The signer signs, with `ledger.core.signing.sign_message` under ``ledger-request-v1``::

    METHOD "\\n" path-and-query as sent "\\n" Unix seconds "\\n" nonce "\\n"
    creator id (empty for a buyer) "\\n" hex SHA-256 of the body (of no bytes for GET)

so a signature covers one request exactly: another method, path, body or principal
does not check; it expires after the service's window, and the service refuses a
nonce it has seen from the same key within that window (a replay). A creator signs
with one of its signing keys and names itself in ``X-Ledger-Creator``; a buyer signs
with its wallet (an ``eth:`` key: EIP-712 ``LedgerMessage``, i.e. EIP-191 version 1)
and names no creator.
"""

from __future__ import annotations

import re
import secrets

from ledger.core.fields import UNIX_SECONDS
from ledger.core.hashing import sha256
from ledger.core.reads import KEY_HEADER, TIMESTAMP_HEADER
from ledger.core.signing import SigningKey, sign_message
from ledger.errors import ValidationError

#: The domain tag of a signed request.
REQUEST_TAG = "ledger-request-v1"
NONCE_HEADER = "X-Ledger-Nonce"
CREATOR_HEADER = "X-Ledger-Creator"
SIGNATURE_HEADER = "X-Ledger-Request-Signature"
#: Every header of a signed request but the creator's (which a buyer leaves out).
HEADERS = (KEY_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)

NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def request_payload(method: str, path_qs: str, timestamp: str, nonce: str,
                    creator_id: str | None, body: bytes) -> bytes:
    """The bytes signed for this request; ValidationError naming a malformed header."""
    if not UNIX_SECONDS.fullmatch(timestamp):
        raise ValidationError("must be Unix seconds", field=TIMESTAMP_HEADER)
    if not NONCE.fullmatch(nonce):
        raise ValidationError("must be 16 to 64 letters, digits, - or _", field=NONCE_HEADER)
    if creator_id is not None and ("\n" in creator_id or not creator_id):
        raise ValidationError("must be a creator id", field=CREATOR_HEADER)
    lines = (method.upper(), path_qs, timestamp, nonce, creator_id or "", sha256(body).hex())
    return "\n".join(lines).encode()


def signed_request_headers(key: SigningKey, method: str, path_qs: str, body: bytes, *,
                           timestamp: int, creator_id: str | None = None,
                           nonce: str | None = None) -> dict[str, str]:
    """The headers that authenticate this request by `key` (for `creator_id` when given,
    else as the buyer whose wallet `key` is)."""
    stamp, nonce = str(timestamp), nonce or secrets.token_urlsafe(18)
    payload = request_payload(method, path_qs, stamp, nonce, creator_id, body)
    headers = {KEY_HEADER: key.public_id, TIMESTAMP_HEADER: stamp, NONCE_HEADER: nonce,
               SIGNATURE_HEADER: sign_message(REQUEST_TAG, payload, key)}
    if creator_id is not None:
        headers[CREATOR_HEADER] = creator_id
    return headers
