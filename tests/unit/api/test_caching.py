"""Immutable answers: a strong ETag of the body, 304 on a matching If-None-Match."""

from __future__ import annotations

import hashlib

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from ledger.api.caching import IMMUTABLE, immutable, not_final

BODY = b'{"version":"ledger-proof/1"}'
TAG = '"' + hashlib.sha256(BODY).hexdigest() + '"'


def get(if_none_match: str | None = None) -> web.Request:
    headers = {} if if_none_match is None else {"If-None-Match": if_none_match}
    return make_mocked_request("GET", "/v1/manifests/0x00/proof", headers=headers)


def test_a_final_answer_carries_its_tag_and_may_be_kept_for_good() -> None:
    response = immutable(get(), BODY)
    assert response.status == 200 and response.body == BODY
    assert response.headers["ETag"] == TAG
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.content_type == "application/json"


@pytest.mark.parametrize("sent", [TAG, f"W/{TAG}", f'"a", {TAG}', f'"a",{TAG} ', "*"])
def test_a_matching_conditional_get_is_answered_304_without_a_body(sent: str) -> None:
    response = immutable(get(sent), BODY)
    assert response.status == 304 and response.body is None
    assert response.headers["ETag"] == TAG


@pytest.mark.parametrize("sent", ['"stale"', TAG[1:-1], f"{TAG}x", "", "W/"])
def test_another_tag_gets_the_body(sent: str) -> None:
    assert immutable(get(sent), BODY).status == 200


def test_not_final_answers_are_checked_again_and_private_ones_never_shared() -> None:
    assert not_final(web.Response()).headers["Cache-Control"] == "no-cache"
    assert not_final(web.Response(), private=True).headers["Cache-Control"] == \
        "private, no-cache"
