"""Intake receipts are signed once and stored with the manifest: every later answer
serves the stored receipt (byte-identical, no signature computed), and its `anchorBy`
stays the promise made at intake when the operator changes the batch interval or the
anchoring deadline. A row stored before receipts were (revision 0014) gets its
receipt signed on first read, as it was derived then, and kept."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import update

from ledger.core.receipt import Receipt, ReceiptSigner
from ledger.storage.models import ManifestRow
from tests.integration.service.conftest import LIB_CREATOR, LIB_KEY, manifest
from tests.integration.service.libraries import Http, library

pytestmark = pytest.mark.chain


@pytest.fixture
def signatures(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The digests of the receipts this process signs from now on."""
    signed: list[bytes] = []
    sign = ReceiptSigner.sign

    def counted(self: ReceiptSigner, digest: bytes, accepted_at: int, anchor_by: int) -> Receipt:
        signed.append(digest)
        return sign(self, digest, accepted_at, anchor_by)

    monkeypatch.setattr(ReceiptSigner, "sign", counted)
    return signed


def _promise_later(http: Http, seconds: float) -> None:
    """The operator lengthens the anchoring deadline (as a restart with new settings)."""
    ctx = http.service.ctx
    ctx.anchoring = replace(ctx.anchoring,
                            anchor_deadline_s=ctx.anchoring.anchor_deadline_s + seconds)


async def _post(http: Http, doc: dict[str, Any], status: int) -> dict[str, Any]:
    answered, body = await http.call("POST", "/v1/manifests", doc)
    assert answered == status, body
    receipt: dict[str, Any] = body["receipt"]
    Receipt.from_obj(receipt).verify(http.service.ctx.service_json()["receiptKey"])
    return receipt


async def test_a_receipt_is_signed_once_and_keeps_its_promise(
        http_any_db: Http, signatures: list[bytes]) -> None:
    http = http_any_db
    doc = manifest(LIB_CREATOR, LIB_KEY, 1)
    first = await _post(http, doc, 202)
    assert first["anchorBy"] == first["acceptedAt"] + http.service.ctx.anchoring.promise_ms
    signatures.clear()
    _promise_later(http, 3600)
    assert await _post(http, doc, 200) == first
    assert await _post(http, doc, 200) == first
    assert signatures == []


async def test_an_upload_serves_the_receipt_it_was_given(
        http_any_db: Http, signatures: list[bytes]) -> None:
    http = http_any_db
    lib = library(LIB_CREATOR, LIB_KEY, 6, tag="once", chunk_size=4)
    assert (await http.call("POST", "/v1/uploads", lib.start_body()))[0] == 201
    assert (await http.put(lib, 0))[0] == 200
    status, answer = await http.put(lib, 1)
    assert status == 200 and answer["upload"]["status"] == "complete"
    given = answer["upload"]["receipt"]
    signatures.clear()
    _promise_later(http, 3600)
    for _ in range(2):
        status, view = await http.call("GET", f"/v1/uploads/{lib.digest}")
        assert status == 200 and view["receipt"] == given
    assert signatures == []


async def test_a_row_stored_without_a_receipt_gets_one_on_first_read(
        http_any_db: Http, signatures: list[bytes]) -> None:
    http = http_any_db
    doc = manifest(LIB_CREATOR, LIB_KEY, 2)
    given = await _post(http, doc, 202)
    # What revision 0014 finds in a manifest accepted before it.
    async with http.service.engine.begin() as conn:
        await conn.execute(update(ManifestRow).values(
            anchor_by=None, receipt_key=None, receipt_signature=None))
    signatures.clear()
    derived = await _post(http, doc, 200)
    assert derived == given and len(signatures) == 1
    _promise_later(http, 3600)
    assert await _post(http, doc, 200) == given
    assert len(signatures) == 1
