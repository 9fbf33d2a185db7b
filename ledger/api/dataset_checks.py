"""Handlers of dataset checks: a buyer's training set checked hash by hash, answered
with a signed licence snapshot, and the snapshot fetched later with its proof.

A buyer signs the check with its wallet (`ledger.api.signed_requests`) and the snapshot
names it; an unsigned check is answered too, its snapshot's buyer null: the answers
are public facts, and only the snapshot's claim "made for this buyer" needs the
signature.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from ledger.api.appkeys import CONTEXT
from ledger.api.caching import not_final
from ledger.api.provenance import parse_hex32, read_body
from ledger.api.signed_requests import is_signed, signed_principal
from ledger.core.canonical import parse_strict
from ledger.core.signed_requests import CREATOR_HEADER
from ledger.errors import Forbidden


async def post_dataset_check(request: web.Request) -> web.Response:
    """POST /v1/dataset-checks: ``{"hashes": [...], "at"?: ms}``; 201 with the answers
    and the signed snapshot (its digest is the check's id), naming the buyer that signed
    the request, if one did."""
    body = await read_body(request, "batch")
    buyer = None
    if is_signed(request):
        principal = await signed_principal(request, body)
        if principal.buyer is None:
            raise Forbidden("a dataset check is signed by the buyer's wallet, not for a "
                            "creator", field=CREATOR_HEADER)
        buyer = principal.buyer
    answer = await request.app[CONTEXT].dataset_checks.check(parse_strict(body), buyer=buyer)
    location = f"/v1/dataset-checks/0x{answer.snapshot.digest().hex()}"
    return not_final(web.Response(body=answer.to_json(), status=201,
                                  content_type="application/json",
                                  headers={"Location": location}), private=True)


async def get_dataset_check(request: web.Request) -> web.Response:
    """GET /v1/dataset-checks/{id}: the snapshot, its batch's status and its proof bundle
    (anchored once the batch is confirmed; null while it awaits a batch)."""
    digest = parse_hex32(request.match_info["id"], "id")
    snapshot, status, bundle = await request.app[CONTEXT].dataset_checks.snapshot(digest)
    body = {
        "id": "0x" + digest.hex(),
        "snapshot": snapshot.to_obj(),
        "status": status,
        "proof": None if bundle is None else orjson.Fragment(bundle.to_json()),
    }
    return not_final(web.Response(body=orjson.dumps(body), content_type="application/json"))
