"""The OLP licence server: registration bound to a wallet, the ``rsl`` grant and each of
its refusals, introspection, and key rotation with a retired key's grace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import text

from ledger.app.clock import now_ms
from ledger.app.licence_server import usage_event_prefix
from ledger.app.oauth_errors import (
    InvalidClient,
    InvalidClientMetadata,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    PaymentRequired,
    UnsupportedGrantType,
)
from ledger.core.canonical import canonicalize
from ledger.storage.licence_server import OlpClient
from tests.unit.app.licensing_world import (
    BASE,
    BUYER,
    LICENCE,
    OTHER_BUYER,
    PRICE,
    SERVER,
    LicensingWorld,
    registration,
)

A0 = "https://cdn.example/a0.png"
A1 = "https://cdn.example/by-hash/" + "1b" * 32
A2 = "https://cdn.example/a2.png"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[LicensingWorld]:
    made = await LicensingWorld.open(tmp_path)
    yield made
    await made.engine.dispose()


async def _register(world: LicensingWorld, body: dict[str, Any]) -> dict[str, Any]:
    return await world.server.register(canonicalize(body))


async def _client(world: LicensingWorld, **kw: Any) -> tuple[OlpClient, str]:
    answer = await _register(world, registration(now_ms(), **kw))
    client = await world.server.authenticate(answer["client_id"], answer["client_secret"])
    return client, answer["client_secret"]


def _form(resource: str = A0, usage: str = "ai-train", **kw: str) -> dict[str, str]:
    return {"grant_type": "rsl", "resource": resource, "license": LICENCE.format(usage), **kw}


async def test_a_registration_binds_the_client_to_the_signing_wallet(
        world: LicensingWorld) -> None:
    answer = await _register(world, registration(now_ms()))
    assert answer["buyer"] == BUYER and answer["grant_types"] == ["rsl"]
    client = await world.server.authenticate(answer["client_id"], answer["client_secret"])
    assert client.wallet == BUYER


async def test_a_registration_signed_by_another_wallet_is_refused(
        world: LicensingWorld) -> None:
    body = registration(now_ms())
    body["wallet"] = OTHER_BUYER
    with pytest.raises(InvalidClientMetadata) as caught:
        await _register(world, body)
    assert caught.value.message.startswith("signature: ")


async def test_a_stale_registration_is_refused(world: LicensingWorld) -> None:
    with pytest.raises(InvalidClientMetadata) as caught:
        await _register(world, registration(now_ms() - 600_000))
    assert caught.value.message == "issuedAt: must be within 5 minutes of now"


@pytest.mark.parametrize(("body", "at_fault"), [(b"{", "body"), (b"[]", "body"),
                                               (b'{"name": 1, "name": 2}', "name")])
async def test_a_body_that_is_no_strict_json_object_is_bad_client_metadata(
        world: LicensingWorld, body: bytes, at_fault: str) -> None:
    with pytest.raises(InvalidClientMetadata) as caught:
        await world.server.register(body)
    assert caught.value.message.startswith(at_fault + ": ")
    assert await _clients(world) == 0


async def _clients(world: LicensingWorld) -> int:
    async with world.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM olp_clients"))).scalar_one())


@pytest.mark.parametrize("server", ["https://evil.example/olp", "https://ledger.example",
                                    "https://ledger.example/olp/register", 7, "",
                                    "https://evil.example/olp?https://ledger.example/olp"])
async def test_a_registration_relayed_from_a_hostile_licence_server_is_refused(
        world: LicensingWorld, server: Any) -> None:
    """The relay attack: a hostile site's RSL document names its own licence server; the
    crawler signs a registration for it there; that server passes the body on to ours
    within the window, to get credentials bound to the buyer's wallet."""
    with pytest.raises(InvalidClientMetadata) as caught:
        await _register(world, registration(now_ms(), server=server))
    assert caught.value.message.startswith("server: names another licence server; this "
                                           f"one is {BASE}/olp")
    assert await _clients(world) == 0


async def test_the_retired_registration_naming_no_server_is_refused(
        world: LicensingWorld) -> None:
    # Version 1 (tag olp-register, no server): the body relayed in the attack above, as
    # crawlers sent it before the audience was signed.
    with pytest.raises(InvalidClientMetadata) as caught:
        await _register(world, registration(now_ms(), server=None, tag="olp-register"))
    assert caught.value.message.startswith("server: missing. Sign the licence server's URL")
    assert "olp-register-v2" in caught.value.message
    assert await _clients(world) == 0


@pytest.mark.parametrize("server", [SERVER + "/", "HTTPS://Ledger.EXAMPLE/olp", SERVER + "//"])
async def test_the_server_is_compared_after_normalisation(world: LicensingWorld,
                                                          server: str) -> None:
    answer = await _register(world, registration(now_ms(), server=server))
    assert answer["buyer"] == BUYER
    assert await _clients(world) == 1


