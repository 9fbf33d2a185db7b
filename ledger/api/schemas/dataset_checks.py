"""Shapes of dataset checks and licence snapshots (docs/lifecycle.md, "The dataset check")."""

from __future__ import annotations

from ledger.api.schemas.common import (
    ADDRESS,
    ASSET_ID,
    BATCH_STATES,
    BOOLEAN,
    CREATOR_ID,
    DEPLOYMENT,
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
from ledger.api.schemas.manifest import manifest_part
from ledger.core.licence_snapshot import MAX_HASHES, SNAPSHOT_VERSION, SNAPSHOT_VERSION_1
from ledger.core.licence_status import STATES
from ledger.core.records import PENDING

_ASSET = manifest_part("asset")["properties"]
_SHA256 = text("^[0-9a-f]{64}$")

CHECK_REQUEST = closed(
    {"hashes": array(text("^(?:sha256:)?[0-9a-f]{64}$"), minItems=1, maxItems=MAX_HASHES)},
    {"at": MS},
    description="The SHA-256 of each file of a dataset, and the time to answer for (now "
    "when left out); a larger dataset is sent in parts",
)
LICENCE_SNAPSHOT = closed(
    {"version": {"enum": [SNAPSHOT_VERSION, SNAPSHOT_VERSION_1]}, "deployment": DEPLOYMENT,
     "checkedAt": MS, "at": MS, "count": {"type": "integer", "minimum": 1,
                                          "maximum": MAX_HASHES},
     "answersRoot": HEX32, "serviceKey": STRING, "signature": STRING},
    {"buyer": nullable(text("^0x[0-9a-f]{40}$", "the wallet that signed the check (version "
                            "2); null for an anonymous check"))},
    description="The service key's signed commitment to a dataset check's answers: "
    "answersRoot is the Merkle root over their digests, in request order",
)
_STATUS = closed(
    {"state": {"enum": list(STATES)}, "since": nullable(MS), "until": nullable(MS),
     "buyer": nullable(ADDRESS), "statement": nullable(HEX32), "noticeUntil": nullable(MS),
     "disputed": BOOLEAN})
_REGISTRATION = closed(
    {"manifestDigest": HEX32, "assetIndex": INTEGER, "assetId": ASSET_ID,
     "creatorId": CREATOR_ID, "anchored": BOOLEAN, "licenses": _ASSET["licenses"],
     "licenceStatus": _STATUS},
    {"priceModel": manifest_part("priceModel"),
     "amendedTerms": closed({}, {"priceModel": manifest_part("priceModel"),
                                 "licenses": _ASSET["licenses"],
                                 "payees": _ASSET["payees"]})},
)
CHECK_ANSWER = closed(
    {"sha256": _SHA256, "registered": BOOLEAN, "registrations": array(_REGISTRATION)},
    description="One hash: every registration (earliest anchor first) with its licence "
    "and status at `at`; registered false, and none, when nobody registered it",
)
CHECK_RESULT = closed(
    {"id": HEX32, "snapshot": ref("LicenceSnapshot"), "answers": array(ref("DatasetAnswer"))},
    description="What the buyer keeps: the answers and the snapshot committing to them; id "
    "is the snapshot's digest, the leaf its batch anchors",
)
STORED_CHECK = closed(
    {"id": HEX32, "snapshot": ref("LicenceSnapshot"),
     "status": {"enum": [PENDING, *BATCH_STATES]}, "proof": nullable(ref("ProofBundle"))},
    description="A stored snapshot and its proof (its manifestDigest the snapshot digest), "
    "anchored once the batch is confirmed",
)

SCHEMAS: dict[str, Schema] = {
    "DatasetCheckRequest": CHECK_REQUEST,
    "LicenceSnapshot": LICENCE_SNAPSHOT,
    "DatasetAnswer": CHECK_ANSWER,
    "DatasetCheck": CHECK_RESULT,
    "StoredDatasetCheck": STORED_CHECK,
}
