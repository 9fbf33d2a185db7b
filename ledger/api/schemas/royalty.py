"""Shapes of usage intake, usage receipts, buyer views, splits and creator statements."""

from __future__ import annotations

from ledger.api.schemas.common import (
    ADDRESS,
    ASSET_ID,
    BATCH_STATES,
    BOOLEAN,
    CREATOR_ID,
    ERROR_DETAIL,
    EVENT_ID,
    HEX32,
    INTEGER,
    MS,
    SECONDS,
    SIGNATURE65,
    SOURCE,
    STRING,
    TOKEN,
    WEI,
    Schema,
    array,
    closed,
    nullable,
    ref,
    text,
    typed_data,
)
from ledger.core.records import PENDING
from ledger.core.royalty.events import MAX_EVENTS, MAX_UNITS, RECEIPT_VERSION, USAGE_UNITS
from ledger.core.royalty.settlement import ProposalStatus, SettlementStatus

#: RFC 3339 UTC with optional milliseconds, as `ledger.core.royalty.events` reads it.
TIME = text(r"^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
            r"T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{3}))?Z$",
            "RFC 3339 UTC, optional .mmm")

USAGE_EVENT = closed(
    {"eventId": EVENT_ID, "buyer": ADDRESS,
     "asset": closed({"manifestDigest": HEX32, "assetId": ASSET_ID}),
     "units": {"type": "integer", "minimum": 1, "maximum": MAX_UNITS},
     "time": TIME,
     "source": SOURCE},
    {"unit": {"enum": list(USAGE_UNITS)}},
    description="One metered use; see docs/proof-format.md, 'Usage receipts'.",
)
USAGE_BODY: Schema = {"oneOf": [
    ref("UsageEvent"),
    closed({"events": array(ref("UsageEvent"), minItems=1, maxItems=MAX_EVENTS)}),
]}

_HTTP_STATUS: Schema = {"type": "integer", "minimum": 200, "maximum": 599}
USAGE_ACCEPTED = closed({"eventId": EVENT_ID, "eventDigest": HEX32,
                         "httpStatus": {"enum": [200, 202]},
                         "status": {"enum": ["accepted", "duplicate"]}})
_USAGE_RESULT: Schema = {"oneOf": [
    ref("UsageAccepted"), closed({"httpStatus": _HTTP_STATUS, "error": ERROR_DETAIL})]}
_COUNTS = {"accepted": INTEGER, "duplicates": INTEGER, "rejected": INTEGER,
           "results": array(_USAGE_RESULT)}
USAGE_BATCH = closed(_COUNTS, description="Counts and one result per event, in order")
#: The batch form when every event was refused: the first event's error beside the results.
USAGE_BATCH_REFUSED = closed({"error": ERROR_DETAIL, **_COUNTS})

_SETTLEMENT_STATUS: Schema = {"enum": [status.value for status in SettlementStatus]}
_SETTLEMENT = closed({"id": INTEGER, "status": _SETTLEMENT_STATUS, "usageRoot": HEX32,
                      "part": INTEGER, "txHash": nullable(HEX32)})
_USAGE_STATUS = {
    "eventId": EVENT_ID, "eventDigest": HEX32,
    "status": {"enum": [PENDING, *BATCH_STATES, "settling", "settled", "held", "refused"]},
    "batchNumber": nullable(INTEGER), "leafIndex": nullable(INTEGER), "units": INTEGER,
    "settlement": nullable(_SETTLEMENT), "hold": nullable(STRING),
    "refusal": nullable(STRING),
}
USAGE_STATUS = closed(_USAGE_STATUS, description="Where a usage event stands")
USAGE_RECEIPT = closed({"version": {"const": RECEIPT_VERSION}, "event": ref("UsageEvent"),
                        "proof": ref("ProofBundle")})
USAGE_PROOF = closed({**_USAGE_STATUS, "receipt": ref("UsageReceipt")})

ACCOUNT = closed(
    {"deposit": WEI, "spent": WEI, "spendingCap": WEI, "pendingSpendingCap": WEI,
     "pendingSpendingCapFrom": SECONDS, "pendingWithdrawal": WEI, "withdrawableAt": SECONDS,
     "cosigning": BOOLEAN, "cosigningFrom": SECONDS},
    description="The buyer's account in the splitter, read from the chain",
)
_HOLD = closed({"batchNumber": INTEGER, "assetKey": HEX32, "creatorId": CREATOR_ID,
                "units": INTEGER, "reason": STRING})
_UNITS_BY_STATE = {"unitsPending": INTEGER, "unitsUnsettled": INTEGER,
                   "unitsSettling": INTEGER, "unitsSettled": INTEGER, "unitsHeld": INTEGER,
                   "unitsRefused": INTEGER}
BUYER = closed({"buyer": ADDRESS, "tokens": array(closed({
    "token": TOKEN, "account": nullable(ref("BuyerAccount")), "events": INTEGER,
    **_UNITS_BY_STATE, "settling": WEI, "settled": WEI, "held": array(_HOLD)}))})