async def test_a_server_changed_after_signing_fails_the_signature(
        world: LicensingWorld) -> None:
    # The server is signed: swapping ours in for the one signed breaks the signature.
    body = {**registration(now_ms(), server="https://evil.example/olp"), "server": SERVER}
    with pytest.raises(InvalidClientMetadata) as caught:
        await _register(world, body)
    assert caught.value.message.startswith("signature: ")
    assert await _clients(world) == 0


async def test_a_path_case_change_is_another_server(world: LicensingWorld) -> None:
    with pytest.raises(InvalidClientMetadata):
        await _register(world, registration(now_ms(), server=BASE + "/OLP"))


async def test_a_wrong_secret_or_unknown_client_is_invalid_client(
        world: LicensingWorld) -> None:
    client, secret = await _client(world)
    for client_id, given in ((client.client_id, secret + "x"), ("olp-nobody", secret),
                             (client.client_id, None), (None, secret)):
        with pytest.raises(InvalidClient):
            await world.server.authenticate(client_id, given)


async def test_a_token_carries_the_contract_claims_and_is_recorded(
        world: LicensingWorld) -> None:
    client, _ = await _client(world)
    answer = await world.server.issue(client, _form())
    assert answer["token_type"] == "License" and answer["expires_in"] == 300
    assert answer["scope"] == "ai-train"
    jwks = await world.keys.jwks(now_ms())
    token = jwt.decode(answer["access_token"], ECKey.import_key(jwks["keys"][0]),
                       algorithms=["ES256"])
    claims = token.claims
    assert token.header["alg"] == "ES256" and token.header["kid"] == jwks["keys"][0]["kid"]
    assert claims["iss"] == BASE and claims["aud"] == A0 and claims["sub"] == client.client_id
    assert claims["buyer"] == BUYER and claims["lic"] == "non-exclusive-training"
    assert claims["asset"] == "sha256:" + "0a" * 32
    assert claims["ledger_asset"] == {"manifestDigest": world.manifest.digest_hex(),
                                      "assetId": "asset:a-0"}
    assert claims["exp"] - claims["iat"] == 300 and claims["nbf"] == claims["iat"]
    listed = (await world.server.tokens(client))["tokens"]
    assert [t["jti"] for t in listed] == [claims["jti"]]
    assert listed[0]["usageEventPrefix"] == usage_event_prefix(claims["jti"])


async def test_a_free_asset_needs_no_deposit(world: LicensingWorld) -> None:
    client, _ = await _client(world)
    world.splitter.fund(BUYER, 0)
    answer = await world.server.issue(client, _form(A1, "ai-input"))
    assert answer["scope"] == "ai-input"


@pytest.mark.parametrize(("form", "error"), [
    ({"grant_type": "client_credentials"}, UnsupportedGrantType),
    ({"grant_type": "password", "resource": A0}, UnsupportedGrantType),
    ({"grant_type": "rsl", "resource": A0}, InvalidRequest),
    ({"grant_type": "rsl", "license": LICENCE.format("ai-train")}, InvalidRequest),
    (_form(usage="ai-dance"), InvalidRequest),
    (_form(license="<license><permits type='usage'>ai-train</permits></license>"),
     InvalidRequest),
    (_form(license='<!DOCTYPE l [<!ENTITY a "aaaa">]><license '
           'xmlns="https://rslstandard.org/rsl"><permits type="usage">&a;</permits>'
           '</license>'), InvalidRequest),
    (_form(license="<license"), InvalidRequest),
    (_form("https://cdn.example/unknown.png"), InvalidTarget),
    (_form(A2), InvalidTarget),  # its licence maps to no RSL usage: not offered
    (_form(usage="ai-all"), InvalidScope),
    (_form(usage="search"), InvalidScope),
])
async def test_malformed_or_unmatched_requests_are_refused(
        world: LicensingWorld, form: dict[str, str], error: type[Exception]) -> None:
    client, _ = await _client(world)
    with pytest.raises(error):
        await world.server.issue(client, form)
    assert (await world.server.tokens(client))["tokens"] == []


async def test_a_revoked_asset_gets_no_token_from_its_effective_time(
        world: LicensingWorld) -> None:
    client, _ = await _client(world)
    now = now_ms()
    world.statement("revoke", now - 120_000, effectiveAt=now - 1)
    with pytest.raises(InvalidGrant, match="revoked"):
        await world.server.issue(client, _form())


async def test_another_buyers_exclusivity_refuses_only_the_others(
        world: LicensingWorld) -> None:
    client, _ = await _client(world)
    now = now_ms()
    world.statement("grant-exclusive", now - 10, buyer=OTHER_BUYER, licences=["train"],
                    start=now - 5, end=now + 60_000, irrevocable=False)
    with pytest.raises(InvalidGrant, match="exclusively"):
        await world.server.issue(client, _form())
    world.splitter.fund(OTHER_BUYER, PRICE)
    other, _ = await _client(world, key="0x" + "b2" * 32)
    assert (await world.server.issue(other, _form()))["token_type"] == "License"


