"""Operations of dataset checks."""

from __future__ import annotations

from ledger.api.openapi.operation import BODY_ERRORS, Operation, errors, json_answer, path_param
from ledger.api.openapi.webhooks import SIGNED_REQUEST
from ledger.api.schemas.common import HEX32

OPERATIONS = [
    Operation(
        "POST", "/v1/dataset-checks", "checkDataset",
        "Check a dataset's files: registration, licence and status of each, signed",
        {201: json_answer("DatasetCheck", "The answers and the signed licence snapshot; "
                          "Location names the stored snapshot"),
         **errors(*BODY_ERRORS, 401, 403,
                  s401="A stale, replayed or badly signed request",
                  s403="Signed for a creator: a check is signed by the buyer's wallet")},
        [*SIGNED_REQUEST], request="DatasetCheckRequest",
        description="Each hash is answered from the stored registrations and the lifecycle "
        "statements alone; a hash nobody registered is answered registered false. The "
        "snapshot is anchored in the next batch (kind licence-snapshots). A buyer signs "
        "the request with its wallet and the snapshot names it (buyer); unsigned, buyer "
        "is null.",
    ),
    Operation(
        "GET", "/v1/dataset-checks/{id}", "getDatasetCheck",
        "A dataset check's snapshot and its proof",
        {200: json_answer("StoredDatasetCheck", "The snapshot; proof null until batched, "
                          "its anchor null until confirmed"),
         **errors(404, 422, 503)},
        [path_param("id", HEX32)],
    ),
]
