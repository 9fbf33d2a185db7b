"""Request authentication of metering sources (ledger.core.royalty.auth)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.core.royalty.auth import (
    KeyRing,
    UsageAuthError,
    check_event_source,
    request_mac,
    verify_request,
)
from ledger.core.royalty.events import UsageEvent
from ledger.errors import SignatureError, ValidationError
from tests.unit.core.royalty.vectors import BASE, VECTORS


def test_mac_vector() -> None:
    case = VECTORS["macs"][0]
    mac = request_mac(bytes.fromhex(case["secret"]), case["source"], case["timestamp"],
                      case["body"].encode())
    assert mac == case["signature"]


SECRET_OLD, SECRET_NEW = bytes(range(32)), bytes(range(1, 33))
RING = KeyRing.from_obj({"version": "ledger-usage-keys/1", "sources": {
    "edge-1": [{"id": "old", "secret": SECRET_OLD.hex()},
               {"id": "new", "secret": SECRET_NEW.hex()}],
    "job-2": [{"id": "k", "secret": "ab" * 40}],
}})
BODY = b'{"events":[]}'
NOW = 1_750_000_000


def _verify(source: str | None = "edge-1", ts: str | None = str(NOW),
            sig: str | None = None, body: bytes = BODY, now: float = NOW) -> str:
    if sig is None:
        sig = request_mac(SECRET_NEW, "edge-1", str(NOW), BODY)
    return verify_request(RING, source, ts, sig, body, now_s=now)


def test_any_key_of_the_source_verifies_while_rotating() -> None:
    assert _verify() == "new"
    assert _verify(sig=request_mac(SECRET_OLD, "edge-1", str(NOW), BODY)) == "old"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source": None}, "X-Ledger-Source"),
        ({"source": "nobody"}, "X-Ledger-Source"),
        ({"ts": None}, "X-Ledger-Timestamp"),
        ({"ts": "12.5"}, "X-Ledger-Timestamp"),
        ({"now": NOW + 301}, "X-Ledger-Timestamp"),
        ({"now": NOW - 301}, "X-Ledger-Timestamp"),
        ({"sig": "v1=" + "0" * 64}, "X-Ledger-Signature"),
        ({"sig": "deadbeef"}, "X-Ledger-Signature"),
        ({"body": BODY + b" "}, "X-Ledger-Signature"),
        ({"source": "job-2"}, "X-Ledger-Signature"),  # another source's key does not count
    ],
)
def test_request_refused(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(UsageAuthError) as info:
        _verify(**kwargs)
    assert info.value.field == field
    assert isinstance(info.value, SignatureError)


def test_timestamp_is_bound_by_the_mac() -> None:
    sig = request_mac(SECRET_NEW, "edge-1", str(NOW), BODY)
    with pytest.raises(UsageAuthError, match="does not match"):
        _verify(ts=str(NOW + 1), sig=sig, now=NOW + 1)


def test_event_must_name_the_signing_source() -> None:
    event = UsageEvent.from_obj(BASE)
    check_event_source(event, "edge-1", "")
    with pytest.raises(UsageAuthError) as info:
        check_event_source(event, "job-2", "events[0]")
    assert info.value.field == "events[0].source"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"version": "x", "sources": {}}, "version"),
        ({"version": "ledger-usage-keys/1", "sources": {"Bad": [{"id": "a", "secret": "00" * 32}]}},
         "sources.Bad"),
        ({"version": "ledger-usage-keys/1", "sources": {"a": [{"id": "a", "secret": "00" * 8}]}},
         "sources.a[0].secret"),
        ({"version": "ledger-usage-keys/1", "sources": {"a": []}}, "sources.a"),
    ],
)
def test_bad_keys_file(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        KeyRing.from_obj(doc)
    assert info.value.field == field