@pytest.mark.parametrize(("deposit", "cap", "spent"), [
    (0, 2**128 - 1, 0), (PRICE - 1, 2**128 - 1, 0), (10 * PRICE, PRICE - 1, 0),
    (10 * PRICE, 5 * PRICE, 4 * PRICE + 1)])
async def test_no_deposit_or_cap_for_one_use_is_payment_required(
        world: LicensingWorld, deposit: int, cap: int, spent: int) -> None:
    client, _ = await _client(world)
    world.splitter.fund(BUYER, deposit, cap=cap, spent=spent)
    with pytest.raises(PaymentRequired):
        await world.server.issue(client, _form())


async def test_a_max_price_below_the_price_is_payment_required(world: LicensingWorld) -> None:
    client, _ = await _client(world)
    world.splitter.max_price = PRICE - 1
    with pytest.raises(PaymentRequired, match="maximum price"):
        await world.server.issue(client, _form())


async def test_introspection_answers_active_for_a_live_token_only(
        world: LicensingWorld) -> None:
    client, _ = await _client(world)
    token = (await world.server.issue(client, _form()))["access_token"]
    active = await world.server.introspect(token)
    assert active["active"] is True and active["client_id"] == client.client_id
    assert active["scope"] == "ai-train" and active["aud"] == A0
    head, body, sig = token.split(".")
    forged = ".".join((head, body, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")))
    for bad in (forged, "not-a-token", token + "x", ""):
        assert await world.server.introspect(bad) == {"active": False}


async def test_a_token_past_its_lifetime_is_inactive(tmp_path: Path) -> None:
    world = await LicensingWorld.open(tmp_path, lifetime_s=1)
    try:
        client, _ = await _client(world)
        token = (await world.server.issue(client, _form()))["access_token"]
        record = (await world.server.tokens(client))["tokens"][0]
        # Expire it in the record (no sleeping): introspection trusts the record's end.
        async with world.engine.begin() as conn:
            from sqlalchemy import update

            from ledger.storage.models import OlpTokenRow
            await conn.execute(update(OlpTokenRow).where(OlpTokenRow.jti == record["jti"])
                               .values(expires_at=now_ms() - 1))
        assert await world.server.introspect(token) == {"active": False}
    finally:
        await world.engine.dispose()


async def test_a_retired_key_verifies_through_its_grace_then_is_gone(
        world: LicensingWorld) -> None:
    client, _ = await _client(world)
    token = (await world.server.issue(client, _form()))["access_token"]
    old_kid = jwt.decode(token, await world.keys.verification_keys(now_ms())).header["kid"]
    now = now_ms()
    new_kid = await world.keys.rotate(now)
    kids = {k["kid"] for k in (await world.keys.jwks(now))["keys"]}
    assert kids == {old_kid, new_kid}
    assert (await world.server.introspect(token))["active"] is True
    # Past the grace the old key is dropped at the next rotation and absent from JWKS.
    later = now + world.keys.grace_ms() + 1
    await world.keys.rotate(later)
    assert old_kid not in {k["kid"] for k in (await world.keys.jwks(later))["keys"]}
    assert await world.server.introspect(token) == {"active": False}
    fresh = (await world.server.issue(client, _form()))["access_token"]
    assert (await world.server.introspect(fresh))["active"] is True


async def test_concurrent_tokens_share_commits_and_all_are_recorded(
        world: LicensingWorld) -> None:
    import asyncio

    client, _ = await _client(world)
    world.server.start()
    try:
        answers = await asyncio.gather(*(world.server.issue(client, _form())
                                         for _ in range(20)))
    finally:
        await world.server.close()
    listed = (await world.server.tokens(client))["tokens"]
    assert len(listed) == 20 == len({a["access_token"] for a in answers})
    # Closed: a later token is recorded directly.
    await world.server.issue(client, _form())
    assert len((await world.server.tokens(client))["tokens"]) == 21


async def test_alg_none_and_unrecorded_tokens_are_inactive(world: LicensingWorld) -> None:
    import base64
    import json

    client, _ = await _client(world)
    token = (await world.server.issue(client, _form()))["access_token"]
    claims = jwt.decode(token, await world.keys.verification_keys(now_ms())).claims

    def b64(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    kid = jwt.decode(token, await world.keys.verification_keys(now_ms())).header["kid"]
    unsigned = f"{b64({'alg': 'none', 'kid': kid, 'typ': 'JWT'})}.{b64(claims)}."
    assert await world.server.introspect(unsigned) == {"active": False}
    # Our key's signature over claims this server never issued (no record): inactive.
    key = await world.keys.signing_key(now_ms())
    minted = jwt.encode({"alg": "ES256", "kid": kid}, {**claims, "jti": "f" * 32}, key)
    assert await world.server.introspect(minted) == {"active": False}
    other_issuer = jwt.encode({"alg": "ES256", "kid": kid}, {**claims, "iss": "https://x"},
                              key)
    assert await world.server.introspect(other_issuer) == {"active": False}
