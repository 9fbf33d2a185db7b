"""Lifecycle statements end to end on the embedded default (issue 17), over real HTTP and
the CLI: a creator revokes with notice, a stranger opens a takedown the operator decides;
the status routes and ``ledger status FILE`` follow to the millisecond; refused
statements leave nothing; every accepted statement is anchored in a "statements" batch
and served with a proof the registry confirms; the evidence package carries them."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ledger.chain.anvil import json_rpc
from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.cli.client import LedgerClient
from ledger.cli.main import main
from ledger.core.canonical import canonicalize
from ledger.core.events import Filters
from ledger.core.evidence import Evidence
from ledger.core.evidence_check import verify_evidence
from ledger.core.licence_status import DEFAULT_NOTICE_MS
from ledger.core.proof import ProofBundle, verify_bundle
from ledger.core.signing import SigningKey, sign_manifest
from ledger.core.statements import sign_statement
from ledger.core.trust import TrustRoot
from ledger.keyfile import write_key
from ledger.run.compose import Service
from ledger.run.serve import running
from tests.contract import answer_problems
from tests.integration.service.conftest import FAST, now_ms, p256, register, wait_for_proof

pytestmark = [pytest.mark.chain, pytest.mark.slow]

CREATOR = "creator:lifecycle"


@dataclass
class World:
    """The service, a creator with one anchored two-asset manifest, and its files."""

    service: Service
    url: str
    http: aiohttp.ClientSession
    key: SigningKey
    key_file: Path
    operator_file: Path
    files: list[Path]
    digest: str
    deployment: str
    tmp: Path

    async def call(self, method: str, route: str, path: str, body: Any = None
                   ) -> tuple[int, Any]:
        """`method` on `path` (an instance of `route`), the answer checked against the
        OpenAPI document."""
        data = None if body is None else canonicalize(body)
        async with self.http.request(method, self.url + path, data=data) as response:
            raw = await response.read()
            problems = answer_problems(method, route, response.status,
                                       response.content_type, raw)
        assert problems == [], problems
        return response.status, orjson.loads(raw)

    def statement(self, kind: str, key: SigningKey | None = None, *,
                  assets: list[str] | None = None, **members: Any) -> dict[str, Any]:
        target: dict[str, Any] = {"manifestDigest": self.digest}
        if assets is not None:
            target["assetIds"] = assets
        return sign_statement({"type": kind, "deployment": self.deployment,
                               "issuedAt": now_ms(), "target": target, **members},
                              key or self.key)


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = replace(FAST, data_dir=tmp_path / "data")
    async with running(settings) as (service, url), aiohttp.ClientSession() as http:
        key = p256()
        async with LedgerClient(url) as client:
            await register(client, CREATOR, key)
            files = []
            for name in ("a", "b"):
                path = tmp_path / f"{name}.jpg"
                path.write_bytes(f"the bytes of photo {name}".encode())
                files.append(path)
            manifest = sign_manifest({
                "manifestVersion": "1.0",
                "creator": {"id": CREATOR, "wallet": "0x" + "11" * 20},
                "assets": [{"id": f"asset:{p.stem}", "type": "image/jpeg",
                            "hash": "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest(),
                            "licenses": ["training"]} for p in files],
            }, key)
            _, accepted = await client.submit(manifest)
            digest = accepted["manifestDigest"]
            await wait_for_proof(client, digest)
            deployment = await client.deployment()
        key_file = tmp_path / "creator.pem"
        write_key(key_file, key)
        yield World(service, url, http, key, key_file, settings.data_dir / "service-key.pem",
                    files, digest, deployment, tmp_path)


async def anchored(world: World, digest: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        _, found = await world.call("GET", "/v1/statements/{digest}",
                                    f"/v1/statements/{digest}")
        if found["proof"] is not None and found["proof"]["anchor"] is not None:
            return dict(found)
        assert time.monotonic() < deadline, f"statement not anchored: {found}"
        await asyncio.sleep(0.1)


async def asset_status(world: World, asset: str, at: int) -> dict[str, Any]:
    route = "/v1/manifests/{digest}/assets/{index}/status"
    status, found = await world.call("GET", route, f"/v1/manifests/{world.digest}/assets/"
                                     f"{asset}/status?at={at}")
    assert status == 200
    return dict(found)


async def test_a_revocation_runs_its_notice_to_the_millisecond(world: World,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    assert await cli("licence", "revoke", world.digest, "--asset", "asset:a",
                     "--effective-at", "+31d", "--key", str(world.key_file),
                     "--url", world.url, "--json") == 0
    answer = orjson.loads(capsys.readouterr().out)
    effective = answer["effectiveAt"]
    assert answer["type"] == "revoke" and answer["status"] == "pending"

    before = await asset_status(world, "asset:a", effective - 1)
    assert before["state"] == "notice" and before["noticeUntil"] == effective
    assert before["statement"] == answer["digest"]
    assert (await asset_status(world, "0", effective))["state"] == "revoked"
    assert (await asset_status(world, "asset:a", effective + 1))["state"] == "revoked"
    assert (await asset_status(world, "asset:b", effective + 1))["state"] == "licensable"

    # The files: by hash, with every registration's status at a time.
    at = str(effective)
    assert await cli("status", *map(str, world.files), "--at", at, "--url", world.url) == 1
    out = capsys.readouterr().out
    assert "asset:a" in out and "revoked since" in out and "licensable" in out
    assert await cli("status", str(world.files[1]), "--at", at, "--url", world.url) == 0
    assert "asset:b of" in capsys.readouterr().out
    unknown = world.tmp / "unknown.bin"
    unknown.write_bytes(b"nobody registered these bytes")
    assert await cli("status", str(unknown), "--url", world.url, "--json") == 1
    [shown] = orjson.loads(capsys.readouterr().out)
    assert shown["registered"] is False and shown["registrations"] == []

    # The manifest's page, and the statement anchored in a statements batch.
    status, page = await world.call("GET", "/v1/manifests/{digest}/status",
                                    f"/v1/manifests/{world.digest}/status?at={at}&limit=1")
    assert status == 200 and page["next"] == 1 and page["assets"][0]["state"] == "revoked"
    found = await anchored(world, answer["digest"])
    bundle = ProofBundle.from_obj(found["proof"])
    assert bundle.manifest_digest == bytes.fromhex(answer["digest"][2:])
    verify_bundle(bundle)
    assert bundle.anchor is not None
    registry = AnchorRegistry(world.service.w3, world.service.deployment.registry.address,
                              load_artifact("AnchorRegistry"))
    assert (await registry.verify_inclusion(bundle.manifest_digest, bundle.proof,
                                            bundle.root))[0]
    _, batch = await world.call("GET", "/v1/batches/{number}",
                                f"/v1/batches/{bundle.anchor.batch_number}")
    assert batch["kind"] == "statements"


async def test_refused_statements_name_the_member_and_leave_nothing(world: World) -> None:
    route = "/v1/statements"
    short = world.statement("revoke", effectiveAt=now_ms() + DEFAULT_NOTICE_MS - 60_000)
    foreign = world.statement("revoke", assets=["asset:zz"],
                              effectiveAt=now_ms() + DEFAULT_NOTICE_MS + 60_000)
    stranger = world.statement("revoke", p256(), effectiveAt=now_ms() + 2 * DEFAULT_NOTICE_MS)
    unknown = sign_statement({**world.statement("withdraw-consent"),
                              "target": {"manifestDigest": "0x" + "ab" * 32}}, world.key)
    for body, code, field in [(short, 422, "statement"), (foreign, 422, "target.assetIds"),
                              (stranger, 422, "signer"),
                              (unknown, 404, "target.manifestDigest"),
                              ({**short, "extra": 1}, 422, "extra")]:
        status, error = await world.call("POST", route, route, body)
        assert (status, error["error"].get("field")) == (code, field), error
    _, page = await world.call("GET", "/v1/manifests/{digest}/status",
                               f"/v1/manifests/{world.digest}/status")
    assert all(a["statements"] == [] for a in page["assets"])


async def test_a_takedown_is_opened_by_anyone_and_decided_by_the_operator(
        world: World, capsys: pytest.CaptureFixture[str]) -> None:
    claimant = world.tmp / "claimant.pem"
    write_key(claimant, p256())
    assert await cli("takedown", "open", world.digest, "--asset", "asset:b",
                     "--grounds", "that is my face", "--claimant", "Bo <bo@example.org>",
                     "--key", str(claimant), "--url", world.url, "--json") == 0
    case = orjson.loads(capsys.readouterr().out)["digest"]
    opened = await asset_status(world, "asset:b", now_ms())
    assert opened["state"] == "disputed" and opened["disputed"]
    # Only the operator decides: the creator's key is refused, the service key is not.
    assert await cli("takedown", "decide", case, "--outcome", "upheld",
                     "--key", str(world.key_file), "--url", world.url) == 2
    assert "signer" in capsys.readouterr().err
    assert await cli("takedown", "answer", case, "--answer", "I hold a release",
                     "--key", str(world.key_file), "--url", world.url) == 0
    assert await cli("takedown", "decide", case, "--outcome", "upheld", "--reason", "no release",
                     "--key", str(world.operator_file), "--url", world.url) == 0
    assert "accepted: takedown-decision" in capsys.readouterr().out
    decided = await asset_status(world, "asset:b", now_ms())
    assert decided["state"] == "taken-down" and not decided["disputed"]
    assert [s["type"] for s in decided["statements"]] == [
        "takedown", "takedown-answer", "takedown-decision"]
    # Each accepted statement was announced with it (docs/lifecycle.md, "Notifications").
    feed = await world.service.ctx.events.feed(
        None, None, Filters.parse(None, None, None, world.digest))
    announced = [(e["type"], e["data"]["statementType"]) for e in feed["events"]
                 if "statementType" in e["data"]]
    assert announced == [("status.changed", "takedown"), ("takedown.opened", "takedown"),
                         ("status.changed", "takedown-answer"),
                         ("status.changed", "takedown-decision"),
                         ("takedown.decided", "takedown-decision")]
    # A duplicate is the same statement, answered 200.
    _, stored = await world.call("GET", "/v1/statements/{digest}", f"/v1/statements/{case}")
    status, again = await world.call("POST", "/v1/statements", "/v1/statements",
                                     stored["statement"])
    assert status == 200 and again["digest"] == case


async def test_the_evidence_package_carries_the_anchored_statements(world: World) -> None:
    revoke = world.statement("revoke", assets=["asset:a"],
                             effectiveAt=now_ms() + DEFAULT_NOTICE_MS + 60_000)
    status, stored = await world.call("POST", "/v1/statements", "/v1/statements", revoke)
    assert status == 202
    await anchored(world, stored["digest"])
    route = "/v1/manifests/{digest}/assets/{index}/evidence"
    deadline = time.monotonic() + 30.0
    while (answer := await world.call("GET", route, f"/v1/manifests/{world.digest}/assets/0/"
                                      "evidence"))[0] != 200:
        assert time.monotonic() < deadline, answer
        await asyncio.sleep(0.1)
    package = answer[1]
    assert [item["statement"] for item in package["statements"]] == [revoke]
    assert (await world.call("GET", route, f"/v1/manifests/{world.digest}/assets/1/"
                             "evidence"))[1]["statements"] == []
    ctx = world.service.ctx
    trust = TrustRoot.for_registry(ctx.chain.chain_id, ctx.chain.registry, "test",
                                   ctx.service_json()["receiptKey"])
    evidence = Evidence.from_obj(package)
    block = json_rpc(world.service.rpc_url, "eth_getBlockByNumber",
                     [hex(evidence.chain.block_number), False])
    verdict = verify_evidence(evidence, trust, [load_artifact("AnchorRegistry").code_hash()],
                              block_hash=bytes.fromhex(block["hash"][2:]),
                              block_source="the test's anvil")
    assert verdict.ok, verdict.statement
    assert "1 lifecycle statement(s)" in " ".join(str(step.detail) for step in verdict.steps)
