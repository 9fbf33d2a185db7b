"""The CLI against a running service: verify bundles on chain, receipts, submit and proof."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ledger.cli.main import main
from tests.integration.service.conftest import Running, manifest, p256, register, wait_for_proof

pytestmark = pytest.mark.chain


async def run(*argv: str) -> int:
    """`ledger ARGV` in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, list(argv))


async def test_verify_bundle_on_chain_and_receipt(
    svc: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = p256()
    await register(svc.client, "creator:vera", key)
    _, body = await svc.client.submit(manifest("creator:vera", key, 1))
    bundle_path, receipt_path = tmp_path / "bundle.json", tmp_path / "receipt.json"
    bundle_path.write_text(json.dumps(await wait_for_proof(svc.client, body["manifestDigest"])))
    receipt_path.write_text(json.dumps(body["receipt"]))

    # Pinned from the service's /v1/service answer: chain, registry and receipt key.
    pin = ("--service", svc.url)
    assert await run("verify", str(bundle_path), "--rpc-url", svc.service.rpc_url, *pin) == 0
    out = capsys.readouterr().out
    assert "anchored on chain" in out and f"pinned from {svc.url}/v1/service" in out
    assert await run("verify", str(receipt_path), *pin) == 0
    assert "receipt ok" in capsys.readouterr().out
    # Unpinned, a receipt proves nothing, and the chain check needs a pin.
    assert await run("verify", str(receipt_path)) == 2
    assert await run("verify", str(bundle_path), "--rpc-url", svc.service.rpc_url) == 2
    capsys.readouterr()
    # The key to pin is published; a receipt naming another is refused.
    identity = await svc.client.service()
    assert identity["receiptKey"] == body["receipt"]["serviceKey"]
    assert identity["registry"] == svc.service.deployment.registry.address
    assert await run("verify", str(receipt_path), "--service-key", identity["receiptKey"]) == 0
    capsys.readouterr()
    assert await run("verify", str(receipt_path), "--service-key", p256().public_id) == 2
    assert "Traceback" not in capsys.readouterr().err

    lying = json.loads(bundle_path.read_text())
    lying["anchor"]["blockNumber"] += 1
    bundle_path.write_text(json.dumps(lying))
    assert await run("verify", str(bundle_path), "--rpc-url", svc.service.rpc_url, *pin) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: error:") and "Traceback" not in err


async def test_submit_wait_and_proof(svc: Running, tmp_path: Path) -> None:
    key = p256()
    await register(svc.client, "creator:walt", key)
    files = []
    for n in range(3):
        path = tmp_path / f"m{n}.json"
        path.write_text(json.dumps(manifest("creator:walt", key, n)))
        files.append(str(path))
    assert await run("submit", *files, "--wait", "--url", svc.url) == 0
    batches = await svc.client.batches()
    assert sum(b["leafCount"] for b in batches if b["kind"] == "manifests") == 3
    again = await svc.client.submit(json.loads(Path(files[0]).read_text()))
    digest = again[1]["manifestDigest"]
    out = tmp_path / "bundle.json"
    assert await run("proof", digest, "-o", str(out), "--url", svc.url) == 0
    assert await run("verify", str(out)) == 0
