"""Shapes of webhook subscriptions, dead letters and the event feed (docs/lifecycle.md,
"Notifications")."""

from __future__ import annotations

from ledger.api.schemas.common import (
    ADDRESS,
    CREATOR_ID,
    HEX32,
    INTEGER,
    MS,
    STRING,
    Schema,
    array,
    closed,
    nullable,
    ref,
    text,
)
from ledger.core.events import EVENT_TYPES

_TYPE: Schema = {"enum": list(EVENT_TYPES)}
_TYPES = array({"anyOf": [_TYPE, {"const": "*"}]}, minItems=1)
_EVENT_ID = text("^evt_[0-9a-f]{32}$", "the webhook-id header: the same on every attempt")
_WEBHOOK_ID = text("^wh_[0-9a-f]{24}$")
_CURSOR = text("^[0-9]{1,18}$", "an opaque position in the event feed")
_FILTERS: dict[str, Schema] = {
    "types": _TYPES, "creatorId": nullable(CREATOR_ID), "buyer": nullable(ADDRESS),
    "manifestDigest": nullable(HEX32)}

SUBSCRIBE = closed(
    {"url": text("^https?://", "where events are POSTed")},
    {"types": _TYPES, "creatorId": CREATOR_ID, "buyer": ADDRESS, "manifestDigest": HEX32},
    description="A subscription: the URL and which events (all types when types is left "
    'out or ["*"]; only those about the creator, buyer or manifest named)',
)
_DELIVERY = closed({"cursor": _CURSOR, "attempts": INTEGER, "firstFailedAt": nullable(MS),
                    "nextAttemptAt": nullable(MS), "lastError": nullable(STRING)},
                   description="Where delivery stands: the next event has failed attempts "
                   "times since firstFailedAt")
_OWNER = nullable(text("^(creator:.+|buyer:0x[0-9a-f]{40})$",
                        "who made it and may manage it; null: the operator"))
_WEBHOOK_MEMBERS: dict[str, Schema] = {
    "id": _WEBHOOK_ID, "url": STRING, "owner": _OWNER, **_FILTERS, "createdAt": MS,
    "disabledAt": nullable(MS), "delivery": _DELIVERY}
WEBHOOK = closed(_WEBHOOK_MEMBERS, description="A subscription (its secret is never shown "
                 "again)")
WEBHOOK_CREATED = closed(
    {**_WEBHOOK_MEMBERS, "secret": text("^whsec_[A-Za-z0-9+/=]+$", "the signing secret, "
                                        "shown this once")},
    description="The new subscription and its signing secret")
EVENT_DATA: Schema = {
    "type": "object",
    "properties": {"creatorId": CREATOR_ID, "buyer": ADDRESS, "manifestDigest": HEX32},
    "additionalProperties": True,
    "description": "The fact announced; its members per type are in docs/lifecycle.md",
}
EVENT = closed({"id": _EVENT_ID, "cursor": _CURSOR, "type": _TYPE, "timestamp": STRING,
                "data": ref("EventData")},
               description="An event as the feed lists it: the webhook payload with its id "
               "and place")
DEAD_LETTER = closed({"event": ref("Event"), "attempts": INTEGER, "lastError": nullable(STRING),
                      "deadAt": MS, "redeliverAt": nullable(MS), "deliveredAt": nullable(MS)})

SCHEMAS: dict[str, Schema] = {
    "Subscribe": SUBSCRIBE,
    "Webhook": WEBHOOK,
    "WebhookCreated": WEBHOOK_CREATED,
    "Webhooks": closed({"webhooks": array(ref("Webhook"))}),
    "EventData": EVENT_DATA,
    "Event": EVENT,
    "EventFeed": closed({"events": array(ref("Event")), "next": _CURSOR},
                        description="Events after the cursor asked for, oldest first; ask "
                        "again with after=next"),
    "DeadLetter": DEAD_LETTER,
    "DeadLetters": closed({"deadLetters": array(ref("DeadLetter"))}),
    "Redelivery": closed({"redeliver": _EVENT_ID}),
}
