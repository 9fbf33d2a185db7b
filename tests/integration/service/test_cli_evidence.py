"""From a file to a verdict through the CLI, on the embedded default (issue 15):
`ledger evidence FILE|DIGEST` fetches the package once its anchors are final, and
`ledger verify evidence.json` checks it against the service's pins, by a node and
header-only from one block hash; a tampered package or a wrong block names its step."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.chain.anvil import json_rpc
from ledger.cli.client import LedgerClient
from ledger.cli.main import main
from ledger.keyfile import generate_key, write_key
from ledger.run.serve import running
from tests.integration.service.conftest import FAST, Running, manifest, p256, register

pytestmark = pytest.mark.chain

LICENCE = "non-exclusive-training"


async def run(*argv: str | Path) -> int:
    """`ledger ARGV` in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, [str(arg) for arg in argv])


async def _service(tmp_path: Path, depth: int) -> AsyncIterator[Running]:
    settings = replace(FAST, data_dir=tmp_path / "data", evidence_depth=depth)
    async with running(settings) as (service, url), LedgerClient(url) as client:
        yield Running(service, url, client)


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Running]:
    """The embedded service issuing evidence two blocks deep."""
    async for found in _service(tmp_path, 2):
        yield found


@pytest.fixture
async def never_final(tmp_path: Path) -> AsyncIterator[Running]:
    """The embedded service waiting for a depth its chain will not reach in a test."""
    async for found in _service(tmp_path, 1_000_000):
        yield found


async def _package(svc: Running, folder: Path, creator: str, key_type: str,
                   version: str) -> Path:
    """Register `creator`, package three photos as `version` and submit them, anchored."""
    key = generate_key(key_type)
    await register(svc.client, creator, key)
    write_key(folder / "key", key)
    photos = folder / "photos"
    photos.mkdir()
    for index in range(3):
        (photos / f"photo-{index}.jpg").write_bytes(b"%s photo %d" % (creator.encode(), index))
    out = folder / "out"
    out.mkdir()
    assert await run("package", photos, "--creator", creator, "--key", folder / "key",
                     "--license", LICENCE, "--payout", "stripe:acct_test",
                     "--manifest-version", version, "-o", out / "manifest.json") == 0
    assert await run("submit", out / "manifest.json", "--url", svc.url, "--wait") == 0
    return out / "manifest.json"


@asynccontextmanager
async def mining(svc: Running) -> AsyncIterator[None]:
    """Mine a block every 0.2 s meanwhile: the test chain mines only on transactions, so
    anchors would never get deep enough for evidence."""

    async def mine() -> None:
        while True:
            await asyncio.to_thread(json_rpc, svc.service.rpc_url, "anvil_mine", ["0x1"])
            await asyncio.sleep(0.2)

    task = asyncio.create_task(mine())
    try:
        yield
    finally:
        task.cancel()


def _block_hash(svc: Running, number: int) -> str:
    return str(json_rpc(svc.service.rpc_url, "eth_getBlockByNumber", [hex(number), False])
               ["hash"])


async def test_a_file_to_a_verdict_by_node_and_header_only(
    svc: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _package(svc, tmp_path, "creator:ana", "p256", "1.0")
    photo = tmp_path / "photos" / "photo-1.jpg"
    package = tmp_path / "evidence.json"
    async with mining(svc):
        assert await run("evidence", photo, "-o", package, "--wait", "60", "--url",
                         svc.url) == 0
    assert f"wrote {package}" in capsys.readouterr().err

    # By a node the verifier chose, with the service's published pins and the file.
    assert await run("verify", package, "--service", svc.url, "--rpc-url",
                     svc.service.rpc_url, "--file", photo) == 0
    lines = capsys.readouterr().out.splitlines()
    statement = next(line for line in lines if "was registered by creator:ana" in line)
    assert statement.startswith(f"{photo} (sha256 ")
    assert f"licence {LICENCE}" in statement and "(no later than that time)." in statement
    assert all(not line.startswith("  ✗") for line in lines)
    assert any(line.startswith("  ✓ block") and f"rpc {svc.service.rpc_url}" in line
               for line in lines)

    # Header-only: one block hash, read here from the node as a resolver would from
    # sources it trusts; the receipt key is pinned too (--service).
    evidence = json.loads(package.read_bytes())
    trusted = _block_hash(svc, evidence["chain"]["blockNumber"])
    assert await run("verify", package, "--service", svc.url, "--block-hash", trusted,
                     "--json") == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["verified"] is True
    assert {s["step"]: s["ok"] for s in verdict["steps"]}["receipt"] is True  # key pinned
    assert verdict["facts"]["creatorId"] == "creator:ana"

    # Another block's hash: the block step fails; a changed licence: the asset step.
    other = _block_hash(svc, evidence["chain"]["blockNumber"] - 1)
    assert await run("verify", package, "--service", svc.url, "--block-hash", other) == 1
    assert capsys.readouterr().out.startswith("NOT verified: block: ")
    evidence["asset"]["licenses"] = ["cc0-1.0"]
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(evidence))
    assert await run("verify", tampered, "--service", svc.url, "--block-hash", trusted) == 1
    assert capsys.readouterr().out.startswith("NOT verified: asset: ")


async def test_a_library_asset_by_digest_for_an_ethereum_creator(
    svc: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = await _package(svc, tmp_path, "creator:eve", "eth", "1.1")
    capsys.readouterr()
    assert await run("digest", header) == 0
    digest = capsys.readouterr().out.strip()
    package = tmp_path / "evidence.json"
    async with mining(svc):
        assert await run("evidence", digest, "--asset", "asset:photo-2.jpg", "--assets",
                         header.parent / "assets.jsonl", "-o", package, "--wait", "60",
                         "--url", svc.url) == 0
    evidence = json.loads(package.read_bytes())
    assert evidence["assetIndex"] == 2 and evidence["assetProof"] is not None
    assert await run("verify", package, "--service", svc.url, "--rpc-url",
                     svc.service.rpc_url, "--file", tmp_path / "photos" / "photo-2.jpg") == 0
    assert "was registered by creator:eve, key eth:0x" in capsys.readouterr().out
    # The same package on stdout is byte for byte the file written.
    assert await run("evidence", digest, "--asset", "2", "--url", svc.url) == 0
    assert capsys.readouterr().out.encode() == package.read_bytes() + b"\n"


async def test_no_evidence_before_final_nor_for_unknown_bytes(
    never_final: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = p256()
    await register(never_final.client, "creator:pat", key)
    _, accepted = await never_final.client.submit(manifest("creator:pat", key, 1))
    out = tmp_path / "evidence.json"
    code = await run("evidence", accepted["manifestDigest"], "--asset", "0", "-o", out,
                     "--url", never_final.url)
    assert (code, out.exists()) == (1, False)
    assert capsys.readouterr().err.startswith("no evidence: ")
    stranger = tmp_path / "stranger.jpg"
    stranger.write_bytes(b"never registered")
    assert await run("evidence", stranger, "--url", never_final.url) == 1
    assert "not registered with this service" in capsys.readouterr().err
