"""The token and introspection endpoints fuzzed over real HTTP by a registered client
(valid credentials, so every request gets past authentication to the checks behind
it): arbitrary form fields, resources, licences, usage values and tokens, mixed with
good ones and with mutations of good ones. Every answer is a success or a JSON
RFC 6749 §5.2 error, never a 5xx, and a token is recorded exactly when one is issued:
nothing is stored for a refusal."""

from __future__ import annotations

import base64
import random
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ledger.app.clock import now_ms
from ledger.storage.models import OlpTokenRow
from tests.unit.api.test_olp_http import Declared, _app
from tests.unit.app.licensing_world import LICENCE, PRICE, LicensingWorld, registration

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
#: RFC 6749 §5.2's codes, RFC 8707's and the OLP extension for payment.
OAUTH_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                "unsupported_grant_type", "invalid_scope", "invalid_target",
                "payment_required"}
RESOURCES = ["https://cdn.example/a0.png", "https://cdn.example/by-hash/" + "1b" * 32,
             "https://cdn.example/a2.png"]
USAGES = ["all", "ai-all", "ai-train", "ai-input", "ai-index", "search"]


class Fuzzed:
    """The service under fuzz, its registered client and a token it issued."""

    def __init__(self, world: LicensingWorld, client: TestClient[Any, Any],
                 auth: dict[str, str], token: str) -> None:
        self.world, self.client, self.auth, self.token = world, client, auth, token
        self.jti = orjson.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"]

    async def tokens(self) -> int:
        async with self.world.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(OlpTokenRow)))
                       .scalar_one())


@pytest.fixture
async def fuzzed(tmp_path: Path) -> AsyncIterator[Fuzzed]:
    world = await LicensingWorld.open(tmp_path)
    # The free asset's consent withdrawn: asking for it is an invalid_grant.
    world.statement("withdraw-consent", now_ms() - 1000, assets=(1,))
    declared = Declared()
    async with TestClient(TestServer(_app(world, declared, world.server))) as client:
        answer = await client.post("/olp/register", json=registration(now_ms()))
        body = await answer.json()
        auth = {"Authorization": "Basic " + base64.b64encode(
            f"{body['client_id']}:{body['client_secret']}".encode()).decode()}
        issued = await client.post("/olp/token", headers=auth, data={
            "grant_type": "rsl", "resource": RESOURCES[0], "license": LICENCE.format("ai-train")})
        yield Fuzzed(world, client, auth, (await issued.json())["access_token"])
    assert declared.problems == []
    await world.engine.dispose()


_text = st.text(max_size=40)
_int64 = st.integers(-(2**63), 2**63 - 1)  # what orjson encodes
_usages = st.lists(st.sampled_from(USAGES) | _text, max_size=3).map(",".join)
_licence = st.one_of(
    _usages.map(LICENCE.format),
    _text,
    st.sampled_from([
        '<!DOCTYPE license [<!ENTITY x "y">]><license xmlns="https://rslstandard.org/rsl"/>',
        '<license xmlns="https://rslstandard.org/rsl"><permits type="usage">&x;</permits>'
        '</license>',
        '<license><permits type="usage">ai-train</permits></license>',
        '<license xmlns="https://rslstandard.org/rsl"><prohibits type="usage">ai-train'
        '</prohibits></license>',
        "<license", LICENCE.format("ai-train") * 2]),
)
_resource = st.sampled_from(RESOURCES) | _text | st.sampled_from(RESOURCES).map(
    lambda url: url + "?x")
_field_names = st.sampled_from(["grant_type", "resource", "license", "scope", "client_id",
                                "client_secret", "token", "audience"]) | _text


