"""Events the service announces, and the subscriptions that receive them (issue 17).

An event's payload follows the Standard Webhooks shape, ``{"type", "timestamp",
"data"}``, minified, and is fixed when announced: every delivery and the pull feed
send the same bytes. Its id (the ``webhook-id`` header) is derived from its type
and an idempotency key (by default its data), so announcing the same fact twice,
e.g. again after a crash, stores and sends it once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from ledger.core import fields
from ledger.core.hashing import to_hex
from ledger.core.times import iso_utc_ms
from ledger.errors import Forbidden, ValidationError

MANIFEST_ANCHORED = "manifest.anchored"
STATUS_CHANGED = "status.changed"
TAKEDOWN_OPENED = "takedown.opened"
TAKEDOWN_DECIDED = "takedown.decided"
USAGE_REFUSED = "usage.refused"
SETTLEMENT_PAID = "settlement.paid"
DEPOSIT_LEAVING = "deposit.leaving"

#: Every event type, in the order docs/lifecycle.md lists them.
EVENT_TYPES = (MANIFEST_ANCHORED, STATUS_CHANGED, TAKEDOWN_OPENED, TAKEDOWN_DECIDED,
               USAGE_REFUSED, SETTLEMENT_PAID, DEPOSIT_LEAVING)

#: The data fields subscriptions and the feed filter on.
CREATOR_FIELD = "creatorId"
BUYER_FIELD = "buyer"
MANIFEST_FIELD = "manifestDigest"

_ID_TAG = b"ledger-event-v1\n"


@dataclass(frozen=True)
class Subject:
    """Whom an event is about, or a subscription's filters (None: any)."""

    creator_id: str | None = None
    buyer: str | None = None
    manifest_digest: bytes | None = None


@dataclass(frozen=True)
class NewEvent:
    """An event as it is stored: its id, type, time (ms), subject and payload bytes."""

    id: str
    type: str
    created_at: int
    subject: Subject
    body: bytes


@dataclass(frozen=True)
class StoredEvent:
    """A stored event and its place in the outbox (`seq`, the feed's cursor)."""

    seq: int
    id: str
    type: str
    created_at: int
    body: bytes

    def to_obj(self) -> dict[str, Any]:
        """The event as the pull feed lists it: id, cursor and the payload's fields."""
        payload: dict[str, Any] = orjson.loads(self.body)
        return {"id": self.id, "cursor": str(self.seq), **payload}


@dataclass(frozen=True)
class Filters:
    """Which events a subscription or a feed read wants: `types` (None: every type)
    and a subject whose set fields an event must match."""

    types: frozenset[str] | None = None
    subject: Subject = Subject()

    @classmethod
    def parse(cls, types: object, creator_id: object = None, buyer: object = None,
              manifest_digest: object = None, *, prefix: str = "") -> Filters:
        """Filters from request fields; ValidationError naming the bad one."""
        return cls(_types(types, f"{prefix}types"),
                   Subject(_text(creator_id, f"{prefix}creatorId", 200),
                           _address(buyer, f"{prefix}buyer"),
                           _digest(manifest_digest, f"{prefix}manifestDigest")))

    def to_obj(self) -> dict[str, Any]:
        """The filters as the API shows them."""
        subject = self.subject
        return {
            "types": sorted(self.types) if self.types is not None else ["*"],
            "creatorId": subject.creator_id,
            "buyer": subject.buyer,
            "manifestDigest": to_hex(subject.manifest_digest) if subject.manifest_digest else None,
        }


#: Events about an asset's status: a buyer's scope takes them for the manifests it used.
ASSET_STATUS_TYPES = (STATUS_CHANGED, TAKEDOWN_OPENED, TAKEDOWN_DECIDED)


