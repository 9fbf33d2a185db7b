"""Shapes of lifecycle statements and the status of assets (docs/lifecycle.md)."""

from __future__ import annotations

from ledger.api.schemas.assets import REGISTRATION
from ledger.api.schemas.common import (
    ADDRESS,
    ASSET_ID,
    BATCH_STATES,
    BOOLEAN,
    DEPLOYMENT,
    HEX32,
    INTEGER,
    KEY_ID,
    MS,
    STRING,
    Schema,
    array,
    closed,
    nullable,
    ref,
)
from ledger.api.schemas.manifest import manifest_part
from ledger.core.licence_status import STATES
from ledger.core.records import PENDING
from ledger.core.statements import REJECTED, STATEMENT_VERSION, TYPES, UPHELD

_ASSET = manifest_part("asset")["properties"]
_TEXT: Schema = {"type": "string", "minLength": 1, "maxLength": 2000}

STATEMENT = closed(
    {"version": {"const": STATEMENT_VERSION}, "type": {"enum": list(TYPES)},
     "deployment": DEPLOYMENT, "issuedAt": MS, "signer": KEY_ID,
     "target": closed({"manifestDigest": HEX32},
                      {"assetIds": array(ASSET_ID, minItems=1, maxItems=1024)}),
     "signature": STRING},
    {"effectiveAt": MS,
     "terms": closed({}, {"priceModel": manifest_part("priceModel"),
                          "licenses": _ASSET["licenses"], "payees": _ASSET["payees"]}),
     "buyer": ADDRESS, "licences": array(STRING, minItems=1, maxItems=64), "start": MS,
     "end": MS, "irrevocable": BOOLEAN, "reason": _TEXT, "grounds": _TEXT,
     "claimant": _TEXT, "case": HEX32, "answer": _TEXT, "outcome": {"enum": [UPHELD, REJECTED]}},
    description="A signed ledger-statement/1 (docs/lifecycle.md): the members its type "
    "requires, and no other",
)
_STORED = {
    "digest": HEX32, "type": {"enum": list(TYPES)}, "manifestDigest": HEX32,
    "effectiveAt": MS, "acceptedAt": MS, "status": {"enum": [PENDING, *BATCH_STATES]},
    "batchNumber": nullable(INTEGER),
}
STATEMENT_ACCEPTED = closed(
    _STORED, description="A stored statement: effectiveAt is when it changes the status "
    "(a revocation's or amendment's effectiveAt, a grant's start, else issuedAt)")
STATEMENT_RECORD = closed(
    {**_STORED, "statement": ref("LifecycleStatement"),
     "proof": nullable(ref("ProofBundle"))},
    description="The statement as signed, and its proof (its manifestDigest the statement "
    "digest) once anchored",
)
ASSET_STATUS = closed(
    {"manifestDigest": HEX32, "assetId": ASSET_ID, "at": MS,
     "state": {"enum": list(STATES)}, "since": nullable(MS), "until": nullable(MS),
     "buyer": nullable(ADDRESS), "statement": nullable(HEX32), "noticeUntil": nullable(MS),
     "disputed": BOOLEAN, "noticeMs": INTEGER,
     "terms": closed({}, {"priceModel": manifest_part("priceModel"),
                          "licenses": _ASSET["licenses"], "payees": _ASSET["payees"]}),
     "statements": array(closed({"digest": HEX32, "type": {"enum": list(TYPES)},
                                 "issuedAt": MS}))},
    description="One asset's status at `at`, the amended terms in force then (empty: the "
    "manifest's own), and the statements that decide it (docs/lifecycle.md)",
)
HASH_STATUS = closed(
    {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "registered": BOOLEAN,
     "registrations": array({
         **REGISTRATION, "required": [*REGISTRATION["required"], "licenceStatus"],
         "properties": {**REGISTRATION["properties"], "licenceStatus": ref("AssetStatus")}})},
    description="Every registration of these bytes, earliest anchor first, each with "
    "licenceStatus; registered false when nobody registered them",
)
MANIFEST_STATUS = closed(
    {"manifestDigest": HEX32, "assets": array(ref("AssetStatus")), "next": nullable(INTEGER)},
    description="A page of the manifest's assets in index order; next is the `after` of "
    "the following page (null: the last)",
)

SCHEMAS: dict[str, Schema] = {
    "LifecycleStatement": STATEMENT,
    "StatementAccepted": STATEMENT_ACCEPTED,
    "StatementRecord": STATEMENT_RECORD,
    "AssetStatus": ASSET_STATUS,
    "HashStatus": HASH_STATUS,
    "ManifestLicenceStatus": MANIFEST_STATUS,
}
