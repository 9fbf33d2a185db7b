"""Signed read requests: the bytes a buyer, creator or metering source signs to read
its own records (docs/royalties.md, "Who may read what").

The payload is ``"GET " ‖ path-and-query as sent ‖ "\\n" ‖ Unix seconds``: it names
exactly one resource and expires, so a leaked signature reads that one thing for
the freshness window and nothing else.
"""

from __future__ import annotations

from ledger.core.fields import UNIX_SECONDS
from ledger.core.signing import SigningKey, sign_message
from ledger.errors import ValidationError

#: The domain tag of a signed read (`ledger.core.signing.sign_message`).
READ_TAG = "ledger-read-v1"
#: Headers of a read signed with a buyer's or creator's key.
KEY_HEADER = "X-Ledger-Key"
TIMESTAMP_HEADER = "X-Ledger-Timestamp"
SIGNATURE_HEADER = "X-Ledger-Read-Signature"


def read_payload(path_qs: str, timestamp: str) -> bytes:
    """The bytes signed to read ``path_qs`` (the raw path and query) at ``timestamp``."""
    if not UNIX_SECONDS.fullmatch(timestamp):
        raise ValidationError("must be Unix seconds", field=TIMESTAMP_HEADER)
    return f"GET {path_qs}\n{timestamp}".encode()


def signed_read_headers(key: SigningKey, path_qs: str, timestamp: int) -> dict[str, str]:
    """The headers that authenticate a GET of ``path_qs`` by ``key`` at Unix ``timestamp``."""
    stamp = str(timestamp)
    return {KEY_HEADER: key.public_id, TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign_message(READ_TAG, read_payload(path_qs, stamp), key)}
