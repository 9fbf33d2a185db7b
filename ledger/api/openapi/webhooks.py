"""Operations of webhook subscriptions and the event feed (docs/lifecycle.md,
"Notifications"): the operator's (``Authorization: Bearer``) for every subscription, or a
creator's or a buyer's for its own (a signed request: ``SIGNED_REQUEST``)."""

from __future__ import annotations

from ledger.api.openapi.operation import (
    BODY_ERRORS,
    Answer,
    Operation,
    errors,
    header,
    json_answer,
    path_param,
    query_param,
)
from ledger.api.schemas.common import ADDRESS, CREATOR_ID, HEX32, text

#: The headers of a request signed by a creator or a buyer (`ledger.core.signed_requests`).
SIGNED_REQUEST = [
    header("X-Ledger-Key", "the signing key's public id (a buyer's: eth:0x…)"),
    header("X-Ledger-Timestamp", "Unix seconds, within usage_window_s of the service"),
    header("X-Ledger-Nonce", "16 to 64 of A-Z a-z 0-9 - _, never sent twice"),
    header("X-Ledger-Creator", "the creator the key signs for (a buyer leaves it out)"),
    header("X-Ledger-Request-Signature", "signature under tag ledger-request-v1 of METHOD, "
           "path and query, timestamp, nonce, creator id and the body's SHA-256, one a line"),
]
_OPERATOR = [header("Authorization", "Bearer <admin_token>: every subscription"),
             *SIGNED_REQUEST]
_ID = path_param("id", text("^wh_[0-9a-f]{24}$"))
_REFUSED = errors(401, 403, 503, s401="Neither the operator's token nor a signed request "
                  "(or a stale, replayed or badly signed one)",
                  s403="Not the operator's token, or another creator's or buyer's "
                  "subscription or events")

OPERATIONS = [
    Operation(
        "POST", "/v1/webhooks", "postWebhook", "Subscribe a URL to events",
        {201: json_answer("WebhookCreated", "Subscribed from the next event on"),
         **errors(*BODY_ERRORS, 401, 403),
         **errors(409, s409="The signer holds 20 subscriptions already")},
        [*_OPERATOR], request="Subscribe",
        description="A creator or a buyer subscribes to its own events only (creatorId or "
        "buyer is set to it). Each event is POSTed to the URL as a Standard Webhooks request "
        "(webhook-id, webhook-timestamp, webhook-signature: HMAC-SHA256 with the secret "
        "answered here, once), in order, retried for at least 24 hours, then "
        "dead-lettered.",
    ),
    Operation("GET", "/v1/webhooks", "listWebhooks", "Every subscription, or the signer's own",
              {200: json_answer("Webhooks", "Oldest first"), **_REFUSED}, [*_OPERATOR]),
    Operation("GET", "/v1/webhooks/{id}", "getWebhook",
              "A subscription and where its delivery stands",
              {200: json_answer("Webhook", "The subscription"), **errors(404),
               **_REFUSED}, [*_OPERATOR, _ID]),
    Operation("DELETE", "/v1/webhooks/{id}", "deleteWebhook",
              "Delete a subscription and its dead letters",
              {204: Answer("Deleted (no body)"), **errors(404), **_REFUSED},
              [*_OPERATOR, _ID]),
    Operation("GET", "/v1/webhooks/{id}/dead-letters", "getWebhookDeadLetters",
              "Events the subscriber did not take within the retry period",
              {200: json_answer("DeadLetters", "Oldest first, up to 1,000"), **errors(404),
               **_REFUSED}, [*_OPERATOR, _ID]),
    Operation("POST", "/v1/webhooks/{id}/dead-letters/{event}/redeliver",
              "redeliverWebhookDeadLetter", "Send a dead letter once more, with its id",
              # The body (usually empty) is read for a signed request's signature, so
              # its refusals apply: a compressed one is 415 like any other.
              {202: json_answer("Redelivery", "Queued for one more attempt"),
               **errors(400, 404, 408, 413, 415), **_REFUSED},
              [*_OPERATOR, _ID, path_param("event", text("^evt_[0-9a-f]{32}$"))]),
    Operation(
        "GET", "/v1/events", "getEvents", "The event feed, for whoever cannot receive webhooks",
        {200: json_answer("EventFeed", "Events after the cursor, oldest first"),
         **errors(422), **_REFUSED},
        [*_OPERATOR,
         query_param("after", text("^[0-9]{1,18}$", "the next of an earlier answer (default: "
                                   "from the first event)")),
         query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                               "description": "events per answer (default 100)"}),
         query_param("types", text("^[a-z.,]+$", "comma-separated event types")),
         query_param("creatorId", CREATOR_ID), query_param("buyer", ADDRESS),
         query_param("manifestDigest", HEX32)],
        description="The same events, ids and order as the webhooks; the cursor only moves "
        "forward, so a reader that stores next after acting on a page misses nothing. A "
        "creator or a buyer reads its own events only.",
    ),
]
