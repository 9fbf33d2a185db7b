"""Creator identities over real HTTP (issue 11): squatting a plain name on a public
deployment gets nothing until an operator approves; domain ids are proven by the
domain's well-known document; key-derived ids need nobody; one stolen signing key can
neither take an id over nor brick it; actions cannot be replayed on another deployment;
and `ledger creator` drives it all."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from eth_account import Account

from ledger.chain.anvil import DEV_KEYS, AnvilProcess
from ledger.chain.deploy import deploy_contracts
from ledger.chain.rpc import connect
from ledger.cli.client import LedgerClient
from ledger.cli.main import main
from ledger.core.creators import key_derived_id, sign_action
from ledger.core.signing import SigningKey
from ledger.keyfile import write_key
from ledger.run.serve import running
from tests.integration.chain.conftest import FAST_POLICY
from tests.integration.service.conftest import FAST, Running, manifest, now_ms, p256, register

#: A chain id no dev chain uses: plain names wait for an operator here.
PUBLIC_CHAIN_ID = 4242


@pytest.fixture
async def public(tmp_path: Path) -> AsyncIterator[Running]:
    """The service on an external chain that is not a local dev chain."""
    anvil = AnvilProcess(chain_id=PUBLIC_CHAIN_ID)
    await anvil.start()
    w3 = connect(anvil.rpc_url, timeout=5.0, attempts=1)
    try:
        anchorer = Account.from_key(DEV_KEYS[1]).address
        deployment = await deploy_contracts(
            w3, DEV_KEYS[0], anchorers=[anchorer], meters=[anchorer], policy=FAST_POLICY
        )
        deployment.write(tmp_path / "deployment.json")
        settings = replace(
            FAST, data_dir=tmp_path / "public", rpc_url=anvil.rpc_url,
            deployment_file=tmp_path / "deployment.json", anchorer_key=DEV_KEYS[1],
        )
        async with running(settings) as (service, url), LedgerClient(url) as client:
            yield Running(service, url, client)
    finally:
        await w3.provider.disconnect()
        await anvil.stop()


async def action(
    client: LedgerClient, kind: str, creator_id: str, keys: list[SigningKey],
    signers: list[SigningKey], *, recovery: SigningKey | None = None,
) -> tuple[int, Any]:
    signed = sign_action(
        kind, creator_id, [k.public_id for k in keys], now_ms(), signers,
        deployment=await client.deployment(),
        recovery_key=None if recovery is None else recovery.public_id,
    )
    return await client._request("POST", "/v1/creators", signed, ok=(200, 201, 404, 409, 422))


async def submit(client: LedgerClient, doc: dict[str, Any]) -> tuple[int, Any]:
    return await client._request("POST", "/v1/manifests", doc, ok=(200, 202, 422))


async def test_squatter_gets_a_plain_name_on_a_public_deployment_only_if_approved(
    public: Running,
) -> None:
    squatter, recovery = p256(), p256()
    status, body = await action(public.client, "register", "creator:alice", [squatter],
                                [squatter, recovery], recovery=recovery)
    assert status == 201
    assert body["verification"] == {"method": "operator", "verified": False, "verifiedAt": None,
                                     "detail": "operator: awaiting approval"}
    status, body = await submit(public.client, manifest("creator:alice", squatter, 1))
    assert status == 422, body
    assert body["error"]["field"] == "creator.id"
    assert "not verified" in body["error"]["message"]
    # The operator rejects the claim; the id is free for Alice, and her approval counts.
    data = ["--data-dir", str(public.service.settings.data_dir)]
    assert await asyncio.to_thread(main, ["creator", "reject", "creator:alice", *data]) == 0
    alice, alice_recovery = p256(), p256()
    status, _ = await action(public.client, "register", "creator:alice", [alice],
                             [alice, alice_recovery], recovery=alice_recovery)
    assert status == 201
    assert await asyncio.to_thread(main, ["creator", "approve", "creator:alice", *data]) == 0
    shown = await public.client.creator("creator:alice")
    assert shown["verification"]["verified"] is True
    assert shown["verification"]["detail"].startswith("operator: approved by the operator")
    # The CLI wrote to the database directly: the service sees it within its 2 s cache.
    deadline = time.monotonic() + 10
    while (await submit(public.client, manifest("creator:alice", alice, 2)))[0] != 202:
        assert time.monotonic() < deadline, "the approval never reached intake"
        await asyncio.sleep(0.2)
    assert (await submit(public.client, manifest("creator:alice", squatter, 3)))[0] == 422


async def test_key_derived_id_needs_nobody_and_cannot_be_squatted(public: Running) -> None:
    key, recovery, squatter = p256(), p256(), p256()
    own = key_derived_id(key.public_id)
    status, body = await action(public.client, "register", own, [squatter],
                                [squatter, recovery], recovery=recovery)
    assert status == 422 and body["error"]["field"] == "creatorId"
    status, body = await action(public.client, "register", own, [key], [key, recovery],
                                recovery=recovery)
    assert status == 201 and body["verification"]["method"] == "key"
    assert body["verification"]["verified"] is True
    assert (await submit(public.client, manifest(own, key, 1)))[0] == 202


async def test_action_for_another_deployment_is_refused(svc: Running, public: Running) -> None:
    key, recovery = p256(), p256()
    signed = sign_action("register", "creator:k", [key.public_id], now_ms(), [key, recovery],
                         deployment=await svc.client.deployment(),
                         recovery_key=recovery.public_id)
    assert (await svc.client.creator_action(signed))[0] == 201
    _, body = await public.client._request("POST", "/v1/creators", signed, ok=(422,))
    assert body["error"]["field"] == "deployment"
    assert (await public.client._request("GET", "/v1/creators/creator:k", ok=(404,)))[0] == 404


async def test_stolen_signing_key_can_neither_take_over_nor_brick(svc: Running) -> None:
    owner, recovery, thief = p256(), p256(), p256()
    await register(svc.client, "creator:vic", owner, recovery=recovery)
    client = svc.client
    # The thief holds `owner`: adds its own key and revokes nothing it may not.
    assert (await action(client, "add-key", "creator:vic", [thief], [owner, thief]))[0] == 201
    status, body = await action(client, "revoke-key", "creator:vic", [recovery], [thief])
    assert status == 422 and "recovery key" in body["error"]["message"]
    assert (await action(client, "revoke-key", "creator:vic", [owner], [thief]))[0] == 201
    status, body = await action(client, "revoke-key", "creator:vic", [thief], [thief])
    assert status == 422 and "last signing key" in body["error"]["message"]
    status, body = await action(client, "recover", "creator:vic", [thief], [thief],
                                recovery=thief)
    assert status == 422
    # The recovery key restores: every signing key revoked, a fresh one in place.
    fresh = p256()
    status, body = await action(client, "recover", "creator:vic", [fresh], [recovery, fresh],
                                recovery=recovery)
    assert status == 201, body
    valid = {k["key"]: k["role"] for k in body["keys"] if k["revokedAt"] is None}
    assert valid == {fresh.public_id: "signing", recovery.public_id: "recovery"}
    assert (await submit(client, manifest("creator:vic", thief, 1)))[0] == 422
    assert (await submit(client, manifest("creator:vic", fresh, 2)))[0] == 202
    # The recovery key itself never signs manifests.
    assert (await submit(client, manifest("creator:vic", recovery, 3)))[0] == 422


@pytest.fixture
async def domain_svc(tmp_path: Path) -> AsyncIterator[tuple[Running, dict[str, Any]]]:
    """The embedded service verifying domain ids against a local HTTP server, which
    serves each Host's document from the returned dict."""
    documents: dict[str, Any] = {}

    async def well_known(request: web.Request) -> web.Response:
        host = request.host.split(":")[0]
        if host not in documents:
            return web.Response(status=404)
        return web.json_response(documents[host])

    app = web.Application()
    app.router.add_get("/.well-known/ledger-creator.json", well_known)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    settings = replace(FAST, data_dir=tmp_path / "data", creator_domain_url=base)
    try:
        async with running(settings) as (service, url), LedgerClient(url) as client:
            yield Running(service, url, client), documents
    finally:
        await runner.cleanup()


