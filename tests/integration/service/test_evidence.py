"""Evidence packages end to end on the embedded default (issue 15): the service issues
one for an asset of a 1.0 and of a 1.1 manifest once its anchors are `evidence_depth`
deep, a stranger verifies it from one block hash and no node, and the answer is
served as an immutable object (strong ETag, 304)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ledger.chain.anvil import json_rpc
from ledger.chain.contracts.artifacts import load_artifact
from ledger.cli.client import LedgerClient
from ledger.cli.main import main
from ledger.core.evidence import Evidence
from ledger.core.evidence_check import verify_evidence
from ledger.core.signing import SigningKey, sign_manifest
from ledger.core.trust import TrustRoot
from ledger.core.verdict import Verdict
from ledger.keyfile import generate_key
from ledger.run.compose import Service
from ledger.run.serve import running
from tests.integration.service.conftest import FAST, manifest, p256, register
from tests.integration.service.libraries import library

pytestmark = pytest.mark.chain

DEPTH = 3
IMMUTABLE = "public, max-age=31536000, immutable"


class Svc:
    """The service under test, called over raw HTTP, and its chain."""

    def __init__(self, service: Service, url: str, session: aiohttp.ClientSession) -> None:
        self.service, self.url, self.session = service, url, session

    async def get(self, path: str, headers: dict[str, str] | None = None
                  ) -> tuple[int, bytes, Any]:
        async with self.session.get(self.url + path, headers=headers or {}) as response:
            return response.status, await response.read(), response.headers

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with self.session.post(self.url + path, data=orjson.dumps(body)) as response:
            return response.status, await response.json()

    def rpc(self, method: str, *params: Any) -> Any:
        return json_rpc(self.service.rpc_url, method, list(params))

    def block_hash(self, number: int) -> bytes:
        return bytes.fromhex(self.rpc("eth_getBlockByNumber", hex(number), False)["hash"][2:])

    def verify(self, package: bytes, block_hash: bytes | None = None) -> Verdict:
        evidence = Evidence.from_json(package)
        ctx = self.service.ctx
        trust = TrustRoot.for_registry(ctx.chain.chain_id, ctx.chain.registry, "test",
                                       ctx.service_json()["receiptKey"])
        if block_hash is None:
            block_hash = self.block_hash(evidence.chain.block_number)
        return verify_evidence(evidence, trust, [load_artifact("AnchorRegistry").code_hash()],
                               block_hash=block_hash, block_source="the test's anvil")

    async def evidence(self, digest: str, index: int) -> tuple[int, bytes, Any]:
        return await self.get(f"/v1/manifests/{digest}/assets/{index}/evidence")


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Svc]:
    """The embedded service issuing evidence `DEPTH` blocks deep (its anvil mines a block
    per transaction and no other: the test mines the depth)."""
    settings = replace(FAST, data_dir=tmp_path / "data", evidence_depth=DEPTH)
    async with running(settings) as (service, url), aiohttp.ClientSession() as session:
        yield Svc(service, url, session)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0
                     ) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def creator(svc: Svc, creator_id: str, key: SigningKey) -> None:
    async with LedgerClient(svc.url) as client:
        await register(client, creator_id, key)


async def issued(svc: Svc, digest: str, index: int) -> bytes:
    """The package once every anchor it needs is in a block: pending until the depth is
    mined (unless blocks mined since made it final already), then issued."""
    async def anchored() -> bool:
        status, body, _ = await svc.evidence(digest, index)
        return status == 200 or "not final" in orjson.loads(body)["reason"]

    await eventually(anchored, "the anchors")
    status, _, headers = await svc.evidence(digest, index)
    if status == 202:
        assert headers["Cache-Control"] == "no-cache" and headers["Retry-After"] == "5"
        svc.rpc("anvil_mine", DEPTH)

    async def final() -> bool:
        return (await svc.evidence(digest, index))[0] == 200

    await eventually(final, "the evidence")
    return (await svc.evidence(digest, index))[1]


def assert_verified(verdict: Verdict) -> None:
    failed = [(s.name, s.detail) for s in verdict.steps if s.ok is False]
    assert verdict.ok and failed == [], (verdict.statement, failed)
    assert {s.name for s in verdict.steps if s.ok} >= {
        "asset", "manifest", "creator", "receipt", "batch", "registry", "anchor", "block"}


async def test_evidence_of_1_0_and_1_1_assets_verifies_from_one_block_hash(svc: Svc) -> None:
    ana, eth = p256(), generate_key("eth")
    await creator(svc, "creator:ana", ana)
    await creator(svc, "creator:eth-ben", eth)
    doc = manifest("creator:ana", ana, 1, assets=3)
    status, accepted = await svc.post("/v1/manifests", doc)
    assert status == 202
    digest_1_0 = accepted["manifestDigest"]
    lib = library("creator:eth-ben", eth, 5, tag="ben", chunk_size=2)
    assert (await svc.post("/v1/uploads", lib.start_body()))[0] == 201
    for index in range(lib.chunks):
        async with svc.session.put(f"{svc.url}/v1/uploads/{lib.digest}/chunks/{index}",
                                   data=lib.chunk_body(index)) as response:
            assert response.status == 200

    status, body, headers = await svc.evidence(digest_1_0, 2)  # nothing anchored yet
    assert status == 202 and headers["Cache-Control"] == "no-cache"
    assert orjson.loads(body)["status"] == "pending"
    package_1_0 = await issued(svc, digest_1_0, 2)
    package_1_1 = await issued(svc, lib.digest, 4)

    evidence = Evidence.from_json(package_1_0)
    assert evidence.asset == doc["assets"][2] and evidence.asset_proof is None
    assert evidence.manifest == doc
    assert_verified(svc.verify(package_1_0))
    evidence = Evidence.from_json(package_1_1)
    assert evidence.asset == orjson.loads(lib.entries[4]) and evidence.asset_proof
    assert [r["action"] for r, _ in evidence.creator_records] == ["register"]
    assert_verified(svc.verify(package_1_1))
    # The verdict rests on the block hash: another one fails the block step.
    verdict = svc.verify(package_1_1, block_hash=bytes(32))
    assert not verdict.ok and [s.name for s in verdict.steps if s.ok is False] == ["block"]


async def test_final_answers_are_immutable_and_conditional(svc: Svc) -> None:
    key = p256()
    await creator(svc, "creator:ana", key)
    status, accepted = await svc.post("/v1/manifests", manifest("creator:ana", key, 7))
    digest = accepted["manifestDigest"]
    package = await issued(svc, digest, 0)
    status, body, headers = await svc.evidence(digest, 0)
    tag = '"' + hashlib.sha256(body).hexdigest() + '"'
    assert (status, body) == (200, package)
    assert headers["ETag"] == tag and headers["Cache-Control"] == IMMUTABLE
    for sent in (tag, f'"other", {tag}', f"W/{tag}", "*"):
        status, body, headers = await svc.get(
            f"/v1/manifests/{digest}/assets/0/evidence", {"If-None-Match": sent})
        assert (status, body, headers["ETag"]) == (304, b"", tag), sent
    status, _, headers = await svc.get(f"/v1/manifests/{digest}/assets/0/evidence",
                                       {"If-None-Match": '"stale"'})
    assert status == 200 and headers["Cache-Control"] == IMMUTABLE
    # The manifest's proof is final too, so immutable as well.
    status, body, headers = await svc.get(f"/v1/manifests/{digest}/proof")
    assert status == 200 and headers["Cache-Control"] == IMMUTABLE
    assert headers["ETag"] == '"' + hashlib.sha256(body).hexdigest() + '"'
    status, _, _ = await svc.get(f"/v1/manifests/{digest}/proof",
                                 {"If-None-Match": headers["ETag"]})
    assert status == 304


async def test_a_proof_not_final_yet_is_not_cached(svc: Svc) -> None:
    key = p256()
    await creator(svc, "creator:ana", key)
    _, accepted = await svc.post("/v1/manifests", manifest("creator:ana", key, 8))
    digest = accepted["manifestDigest"]

    async def proved() -> bool:
        return (await svc.get(f"/v1/manifests/{digest}/proof"))[0] == 200

    await eventually(proved, "the proof")
    status, _, headers = await svc.get(f"/v1/manifests/{digest}/proof")
    assert status == 200 and headers["Cache-Control"] == "no-cache" and "ETag" not in headers


@pytest.mark.parametrize(("path", "status", "field"), [
    ("/v1/manifests/0x" + "00" * 32 + "/assets/0/evidence", 404, None),
    ("/v1/manifests/0x12/assets/0/evidence", 422, "digest"),
    ("/v1/manifests/0x" + "00" * 32 + "/assets/-1/evidence", 422, "index"),
    ("/v1/manifests/0x" + "00" * 32 + "/assets/007/evidence", 422, "index"),
])
async def test_bad_requests_name_the_field(svc: Svc, path: str, status: int,
                                           field: str | None) -> None:
    got, body, _ = await svc.get(path)
    assert got == status
    assert orjson.loads(body)["error"].get("field") == field


async def test_an_asset_the_manifest_does_not_hold_is_not_found(svc: Svc) -> None:
    key = p256()
    await creator(svc, "creator:ana", key)
    _, accepted = await svc.post("/v1/manifests", manifest("creator:ana", key, 9, assets=2))
    status, body, _ = await svc.evidence(accepted["manifestDigest"], 2)
    assert status == 404 and "no asset 2" in orjson.loads(body)["error"]["message"]


async def records_anchored(svc: Svc, creator_id: str) -> None:
    async def anchored() -> bool:
        _, body, _ = await svc.get(f"/v1/creators/{creator_id}/records")
        found = orjson.loads(body)["records"]
        return bool(found) and all(r["proof"] and r["proof"].get("anchor") for r in found)

    await eventually(anchored, f"the records of {creator_id}")


@pytest.mark.slow
async def test_after_a_reorg_the_old_package_fails_and_a_new_one_is_issued(svc: Svc) -> None:
    key = p256()
    await creator(svc, "creator:ana", key)
    await records_anchored(svc, "creator:ana")
    snapshot = svc.rpc("evm_snapshot")  # before the manifest's anchor
    _, accepted = await svc.post("/v1/manifests", manifest("creator:ana", key, 11))
    digest = accepted["manifestDigest"]
    old = Evidence.from_json(await issued(svc, digest, 0))
    old_block = old.chain.block_number
    old_time = svc.rpc("eth_getBlockByNumber", hex(old_block), False)["timestamp"]

    # The other branch: back to before the anchor; its blocks have other times, so
    # other hashes, whether or not the service has sent the anchor again meanwhile.
    svc.rpc("evm_setAutomine", False)
    svc.rpc("evm_revert", snapshot)
    svc.rpc("evm_setNextBlockTimestamp", int(old_time, 16) + 100)
    svc.rpc("anvil_mine", 2)
    svc.rpc("evm_setAutomine", True)

    async def reissued() -> bool:
        status, body, _ = await svc.evidence(digest, 0)
        if status == 200 and Evidence.from_json(body).chain.block_header != old.chain.block_header:
            return True
        svc.rpc("anvil_mine", 1)  # the depth of the new anchor, once it is in a block
        return False

    await eventually(reissued, "a package on the new branch")
    new = (await svc.evidence(digest, 0))[1]
    assert_verified(svc.verify(new))
    # The old package names a block the canonical chain no longer has.
    verdict = svc.verify(old.to_json(), block_hash=svc.block_hash(old_block))
    assert not verdict.ok and [s.name for s in verdict.steps if s.ok is False] == ["block"]


async def test_export_writes_every_final_file_once(svc: Svc, tmp_path: Path) -> None:
    ana, ben = p256(), p256()
    await creator(svc, "creator:ana", ana)
    await creator(svc, "creator:ben", ben)
    shared = "5a" * 32
    doc = manifest("creator:ana", ana, 21, assets=2)
    doc["assets"][1]["hash"] = "sha256:" + shared
    doc = sign_manifest({k: v for k, v in doc.items() if k != "signature"}, ana)
    _, accepted = await svc.post("/v1/manifests", doc)
    first = accepted["manifestDigest"]
    _, accepted = await svc.post("/v1/manifests", manifest("creator:ben", ben, 22))
    second = accepted["manifestDigest"]
    packages = {(first, 0): await issued(svc, first, 0), (first, 1): await issued(svc, first, 1),
                (second, 0): await issued(svc, second, 0)}
    # Not final: left out, and counted as such.
    _, accepted = await svc.post("/v1/manifests", manifest("creator:ana", ana, 23))
    late = accepted["manifestDigest"]

    async def late_anchored() -> bool:
        return (await svc.get(f"/v1/manifests/{late}/proof"))[0] == 200

    await eventually(late_anchored, "the late manifest's anchor")
    site = tmp_path / "site"
    # Not the service's batch settings: packages carry the receipts stored at intake,
    # whatever anchorBy the exporter's settings would promise now.
    config = tmp_path / "ledger.toml"
    config.write_text(f"evidence_depth = {DEPTH}\n")
    argv = ["export", "proofs", str(site), "--config", str(config),
            "--data-dir", str(svc.service.settings.data_dir)]
    assert await asyncio.to_thread(main, argv) == 0

    for (digest, index), package in packages.items():
        folder = site / "manifests" / digest[2:]
        assert (folder / "assets" / str(index) / "evidence.json").read_bytes() == package
        proof = (await svc.get(f"/v1/manifests/{digest}/proof"))[1]
        assert (folder / "proof.json").read_bytes() == proof
    assert not (site / "manifests" / late[2:]).exists()
    index = orjson.loads((site / "by-hash" / f"{shared}.json").read_bytes())
    assert index == {"sha256": shared, "registrations": [
        {"manifestDigest": first, "assetIndex": 1,
         "evidence": f"manifests/{first[2:]}/assets/1/evidence.json"}]}
    assert "immutable" in (site / "_headers").read_text()
    before = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}

    assert await asyncio.to_thread(main, argv) == 0  # again: nothing new to write
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()} == before
