"""Issue 12, a newcomer following the README on the embedded default: anchors reach the
default confirmations, `ledger submit --wait` reports its progress and a chain that makes
no blocks, and usage can be sent with the metering key the embedded default makes."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ledger.cli.client import LedgerClient, send_usage
from ledger.cli.main import main
from ledger.cli.wait import ProofWaiter
from ledger.core.signing import sign_manifest
from ledger.errors import LedgerError
from ledger.run.serve import running
from ledger.workers.tasks import stop_tasks
from tests.integration.service.conftest import (
    FAST,
    Running,
    manifest,
    p256,
    register,
    wait_for_proof,
)

pytestmark = pytest.mark.chain

BUYER = "0x" + "b0" * 20


async def run(*argv: str) -> int:
    """`ledger ARGV` in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
async def deep(tmp_path: Path) -> AsyncIterator[Running]:
    """The embedded service with the default depth: 2 confirmations."""
    settings = replace(FAST, data_dir=tmp_path / "data", confirmations=2)
    async with running(settings) as (service, url), LedgerClient(url) as client:
        yield Running(service, url, client)


async def test_default_confirmations_finish_and_submit_wait_reports_progress(
    deep: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: anvil mined only on transactions, the last anchor stayed 1 deep, and
    `ledger submit --wait` printed nothing for 600 s, then failed."""
    key = p256()
    await register(deep.client, "creator:nina", key)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest("creator:nina", key, 1)))
    assert await run("submit", str(path), "--wait", "--timeout", "120", "--url", deep.url) == 0
    out, err = capsys.readouterr()
    assert re.fullmatch(r"0x[0-9a-f]{64}  .*m\.json\n", out), out
    assert re.search(r"^batch \d+: batched$", err, re.M), err
    assert re.search(r"^batch \d+: anchored in block \d+, confirmed 2/2: proofs ready$", err,
                     re.M), err
    bundle = tmp_path / "bundle.json"
    digest = out.split()[0]
    assert await run("proof", digest, "--wait", "-o", str(bundle), "--url", deep.url) == 0
    assert json.loads(bundle.read_text())["anchor"]["batchNumber"] >= 1


async def test_submit_wait_says_when_the_chain_makes_no_blocks(deep: Running) -> None:
    # Without the depth miner the embedded default is back where issue 12 found it.
    await stop_tasks([t for t in deep.service.tasks if t.get_name() == "depth-miner"])
    key = p256()
    await register(deep.client, "creator:stan", key)
    _, body = await deep.client.submit(manifest("creator:stan", key, 1))
    said: list[str] = []
    waiter = ProofWaiter(deep.client, said.append, timeout=10, stall_after=2, interval=0.1)
    with pytest.raises(LedgerError, match=r"without a proof after 10 s \(anchored in block \d+, "
                                          r"confirmed 1/2\)"):
        await waiter.wait([body["manifestDigest"]])
    stalled = [line for line in said if "has made no block" in line]
    assert len(stalled) == 1 and "cast rpc evm_mine" in stalled[0], said


def _priced(key: Any, n: int) -> dict[str, Any]:
    return sign_manifest({
        "manifestVersion": "1.0",
        "creator": {"id": "creator:uma", "wallet": "0x" + "11" * 20},
        "assets": [{"id": f"asset:set-{n}", "type": "application/x-tar",
                    "hash": "sha256:" + f"{n:064x}", "licenses": ["non-exclusive-training"],
                    "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                                   "unit": "sample", "amount": "1000"}}],
    }, key)


def _event(n: int, digest: str, asset: str, units: int = 3) -> dict[str, Any]:
    return {"eventId": f"job-7:{n}", "buyer": BUYER,
            "asset": {"manifestDigest": digest, "assetId": asset}, "units": units,
            "time": "2026-01-01T00:00:00Z"}


async def test_embedded_default_makes_a_usage_key_that_usage_send_signs_with(
    svc: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: no usage key existed by default (every usage post got 401) and nothing
    sent a signed event but a partial example in the docs."""
    data_dir = svc.service.settings.data_dir
    keys_file = data_dir / "usage-keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert list(json.loads(keys_file.read_text())["sources"]) == ["local"]
    key = p256()
    await register(svc.client, "creator:uma", key)
    _, body = await svc.client.submit(_priced(key, 1))
    digest = body["manifestDigest"]
    await wait_for_proof(svc.client, digest)

    lines = tmp_path / "events.jsonl"
    lines.write_text("\n".join(json.dumps(_event(n, digest, "asset:set-1")) for n in range(5)))
    where = ("--data-dir", str(data_dir), "--url", svc.url)
    capsys.readouterr()
    assert await run("usage", "send", "--file", str(lines), "--batch-size", "2", *where) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"job-7:{n}  accepted" for n in range(5)]
    assert "sent 5 events as local: 5 stored, 0 refused" in err
    # Sent again: stored once by eventId, so nothing is charged twice.
    assert await run("usage", "send", "--file", str(lines), *where) == 0
    assert capsys.readouterr().out.splitlines() == [f"job-7:{n}  duplicate" for n in range(5)]

    table = tmp_path / "events.csv"
    table.write_text("eventId,buyer,manifestDigest,assetId,units,time\n"
                     f"job-8:1,{BUYER},{digest},asset:set-1,4,2026-01-01T00:00:00Z\n"
                     f"job-8:2,{BUYER},{digest},asset:nope,4,2026-01-01T00:00:00Z\n")
    assert await run("usage", "send", "--file", str(table), *where) == 2
    out, err = capsys.readouterr()
    assert out == "job-8:1  accepted\n"
    assert "job-8:2: refused:" in err and "1 stored, 1 refused" in err

    assert await run("usage", "send", "--buyer", BUYER, "--manifest", digest, "--asset",
                     "asset:set-1", "--units", "2", "--event-id", "job-9:1", *where) == 0
    assert capsys.readouterr().out == "job-9:1  accepted\n"


async def test_send_usage_is_a_ten_line_python_snippet(svc: Running) -> None:
    keys = json.loads((svc.service.settings.data_dir / "usage-keys.json").read_text())
    secret = bytes.fromhex(keys["sources"]["local"][0]["secret"])
    key = p256()
    await register(svc.client, "creator:uma", key)
    _, body = await svc.client.submit(_priced(key, 2))
    events = [{**_event(n, body["manifestDigest"], "asset:set-2"), "source": "local"}
              for n in range(3)]
    results = await send_usage(svc.url, "local", secret, events)
    assert [r["httpStatus"] for r in results] == [202, 202, 202]
    with pytest.raises(LedgerError, match="401"):
        await send_usage(svc.url, "local", b"\x00" * 32, events)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(["--units", "2"], "one event needs --buyer"),
     (["--file", "missing.jsonl"], "missing.jsonl"),
     (["--keys-file", "nowhere.json", "--file", "x"], "no usage keys file")],
)
def test_usage_send_bad_input_is_one_line(
    argv: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"version": "ledger-usage-keys/1",
                                "sources": {"edge": [{"id": "k", "secret": "ab" * 32}]}}))
    code = main(["usage", "send", "--keys-file", str(keys), *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("ledger: error: ") and err.count("\n") == 1, err
    assert fragment in err