_UINT = text("^(?:0|[1-9][0-9]*)$", "uint256 as a decimal string")
_SETTLEMENT_MESSAGE = closed({
    "buyer": ADDRESS, "token": ADDRESS, "usageRoot": HEX32,
    "items": array(closed({"assetKey": HEX32, "version": INTEGER, "units": _UINT})),
    "total": _UINT, "deadline": SECONDS})
_PROPOSAL_ITEM = closed({"assetKey": HEX32, "version": INTEGER, "units": INTEGER,
                         "assetId": ASSET_ID, "creatorId": CREATOR_ID, "pricePerUnit": WEI,
                         "amount": WEI})
PROPOSALS = closed({"buyer": ADDRESS, "proposals": array(closed({
    "usageRoot": HEX32, "token": TOKEN, "batchNumber": INTEGER, "part": INTEGER,
    "items": array(_PROPOSAL_ITEM), "units": INTEGER, "events": INTEGER, "total": WEI,
    "deadline": SECONDS, "typedData": typed_data("Settlement", _SETTLEMENT_MESSAGE)}))})

COSIGN = closed({"usageRoot": HEX32, "token": TOKEN, "signature": SIGNATURE65})
COSIGNED = closed({"usageRoot": HEX32, "token": TOKEN, "total": WEI, "deadline": SECONDS,
                   "status": {"enum": [ProposalStatus.SIGNED.value, "already signed",
                                       ProposalStatus.USED.value]}})

_SPLIT_TERMS_MESSAGE = closed({
    "owner": ADDRESS, "assetId": HEX32, "version": INTEGER, "manifestDigest": HEX32,
    "token": ADDRESS, "pricePerUnit": INTEGER, "payees": array(ADDRESS),
    "shares": array(INTEGER), "deadline": SECONDS})
SPLIT_TERMS = closed({"owner": ADDRESS, "assetKey": HEX32, "version": INTEGER,
                      "deadline": SECONDS,
                      "typedData": typed_data("SplitTerms", _SPLIT_TERMS_MESSAGE)})
SPLIT_SIGNATURE = closed({"manifestDigest": HEX32, "assetId": STRING, "version": INTEGER,
                          "deadline": INTEGER, "signature": SIGNATURE65})
SPLIT_KEPT = closed({"assetKey": HEX32, "owner": ADDRESS, "version": INTEGER,
                     "status": {"const": "waiting"}})

_STATEMENT_SETTLEMENT = closed({
    "settlementId": INTEGER, "status": _SETTLEMENT_STATUS,
    "txHash": nullable(HEX32), "usageRoot": HEX32, "version": INTEGER, "units": INTEGER,
    "amount": WEI})
_STATEMENT_USAGE = closed({
    "assetId": ASSET_ID, "assetKey": HEX32, "buyer": ADDRESS, "token": TOKEN,
    "unitsUsed": INTEGER, **_UNITS_BY_STATE, "holdReasons": array(STRING), "settled": WEI,
    "settlements": array(_STATEMENT_SETTLEMENT)})
_PAYEE = closed({"account": ADDRESS, "shareBps": INTEGER, "earned": WEI, "withdrawn": WEI,
                 "withdrawable": WEI})
_STATEMENT_SPLIT = closed(
    {"assetId": ASSET_ID, "assetKey": HEX32, "version": INTEGER, "manifestDigest": HEX32,
     "token": TOKEN, "pricePerUnit": WEI, "settled": WEI},
    {"totalReceived": WEI, "superseded": BOOLEAN, "payees": array(_PAYEE)},
    description="The chain's members are there when the deployment has a splitter",
)
STATEMENT = closed({"creatorId": CREATOR_ID, "generatedAt": MS, "chainId": INTEGER,
                    "splitter": nullable(ADDRESS), "usage": array(_STATEMENT_USAGE),
                    "splits": array(_STATEMENT_SPLIT)})
UNSETTLED = closed(
    {"creatorId": CREATOR_ID, "assetId": ASSET_ID, "assetKey": HEX32, "before": MS,
     "events": INTEGER, "units": INTEGER, "windowEndsAt": MS, "now": MS, "ready": BOOLEAN},
    description="Usage of the asset from before `before` not settled yet (pending, "
    "anchored, held or settling; refused usage is not counted); ready when none is and "
    "windowEndsAt (before + usage_window_s) has passed")

SCHEMAS: dict[str, Schema] = {
    "UsageEvent": USAGE_EVENT,
    "UsageBody": USAGE_BODY,
    "UsageAccepted": USAGE_ACCEPTED,
    "UsageBatch": USAGE_BATCH,
    "UsageBatchRefused": USAGE_BATCH_REFUSED,
    "UsageStatus": USAGE_STATUS,
    "UsageReceipt": USAGE_RECEIPT,
    "UsageProof": USAGE_PROOF,
    "BuyerAccount": ACCOUNT,
    "Buyer": BUYER,
    "Proposals": PROPOSALS,
    "Cosign": COSIGN,
    "Cosigned": COSIGNED,
    "SplitTerms": SPLIT_TERMS,
    "SplitSignature": SPLIT_SIGNATURE,
    "SplitKept": SPLIT_KEPT,
    "Statement": STATEMENT,
    "UnsettledUsage": UNSETTLED,
}