async def test_domain_id_is_verified_by_its_well_known_document(
    domain_svc: tuple[Running, dict[str, Any]],
) -> None:
    svc, documents = domain_svc
    key, recovery, squatter = p256(), p256(), p256()
    creator = "creator:alice.example"
    status, body = await action(svc.client, "register", creator, [key], [key, recovery],
                                recovery=recovery)
    assert status == 422 and "HTTP 404" in body["error"]["message"]
    documents["alice.example"] = {"creatorId": creator,
                                  "keys": [key.public_id, recovery.public_id]}
    status, body = await action(svc.client, "register", creator, [squatter],
                                [squatter, recovery], recovery=recovery)
    assert status == 422 and squatter.public_id in body["error"]["message"]
    status, body = await action(svc.client, "register", creator, [key], [key, recovery],
                                recovery=recovery)
    assert status == 201, body
    assert body["verification"]["method"] == "domain" and body["verification"]["verified"]
    assert "/.well-known/ledger-creator.json" in body["verification"]["detail"]
    assert (await submit(svc.client, manifest(creator, key, 1)))[0] == 202
    status, body = await action(svc.client, "register", "creator:bad_name.example", [key],
                                [key, recovery], recovery=recovery)
    assert status == 422 and body["error"]["field"] == "creatorId"


async def test_local_chain_approves_plain_names_and_says_so(svc: Running) -> None:
    await register(svc.client, "creator:" + "a" * 128, p256())
    shown = await svc.client.creator("creator:" + "a" * 128)
    assert shown["verification"]["detail"] == "operator (local chain: approved automatically)"
    assert shown["verification"]["verified"] is True


async def test_cli_register_add_revoke_recover_show(
    svc: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    keys = {name: p256() for name in ("one", "two", "rec", "new")}
    for name, key in keys.items():
        write_key(tmp_path / f"{name}.pem", key)
    url = ["--url", svc.url]

    async def ledger(*args: str) -> tuple[int, Any]:
        code = await asyncio.to_thread(main, ["creator", *args, *url])
        captured = capsys.readouterr()
        return code, json.loads(captured.out) if code == 0 else captured.err

    code, body = await ledger("register", "--key", str(tmp_path / "one.pem"),
                        "--recovery-key", str(tmp_path / "rec.pem"))
    creator = key_derived_id(keys["one"].public_id)
    assert code == 0 and body["creatorId"] == creator
    assert (await ledger("add-key", creator, "--key", str(tmp_path / "one.pem"),
                         "--new-key", str(tmp_path / "two.pem")))[0] == 0
    assert (await ledger("revoke-key", creator, "--key", str(tmp_path / "two.pem"),
                         "--revoke", keys["one"].public_id))[0] == 0
    code, err = await ledger("revoke-key", creator, "--key", str(tmp_path / "two.pem"))
    assert code == 2 and "last signing key" in err
    code, body = await ledger("recover", creator, "--recovery-key", str(tmp_path / "rec.pem"),
                        "--new-key", str(tmp_path / "new.pem"))
    assert code == 0
    code, body = await ledger("show", creator)
    valid = {k["key"] for k in body["keys"] if k["revokedAt"] is None}
    assert valid == {keys["new"].public_id, keys["rec"].public_id}