@st.composite
def token_forms(draw: st.DrawFn) -> dict[str, str]:
    """A form mostly shaped like a good grant request (each member good four times in
    five: most requests get past the first checks), now and then one missing or with
    other fields beside them. Hypothesis's own choices favour their first and
    smallest values, so how often is left to a random generator it seeds (its own
    `randoms()` are driven by the same choices)."""
    rnd = random.Random(draw(st.integers(0, 2**32)))

    def mostly(good: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> str:
        return draw(good if rnd.random() < 0.8 else odd)

    known = st.lists(st.sampled_from(USAGES), min_size=1, max_size=3, unique=True)
    form = {"grant_type": mostly(st.just("rsl"), st.just("client_credentials") | _text),
            "resource": mostly(st.just(RESOURCES[rnd.choice((0, 0, 0, 1, 2))]), _resource),
            "license": (LICENCE.format(mostly(st.just("ai-train"), known.map(",".join)))
                        if rnd.random() < 0.8 else draw(_licence))}
    if rnd.random() < 0.1:
        form.pop(rnd.choice(sorted(form)))
    if rnd.random() < 0.2:
        form.update(draw(st.dictionaries(_field_names, _text, min_size=1, max_size=3)))
    return form


def _mutated(token: str, where: int, by: str) -> str:
    where %= max(1, len(token))
    return token[:where] + by + token[where + 1:]


def _jwt(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}.{part('sig')}"


@st.composite
def tokens(draw: st.DrawFn, good: str) -> str:
    """A token: the good one, a mutation of it, a made-up JWT or anything at all."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return good
    if kind == 1:
        return _mutated(good, draw(st.integers(0, 10_000)), draw(st.sampled_from("A_-.=x")))
    if kind == 2:
        header = {"alg": draw(st.sampled_from(["ES256", "none", "HS256", "RS256"])),
                  "kid": draw(_text | _int64)}
        return _jwt(header, draw(st.dictionaries(_text, _text | _int64, max_size=3)))
    return draw(_text)


async def _post(fuzzed: Fuzzed, path: str, form: dict[str, str]) -> Any:
    """POST the form urlencoded as is, with the client's Basic credentials unless the
    form carries its own secret (two methods at once is a refusal of its own)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if "client_secret" not in form:
        headers.update(fuzzed.auth)
    return await fuzzed.client.post(path, data=urllib.parse.urlencode(form), headers=headers)


async def _oauth_answer(answer: Any) -> tuple[int, dict[str, Any]]:
    assert answer.status < 500, answer.status
    assert answer.content_type == "application/json"
    body = await answer.json()
    event(f"{answer.status} {body.get('error', body.get('active', ''))}")
    if answer.status != 200:
        assert answer.status in (400, 401), answer.status
        assert set(body) == {"error", "error_description"} and body["error"] in OAUTH_ERRORS
        assert answer.headers["Cache-Control"] == "no-store"
    return answer.status, body


@FUZZ
@given(form=token_forms(), max_price=st.sampled_from([PRICE, PRICE - 1]))
async def test_the_token_endpoint_answers_every_form(fuzzed: Fuzzed, form: dict[str, str],
                                                     max_price: int) -> None:
    # Below the price, the buyer's own limit refuses it: a payment_required.
    fuzzed.world.splitter.max_price = max_price
    before = await fuzzed.tokens()
    status, body = await _oauth_answer(await _post(fuzzed, "/olp/token", form))
    assert await fuzzed.tokens() == before + (status == 200)
    if status == 200:
        assert body["token_type"] == "License" and body["access_token"]


@FUZZ
@given(data=st.data(), extra=st.dictionaries(_field_names, _text, max_size=2))
async def test_introspection_answers_every_token(fuzzed: Fuzzed, data: st.DataObject,
                                                 extra: dict[str, str]) -> None:
    token = data.draw(tokens(fuzzed.token))
    before = await fuzzed.tokens()
    status, body = await _oauth_answer(await _post(fuzzed, "/olp/introspect",
                                                   {**extra, "token": token}))
    assert await fuzzed.tokens() == before
    if status == 200 and token == fuzzed.token:
        assert body["active"] is True
    elif status == 200 and body["active"]:
        # A mutation base64url decodes alike (a last character's unused bits): the
        # same signed token, so the same claims.
        assert body["jti"] == fuzzed.jti
    elif status == 200:
        assert body == {"active": False}
