"""Operations of lifecycle statements and the status of assets (docs/lifecycle.md)."""

from __future__ import annotations

from ledger.api.openapi.operation import (
    BODY_ERRORS,
    Operation,
    errors,
    json_answer,
    path_param,
    query_param,
)
from ledger.api.schemas.common import HEX32, MS, text
from ledger.core import fields

_DIGEST = path_param("digest", HEX32)
_ASSET = text(f"^(?:0|[1-9][0-9]{{0,7}}|{fields.ASSET_ID.pattern})$",
              "the asset's index, or its id (asset:…)")
_AT = query_param("at", {**MS, "description": "the time asked about, ms since the Unix "
                         "epoch (default: now)"})

OPERATIONS = [
    Operation(
        "POST", "/v1/statements", "postLifecycleStatement",
        "Accept a signed lifecycle statement (revoke, amend, grant-exclusive, "
        "withdraw-consent, takedown, takedown-answer, takedown-decision)",
        {202: json_answer("StatementAccepted", "Stored now; anchored in the next batch"),
         200: json_answer("StatementAccepted", "Stored before (the same digest)"),
         **errors(*BODY_ERRORS, 404, s404="No manifest with target.manifestDigest",
                  s422="A bad member, signature, deployment or issuedAt (more than 10 "
                  "minutes from the service clock), an asset the manifest lacks, a signer "
                  "the type does not allow, or a statement the status rules refuse "
                  "(backdated, short notice, contradicting an accepted one); the field "
                  "names it")},
        request="LifecycleStatement",
        description="Checked whole before anything is stored (docs/lifecycle.md, "
        "\"Intake\"). Signed by a signing key of the manifest's creator valid at issuedAt "
        "(revoke, amend, grant-exclusive, takedown-answer, withdraw-consent), by the "
        "operator's key, GET /v1/service's receiptKey (takedown-decision, "
        "withdraw-consent), or by anyone (takedown).",
    ),
    Operation(
        "GET", "/v1/statements/{digest}", "getLifecycleStatement",
        "A stored statement as signed, with its proof once anchored",
        {200: json_answer("StatementRecord", "The statement; proof null until its batch "
                          "is confirmed"),
         **errors(404, 422, 503)},
        [_DIGEST],
    ),
    Operation(
        "GET", "/v1/manifests/{digest}/assets/{index}/status", "getAssetStatus",
        "One asset's licence status at a time",
        {200: json_answer("AssetStatus", "The status at `at`"),
         **errors(404, 422, 503, s404="No such manifest, or no such asset in it")},
        [_DIGEST, path_param("index", _ASSET), _AT],
    ),
    Operation(
        "GET", "/v1/manifests/{digest}/status", "getManifestStatus",
        "The licence status of a manifest's assets at a time, a page at a time",
        {200: json_answer("ManifestLicenceStatus", "A page of assets in index order"),
         **errors(404, 422, 503)},
        [_DIGEST, _AT,
         query_param("after", {"type": "integer", "minimum": 0, "description":
                               "the first asset index of the page (default 0)"}),
         query_param("limit", {"type": "integer", "minimum": 1, "maximum": 1000,
                               "description": "assets per page (default 100)"})],
    ),
    Operation(
        "GET", "/v1/assets/by-hash/{sha256}/status", "getHashStatus",
        "Every registration of a file's bytes, each with its licence status at a time",
        {200: json_answer("HashStatus", "The registrations (none: registered false)"),
         **errors(422, 503)},
        [path_param("sha256", {"type": "string", "pattern": "^(?:sha256:)?[0-9a-f]{64}$"}),
         _AT],
    ),
]
