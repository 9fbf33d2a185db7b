"""Operations of usage intake, usage receipts, buyers, splits and creator statements."""

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
from ledger.api.schemas.common import (
    ADDRESS,
    ASSET_ID,
    CREATOR_ID,
    EVENT_ID,
    HEX32,
    MS,
    Schema,
    ref,
)

_HMAC_HEADERS = [
    header("X-Ledger-Source", "the metering source", required=True),
    header("X-Ledger-Timestamp", "Unix seconds, within the replay window", required=True),
    header("X-Ledger-Signature", 'v1= and hex HMAC-SHA256 of "ledger-usage-v1\\n" + source '
           '+ "\\n" + timestamp + "\\n" + body', required=True),
]
#: A read signed with the owner's key (docs/royalties.md, "Who may read what"), or the
#: operator's `Authorization: Bearer <admin_token>`.
_SIGNED_READ = [
    header("X-Ledger-Key", "the signing key's public id (a buyer: eth:<its address>)"),
    header("X-Ledger-Timestamp", "Unix seconds, within usage_window_s"),
    header("X-Ledger-Read-Signature", "signature under tag ledger-read-v1 of "
           '"GET " + raw path and query + "\n" + timestamp'),
    header("Authorization", "Bearer <admin_token>: the operator reads everything"),
]
#: A usage event is read by its source (HMAC over "GET " + raw path and query) or the
#: operator, who names the source.
_SOURCE_READ = [
    header("X-Ledger-Source", "the metering source that reported the event"),
    header("X-Ledger-Timestamp", "Unix seconds, within usage_window_s"),
    header("X-Ledger-Signature", 'v1= and hex HMAC-SHA256 of "ledger-usage-v1\n" + source + '
           '"\n" + timestamp + "\n" + "GET " + raw path and query'),
    header("Authorization", "Bearer <admin_token>: the operator (with ?source=)"),
    query_param("source", {"type": "string",
                           "description": "the operator names the event's source"}),
]
_READ_REFUSED = errors(401, 403)
_EVENT = path_param("event_id", EVENT_ID)
_BUYER = path_param("address", ADDRESS)
#: Usage intake answers a refused batch with the first event's status and error beside
#: every event's result (`UsageBatchRefused`); a single event gets the error body alone.
_USAGE_ERROR: Schema = {"oneOf": [ref("Error"), ref("UsageBatchRefused")]}
_USAGE_STORED: Schema = {"oneOf": [ref("UsageAccepted"), ref("UsageBatch")]}


def _usage_errors() -> dict[int, Answer]:
    refused = {
        403: "An event names another source",
        409: "`conflict`: an event id of this source reused with other content; "
             "`buyer_withdrawing`: the buyer asked for its deposit back, so no new usage "
             "is metered for it",
        422: "Invalid event",
    }
    return {
        **errors(400, 408, 413, 415, 503),
        **errors(401, s401="Unknown source, stale timestamp or forged signature"),
        **{status: json_answer(_USAGE_ERROR, meaning) for status, meaning in refused.items()},
    }


OPERATIONS = [
    Operation(
        "POST", "/v1/usage", "reportUsage",
        'Report usage: one event or {"events": [...]} (up to 10,000)',
        {202: json_answer(_USAGE_STORED, "Stored durably (batch: any stored; each result "
                          "has its own httpStatus)"),
         200: json_answer(_USAGE_STORED, "Already stored: nothing charged again"),
         **_usage_errors()},
        _HMAC_HEADERS,
        request="UsageBody",
    ),
    Operation(
        "GET", "/v1/usage/{event_id}", "getUsage",
        "Where a usage event stands: batch, settlement, hold (for its source or the "
        "operator)",
        {200: json_answer("UsageStatus", "The status"), **_READ_REFUSED,
         **errors(404, 422, 503)},
        [_EVENT, *_SOURCE_READ],
    ),
    Operation(
        "GET", "/v1/usage/{event_id}/proof", "getUsageProof",
        "The usage receipt (event + inclusion proof) once anchored (for its source or the "
        "operator)",
        {200: json_answer("UsageProof", "Status and receipt (ledger-usage-receipt/1)"),
         202: json_answer("UsageStatus", "Not anchored yet: the status"),
         **_READ_REFUSED, **errors(404, 422, 503)},
        [_EVENT, *_SOURCE_READ],
    ),
    Operation(
        "GET", "/v1/buyers/{address}", "getBuyer",
        "A buyer's deposit, spending, limits (chain) and usage (ledger); for the buyer or "
        "the operator",
        {200: json_answer("Buyer", "Per token"), **_READ_REFUSED, **errors(422, 503)},
        [_BUYER, *_SIGNED_READ],
    ),
    Operation(
        "GET", "/v1/buyers/{address}/proposals", "getProposals",
        "Settlements awaiting a co-signing buyer's EIP-712 signature; for the buyer or the "
        "operator",
        {200: json_answer("Proposals", "Open proposals"), **_READ_REFUSED,
         **errors(422, 503)},
        [_BUYER, *_SIGNED_READ],
    ),
    Operation(
        "POST", "/v1/buyers/{address}/cosign", "cosign",
        "Hand in a co-signing buyer's signature of a proposal; the service then sends "
        "settleCosigned",
        {202: json_answer("Cosigned", "Signature kept"),
         200: json_answer("Cosigned", "Already signed or settled: nothing changed"),
         **errors(404, *BODY_ERRORS)},
        [_BUYER],
        request="Cosign",
    ),
    Operation(
        "GET", "/v1/splits/terms", "getSplitTerms",
        "The EIP-712 SplitTerms an asset's split owner signs (next version)",
        {200: json_answer("SplitTerms", "owner, version, deadline, typedData"),
         **errors(404, 422, 503)},
        [query_param("manifestDigest", HEX32, required=True),
         query_param("assetId", ASSET_ID, required=True)],
    ),
    Operation(
        "POST", "/v1/splits", "submitSplit",
        "Hand in a split owner's signature; the service relays setSplitWithSig once the "
        "manifest is anchored",
        {202: json_answer("SplitKept", "Kept, to be relayed"),
         **errors(404, *BODY_ERRORS)},
        request="SplitSignature",
    ),
    Operation(
        "GET", "/v1/manifests/{digest}/assets/{assetId}/unsettled", "getUnsettledUsage",
        "The asset's usage from before a time (an amendment's effectiveAt) not settled yet, "
        "and whether the amendment's split version may be registered now (for the asset's "
        "split owner, a signing key of its creator, or the operator)",
        {200: json_answer("UnsettledUsage", "Counts, the window's end and the verdict"),
         **_READ_REFUSED, **errors(422, 503)},
        [path_param("digest", HEX32), path_param("assetId", ASSET_ID),
         query_param("before", MS, required=True), *_SIGNED_READ],
    ),
    Operation(
        "GET", "/v1/creators/{id}/statement", "getStatement",
        "Per asset and buyer: units, earned, settled (tx hashes), withdrawable, withdrawn; "
        "to the wei (for a signing key of the creator or the operator)",
        {200: Answer("The statement (CSV with ?format=csv)",
                     ref("Statement"), ("text/csv",)),
         **_READ_REFUSED, **errors(422, 503)},
        [path_param("id", CREATOR_ID), query_param("format", {"enum": ["json", "csv"]}),
         *_SIGNED_READ],
    ),
]
