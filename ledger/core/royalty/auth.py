"""The HMAC authentication of a metering source's usage requests.

A request carries three headers: ``X-Ledger-Source``, ``X-Ledger-Timestamp`` (Unix
seconds) and ``X-Ledger-Signature`` (``v1=`` and the hex HMAC-SHA256, see
`request_mac`), made with one of the source's keys (`KeyRing`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.core import fields
from ledger.core.fields import Fields
from ledger.core.royalty.events import USAGE_TAG, UsageEvent
from ledger.errors import SignatureError, ValidationError

REPLAY_WINDOW_S = 300
"""How far a request's timestamp may be from the service's clock, either way."""

SIGNATURE_SCHEME = "v1"

_SIGNATURE = re.compile(r"v1=([0-9a-f]{64})")
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SECRET = re.compile(r"(?:[0-9a-f]{2}){32,128}")


class UsageAuthError(SignatureError):
    """A usage request's source, timestamp or HMAC signature does not authenticate it."""

    code = "unauthenticated"



@dataclass(frozen=True)
class SourceKey:
    """One HMAC key of a metering source; a source may hold several while rotating."""

    key_id: str
    secret: bytes


@dataclass(frozen=True)
class KeyRing:
    """Every metering source and its current keys.

    The keys file (``ledger-usage-keys/1``)::

        {"version": "ledger-usage-keys/1",
         "sources": {"edge-1": [{"id": "2025-06", "secret": "<64 to 256 hex digits>"}]}}

    Rotation: add the new key beside the old one, move the source to it, then
    remove the old one; a request verifies under any key its source holds.
    """

    sources: Mapping[str, tuple[SourceKey, ...]]

    VERSION = "ledger-usage-keys/1"

    @classmethod
    def from_obj(cls, obj: Any) -> KeyRing:
        """Parse a keys file object; ValidationError names the member."""
        m = Fields.of_object(obj, allowed=("version", "sources"), required=("version", "sources"))
        if m["version"] != cls.VERSION:
            m.fail("version", f'must be "{cls.VERSION}"')
        sources = m["sources"]
        if not isinstance(sources, dict):
            m.fail("sources", "must be an object of source id to keys")
        parsed: dict[str, tuple[SourceKey, ...]] = {}
        for source, keys in sources.items():
            where = f"sources.{source}"
            if not fields.SOURCE.fullmatch(source):
                raise ValidationError("is not a valid source id", field=where)
            if not isinstance(keys, list) or not 1 <= len(keys) <= 16:
                raise ValidationError("must be a list of 1 to 16 keys", field=where)
            parsed[source] = tuple(_source_key(k, f"{where}[{i}]") for i, k in enumerate(keys))
        return cls(parsed)

    def keys(self, source: str) -> tuple[SourceKey, ...]:
        """The keys of ``source`` (empty if unknown)."""
        return self.sources.get(source, ())


def _source_key(obj: Any, where: str) -> SourceKey:
    m = Fields.of_object(obj, where, allowed=("id", "secret"), required=("id", "secret"))
    key_id = m.match("id", _KEY_ID, "a key id (letters, digits, ._-)")
    secret = m.match("secret", _SECRET,
                     "64 to 256 lower-case hex digits (32 to 128 bytes)")
    return SourceKey(key_id, bytes.fromhex(secret))


def request_mac(secret: bytes, source: str, timestamp: str, body: bytes) -> str:
    """The ``X-Ledger-Signature`` value of a request: ``v1=`` and the hex HMAC-SHA256 of
    ``"ledger-usage-v1\\n" ‖ source ‖ "\\n" ‖ timestamp ‖ "\\n" ‖ body``."""
    message = USAGE_TAG + source.encode() + b"\n" + timestamp.encode() + b"\n" + body
    return f"{SIGNATURE_SCHEME}=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


def request_headers(secret: bytes, source: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The three headers a metering source sends with ``body`` at Unix time ``timestamp``."""
    stamp = str(timestamp)
    return {"X-Ledger-Source": source, "X-Ledger-Timestamp": stamp,
            "X-Ledger-Signature": request_mac(secret, source, stamp, body),
            "Content-Type": "application/json"}


def verify_request(
    ring: KeyRing,
    source: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now_s: float,
    window_s: float = REPLAY_WINDOW_S,
) -> str:
    """Authenticate a usage request from its three headers; return the key id that signed it.

    Raises UsageAuthError naming the header: a missing or unknown source, a timestamp
    more than ``window_s`` from ``now_s`` (a replay outside the window), or a
    signature no key of the source made. A replay inside the window is harmless:
    events are stored once by id.
    """
    check_request_headers(ring, source, timestamp, signature, now_s=now_s, window_s=window_s)
    assert source is not None and timestamp is not None and signature is not None
    for key in ring.keys(source):
        if hmac.compare_digest(request_mac(key.secret, source, timestamp, body), signature):
            return key.key_id
    raise UsageAuthError("does not match any key of the source", field="X-Ledger-Signature")


def check_request_headers(
    ring: KeyRing,
    source: str | None,
    timestamp: str | None,
    signature: str | None,
    *,
    now_s: float,
    window_s: float = REPLAY_WINDOW_S,
) -> None:
    """Everything of `verify_request` that needs no body: a known source, a fresh
    timestamp and a well-formed signature, so a request failing them is refused
    before its body is read. UsageAuthError names the header."""
    if not source or not fields.SOURCE.fullmatch(source) or not ring.keys(source):
        raise UsageAuthError("unknown metering source", field="X-Ledger-Source")
    if not timestamp or not fields.UNIX_SECONDS.fullmatch(timestamp):
        raise UsageAuthError("must be Unix seconds", field="X-Ledger-Timestamp")
    if abs(now_s - int(timestamp)) > window_s:
        raise UsageAuthError(f"is more than {window_s:g} s from the service's clock",
                             field="X-Ledger-Timestamp")
    if not signature or not _SIGNATURE.fullmatch(signature):
        raise UsageAuthError('must be "v1=" and 64 hex digits', field="X-Ledger-Signature")


def check_event_source(event: UsageEvent, source: str, where: str) -> None:
    """An authenticated source may only report events that name it."""
    if event.source != source:
        raise UsageAuthError(f"the request was signed by source {source!r}",
                             field=fields.path(where, "source"))
