"""The verifier page as `ledger serve` serves it at /verify, on real evidence from the
embedded service (issue 16): a 1.0 manifest of a P-256 creator and a 1.1 library of an
Ethereum creator, with and without the file, header-only and through the RPC node the
user types (the service's anvil). A wrong file is refused; the page asks nothing of
anything but the typed node; screenshots of a verified and a failed verdict, the print
layout and a phone-sized screen are kept in build/test-artefacts/verifier-page/."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.contracts.artifacts import load_artifact
from ledger.core.evidence import Evidence
from ledger.core.signing import sign_manifest
from ledger.core.verdict import STEPS
from ledger.keyfile import generate_key
from tests.browser.page import drive, pin_fields, screenshots
from tests.integration.service.conftest import p256
from tests.integration.service.libraries import library
from tests.integration.service.test_evidence import Svc, creator, issued, svc  # noqa: F401

pytestmark = [pytest.mark.chain, pytest.mark.node, pytest.mark.slow]

PHOTO = b"ana's photo of the harbour at dawn\n"
BEN = b"ben's avatar, pose 4\n"


def ana_manifest(key: Any) -> dict[str, Any]:
    entry = {"type": "image/jpeg", "licenses": ["non-exclusive-training"]}
    return sign_manifest({
        "manifestVersion": "1.0",
        "creator": {"id": "creator:ana", "wallet": "0x" + "11" * 20},
        "assets": [
            {**entry, "id": "asset:other", "hash": "sha256:" + "ab" * 32},
            {**entry, "id": "asset:harbour", "hash": "sha256:" + hashlib.sha256(PHOTO).hexdigest()},
        ],
    }, key)


async def test_the_page_verifies_service_evidence_offline_and_by_rpc(
    svc: Svc, tmp_path: Path,  # noqa: F811
) -> None:
    ana, ben = p256(), generate_key("eth")
    await creator(svc, "creator:ana", ana)
    await creator(svc, "creator:eth-ben", ben)
    status, accepted = await svc.post("/v1/manifests", ana_manifest(ana))
    assert status == 202
    ben_hash = hashlib.sha256(BEN).hexdigest()
    lib = library("creator:eth-ben", ben, 5, tag="ben", chunk_size=2,
                  content=lambda i: ben_hash if i == 4 else None)
    assert (await svc.post("/v1/uploads", lib.start_body()))[0] == 201
    for index in range(lib.chunks):
        async with svc.session.put(f"{svc.url}/v1/uploads/{lib.digest}/chunks/{index}",
                                   data=lib.chunk_body(index)) as response:
            assert response.status == 200
    packages = {"p256-1.0": await issued(svc, accepted["manifestDigest"], 1),
                "eth-1.1": await issued(svc, lib.digest, 4)}

    files = tmp_path / "files"
    files.mkdir()
    (files / "harbour.jpg").write_bytes(PHOTO)
    (files / "ben-4.jpg").write_bytes(BEN)
    for name, package in packages.items():
        (tmp_path / f"{name}.json").write_bytes(package)
    ctx = svc.service.ctx
    chain_id, registry = ctx.chain.chain_id, ctx.chain.registry
    code_hash = "0x" + load_artifact("AnchorRegistry").code_hash().hex()
    service_key = ctx.service_json()["receiptKey"]
    rpc = svc.service.rpc_url

    def block_hash(name: str) -> str:
        number = Evidence.from_json(packages[name]).chain.block_number
        return "0x" + svc.block_hash(number).hex()

    def scenario(name: str, package: str, *, file: str | None, by_rpc: bool,
                 **extra: Any) -> dict[str, Any]:
        fields = pin_fields(chain_id, registry, code_hash, service_key,
                            "" if by_rpc else block_hash(package))
        if by_rpc:
            fields["rpc-urls"] = rpc
        return {"name": name, "evidence": str(tmp_path / f"{package}.json"), "fields": fields,
                "file": str(files / file) if file else None,
                "rpcUrls": [rpc] if by_rpc else [], **extra}

    deployment = tmp_path / "deployment.json"
    deployment.write_text(json.dumps({"version": "ledger-deployment/1", "chainId": chain_id,
                                      "registry": {"address": registry}}))
    from_deployment = scenario("deployment", "p256-1.0", file=None, by_rpc=False,
                               deployment=str(deployment))
    # Chain and registry come from the dropped record; the code hash is the page's own.
    for pin in ("chain-id", "registry", "code-hash"):
        del from_deployment["fields"][pin]
    scenarios = [
        scenario("verified", "eth-1.1", file="ben-4.jpg", by_rpc=True, **screenshots("verified")),
        scenario("p256-header-only", "p256-1.0", file=None, by_rpc=False),
        scenario("p256-file-rpc", "p256-1.0", file="harbour.jpg", by_rpc=True),
        scenario("eth-header-only", "eth-1.1", file=None, by_rpc=False),
        scenario("failed", "p256-1.0", file="ben-4.jpg", by_rpc=False, **screenshots("failed")),
        scenario("phone", "p256-1.0", file="harbour.jpg", by_rpc=False,
                 viewport={"width": 390, "height": 844},
                 screenshot=screenshots("phone")["screenshot"]),
        from_deployment,
    ]
    # In a thread: the service answering the browser runs on this test's event loop.
    driven = await asyncio.to_thread(drive, svc.url + "/verify", scenarios)
    results = {r["name"]: r for r in driven}

    page = svc.url + "/verify"
    for s in scenarios:
        result = results[s["name"]]
        assert set(result["requests"]) <= {page, rpc, rpc + "/"}, result["requests"]
        assert (rpc in result["requests"] or rpc + "/" in result["requests"]) == bool(s["rpcUrls"])
        if s["name"] == "failed":
            continue
        assert result["verified"], (s["name"], result["statement"])
        assert "receipt: The service's intake receipt (passed)" in result["facts"] or all(
            step["state"] == "ok" for step in result["steps"])
        assert result["elapsedMs"] < 30000  # bounded only: bench/verifier_page_bench.py times it

    verified = results["verified"]
    assert verified["statement"].startswith(f"ben-4.jpg (sha256 {ben_hash}) was registered by "
                                            "creator:eth-ben, key eth:")
    assert "licence non-exclusive-training" in verified["statement"]
    assert [s["step"] for s in verified["steps"]] == list(STEPS)
    assert "RPC node(s) that agreed: " + rpc in verified["facts"]
    assert "(your time zone, Europe/Paris)" in verified["facts"]
    assert results["p256-header-only"]["statement"].startswith("asset:harbour (sha256 ")
    assert "the block hash you typed" in results["p256-header-only"]["facts"]

    failed = results["failed"]
    assert (failed["verified"], failed["failedStep"]) == (False, "file")
    assert failed["statement"].startswith(f"NOT verified: file: the file's SHA-256 is {ben_hash}")

    for shot in ("verified", "verified-print", "failed", "failed-print", "phone"):
        path = Path(screenshots("x")["screenshot"]).with_name(f"{shot}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000, shot