@dataclass(frozen=True)
class Principal:
    """A creator (`creator_id`) or a buyer (`buyer`, a lower-case 0x address) acting for
    itself through a signed request; its scope is the events about it
    (docs/lifecycle.md, "Who may subscribe")."""

    creator_id: str | None = None
    buyer: str | None = None

    @property
    def owner(self) -> str:
        """Who owns what it makes: ``creator:<id>`` or ``buyer:<0x address>``."""
        if self.creator_id is not None:
            return f"creator:{self.creator_id}"
        return f"buyer:{self.buyer}"

    def scope(self, filters: Filters) -> Filters:
        """`filters` narrowed to this principal's own events; Forbidden if they name
        another creator or buyer."""
        subject = filters.subject
        if self.creator_id is not None:
            if subject.creator_id not in (None, self.creator_id):
                raise Forbidden(f"creator {self.creator_id} may follow only its own events",
                                field=CREATOR_FIELD)
            return replace(filters, subject=replace(subject, creator_id=self.creator_id))
        if subject.buyer not in (None, self.buyer):
            raise Forbidden(f"buyer {self.buyer} may follow only its own events",
                            field=BUYER_FIELD)
        return replace(filters, subject=replace(subject, buyer=self.buyer))


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription and where its delivery stands: every event up to `cursor`
    was delivered, dead-lettered or not for it; the next has failed `attempts` times."""

    id: str
    url: str
    filters: Filters
    secret: str = field(repr=False)
    created_at: int
    disabled_at: int | None = None
    cursor: int = 0
    attempts: int = 0
    first_failed_at: int | None = None
    next_attempt_at: int = 0
    last_error: str | None = None
    #: Who made it and may manage it (`Principal.owner`); None: the operator.
    owner: str | None = None

    def to_obj(self) -> dict[str, Any]:
        """The subscription as the API shows it (never its secret)."""
        return {
            "id": self.id,
            "url": self.url,
            "owner": self.owner,
            **self.filters.to_obj(),
            "createdAt": self.created_at,
            "disabledAt": self.disabled_at,
            "delivery": {
                "cursor": str(self.cursor),
                "attempts": self.attempts,
                "firstFailedAt": self.first_failed_at,
                "nextAttemptAt": self.next_attempt_at or None,
                "lastError": self.last_error,
            },
        }


@dataclass(frozen=True)
class DeadLetter:
    """An event a subscriber did not take within the retry period."""

    webhook_id: str
    event: StoredEvent
    attempts: int
    last_error: str | None
    dead_at: int
    redeliver_at: int | None
    delivered_at: int | None

    def to_obj(self) -> dict[str, Any]:
        """The dead letter as the API lists it, with its event."""
        return {
            "event": self.event.to_obj(),
            "attempts": self.attempts,
            "lastError": self.last_error,
            "deadAt": self.dead_at,
            "redeliverAt": self.redeliver_at,
            "deliveredAt": self.delivered_at,
        }


def make_event(type: str, data: Mapping[str, Any], at_ms: int, *,
               key: str | None = None) -> NewEvent:
    """The event of `type` with `data` (JSON values; its ``creatorId``, ``buyer`` and
    ``manifestDigest`` fields, when present, are what subscriptions filter on),
    announced at `at_ms`; `key` names the fact for deduplication (default: the data)."""
    if type not in EVENT_TYPES:
        raise ValidationError(f"unknown event type {type!r}", field="type")
    basis = key if key is not None else orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    digest = hashlib.sha256(_ID_TAG + type.encode() + b"\n" + basis.encode()).hexdigest()
    payload = {"type": type, "timestamp": iso_utc_ms(at_ms), "data": dict(data)}
    return NewEvent(
        id=f"evt_{digest[:32]}",
        type=type,
        created_at=at_ms,
        subject=Subject(
            _text(data.get(CREATOR_FIELD), CREATOR_FIELD, 200),
            _address(data.get(BUYER_FIELD), BUYER_FIELD),
            _digest(data.get(MANIFEST_FIELD), MANIFEST_FIELD),
        ),
        body=orjson.dumps(payload),
    )


def _types(value: object, field: str) -> frozenset[str] | None:
    if value is None or value == ["*"]:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise ValidationError('must be a non-empty list of event types, or ["*"]', field=field)
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(f"unknown event type {unknown[0]!r} (known: "
                              f"{', '.join(EVENT_TYPES)})", field=field)
    return frozenset(value)


def _text(value: object, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise ValidationError(f"must be a string of 1 to {limit} characters", field=field)
    return value


def _address(value: object, field: str) -> str | None:
    text = _text(value, field, 42)
    if text is None:
        return None
    lowered = text.lower()
    if len(lowered) != 42 or not lowered.startswith("0x") or not _is_hex(lowered[2:]):
        raise ValidationError("must be a 0x-prefixed 20-byte address", field=field)
    return lowered


def _digest(value: object, field: str) -> bytes | None:
    text = _text(value, field, 66)
    if text is None:
        return None
    if not fields.HASH.fullmatch(text):
        raise ValidationError("must be 0x and 64 lowercase hex digits", field=field)
    return bytes.fromhex(text[2:])


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
