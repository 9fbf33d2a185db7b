"""Metering follows the lifecycle, and the dataset check, over real HTTP on the embedded
default (issue 17): usage around every effective time, to the millisecond, is accepted
or refused with 409 ``licence_refused`` naming the statement (nothing stored); a dataset
check answers registered and unregistered files, its snapshot verifies against the
pinned service key and is anchored, and a tampered answer fails."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.cli.client import LedgerClient
from ledger.cli.main import main
from ledger.core.hashing import sha256
from ledger.core.licence_snapshot import LicenceSnapshot
from ledger.core.licence_status import DEFAULT_NOTICE_MS
from ledger.core.proof import ProofBundle, verify_bundle
from ledger.core.royalty.auth import request_headers
from ledger.core.signing import SigningKey, sign_manifest
from ledger.core.statements import sign_statement
from ledger.core.times import iso_utc_ms
from ledger.errors import ProofError
from ledger.run.serve import running
from ledger.workers.tasks import stop_tasks
from tests.integration.service.conftest import (
    FAST,
    manifest,
    now_ms,
    p256,
    register,
    wait_for_proof,
)

pytestmark = pytest.mark.chain

SECRET = bytes(range(32))
SOURCE = "edge-1"
KEYS = json.dumps({"version": "ledger-usage-keys/1",
                   "sources": {SOURCE: [{"id": "k1", "secret": SECRET.hex()}]}})
BUYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
RIVAL = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


@dataclass
class World:
    url: str
    client: LedgerClient
    http: aiohttp.ClientSession
    key: SigningKey
    manifest: dict[str, Any]
    digest: str
    deployment: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = replace(FAST, data_dir=tmp_path / "data", usage_keys=KEYS)
    async with running(settings) as (_, url), LedgerClient(url) as client, \
            aiohttp.ClientSession() as http:
        key = p256()
        await register(client, "creator:meter", key)
        signed = manifest("creator:meter", key, 1, assets=4)
        for asset in signed["assets"]:
            asset["priceModel"] = {"type": "per-unit", "rate": 1, "currency": "ETH",
                                   "unit": "sample", "amount": "1000"}
        signed = sign_manifest(signed, key)
        status, body = await client._request("POST", "/v1/manifests", signed)
        assert status == 202
        digest = body["manifestDigest"]
        await wait_for_proof(client, digest)
        yield World(url, client, http, key, signed, digest, await client.deployment())
    await _stop_leftovers()


async def _stop_leftovers() -> None:
    """Stop (within a bound) any task the stopped service left behind, and fail naming
    those that would not stop: the event loop's teardown cancels each leftover once and
    waits for it without a bound, a hang when that one cancellation is lost."""
    left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    await stop_tasks(left, timeout=10.0)
    assert all(task.done() for task in left), f"tasks still running: {left}"


def _asset(world: World, i: int) -> str:
    return str(world.manifest["assets"][i]["id"])


async def _state(world: World, kind: str, asset: int, **members: Any) -> tuple[str, int]:
    issued = now_ms()
    obj = {"type": kind, "deployment": world.deployment, "issuedAt": issued,
           "target": {"manifestDigest": world.digest, "assetIds": [_asset(world, asset)]},
           **members}
    status, body = await world.client._request("POST", "/v1/statements",
                                               sign_statement(obj, world.key))
    assert status == 202, body
    return str(body["digest"]), issued


async def _use(world: World, asset: int, at: int, buyer: str = BUYER) -> tuple[int, Any]:
    event = {"eventId": f"e-{asset}-{at}-{buyer[:6]}", "buyer": buyer, "units": 1,
             "source": SOURCE, "time": iso_utc_ms(at),
             "asset": {"manifestDigest": world.digest, "assetId": _asset(world, asset)}}
    raw = json.dumps(event).encode()
    headers = request_headers(SECRET, SOURCE, raw, int(time.time()))
    async with world.http.post(world.url + "/v1/usage", data=raw, headers=headers) as resp:
        return resp.status, await resp.json()


async def _statuses(world: World, asset: int, times: list[int], buyer: str = BUYER
                    ) -> list[int]:
    return [(await _use(world, asset, t, buyer))[0] for t in times]


async def test_usage_around_every_effective_time(world: World) -> None:
    withdrawn, w = await _state(world, "withdraw-consent", 0)
    assert await _statuses(world, 0, [w - 1, w, w + 1]) == [202, 409, 409]
    status, body = await _use(world, 0, w + 2)
    assert status == 409
    assert body["error"]["code"] == "licence_refused"
    assert body["error"]["statement"] == withdrawn
    assert body["error"]["field"] == "asset"
    assert withdrawn[2:] in body["error"]["message"]

    now = now_ms()
    start, end = now + 60_000, now + 120_000
    await _state(world, "grant-exclusive", 1, buyer=RIVAL, licences=["training"],
                 start=start, end=end, irrevocable=False)
    times = [start - 1, start, start + 1, end - 1, end, end + 1]
    assert await _statuses(world, 1, times) == [202, 409, 409, 409, 202, 202]
    assert await _statuses(world, 1, times, RIVAL) == [202] * 6

    effective = now_ms() + DEFAULT_NOTICE_MS + 5_000
    revoked, _ = await _state(world, "revoke", 2, effectiveAt=effective)
    # The notice runs until `effective`: usage in it is accepted.
    assert await _statuses(world, 2, [effective - 1, effective, effective + 1]) == [
        202, 409, 409]
    assert (await _use(world, 2, effective + 2))[1]["error"]["statement"] == revoked
    # An asset nothing was said about is not refused.
    assert await _statuses(world, 3, [w, effective]) == [202, 202]


async def _snapshot_proof(world: World, check_id: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status, body = await world.client._request("GET", f"/v1/dataset-checks/{check_id}")
        assert status == 200
        if body["proof"] is not None and body["proof"].get("anchor") is not None:
            return body
        assert time.monotonic() < deadline, f"snapshot not anchored: {body}"
        await asyncio.sleep(0.1)


async def test_a_dataset_check_is_signed_anchored_and_tamper_evident(world: World) -> None:
    _, withdrawn_at = await _state(world, "withdraw-consent", 0)
    registered = [a["hash"] for a in world.manifest["assets"][:2]]
    stranger = sha256(b"nobody registered this").hex()
    hashes = [registered[0], registered[1][len("sha256:"):], stranger]
    status, body = await world.client._request("POST", "/v1/dataset-checks",
                                               {"hashes": hashes, "at": withdrawn_at + 1})
    assert status == 201
    answers = body["answers"]
    assert [a["registered"] for a in answers] == [True, True, False]
    assert answers[2] == {"sha256": stranger, "registered": False, "registrations": []}
    (first,) = answers[0]["registrations"]
    assert first["manifestDigest"] == world.digest and first["anchored"]
    assert first["licenceStatus"]["state"] == "withdrawn"
    assert answers[1]["registrations"][0]["licenceStatus"]["state"] == "licensable"

    service = (await world.client._request("GET", "/v1/service"))[1]
    snapshot = LicenceSnapshot.from_obj(body["snapshot"])
    snapshot.verify(service["receiptKey"])
    snapshot.check_answers(answers)
    assert body["id"] == "0x" + snapshot.digest().hex()

    stored = await _snapshot_proof(world, body["id"])
    assert stored["snapshot"] == body["snapshot"]
    bundle = ProofBundle.from_obj(stored["proof"])
    verify_bundle(bundle)
    assert bundle.manifest_digest == snapshot.digest()
    batch = (await world.client._request(
        "GET", f"/v1/batches/{bundle.anchor.batch_number if bundle.anchor else 0}"))[1]
    assert batch["kind"] == "licence-snapshots"

    tampered = json.loads(json.dumps(answers))
    tampered[0]["registrations"][0]["licenceStatus"]["state"] = "licensable"
    with pytest.raises(ProofError):
        snapshot.check_answers(tampered)


@pytest.mark.parametrize("body, field", [
    ({}, "hashes"),
    ({"hashes": []}, "hashes"),
    ({"hashes": ["ABC"]}, "hashes[0]"),
    ({"hashes": ["0" * 64], "at": -1}, "at"),
    ({"hashes": ["0" * 64], "extra": 1}, "extra"),
])
async def test_a_bad_dataset_check_names_its_field_and_stores_nothing(
        world: World, body: dict[str, Any], field: str) -> None:
    async with world.http.post(world.url + "/v1/dataset-checks", json=body) as resp:
        assert resp.status == 422
        assert (await resp.json())["error"]["field"] == field
    async with world.http.get(world.url + "/v1/dataset-checks/0x" + "00" * 32) as resp:
        assert resp.status == 404


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_check_dataset_then_verify_and_a_tampered_file_fails(
        world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "dataset"
    folder.mkdir()
    (folder / "unknown.bin").write_bytes(b"nobody registered this")
    listed = tmp_path / "hashes.txt"
    listed.write_text("\n".join(a["hash"] for a in world.manifest["assets"]) + "\n")
    out, listed_out = tmp_path / "check.json", tmp_path / "listed.json"
    # Parts of 2: the list goes as two requests, two snapshots.
    assert await _cli("check-dataset", str(listed), "--url", world.url, "--part-size", "2",
                      "--wait", "-o", str(listed_out)) == 0
    assert await _cli("check-dataset", str(folder), "--url", world.url, "--wait",
                      "-o", str(out)) == 1
    assert "unregistered=1" in capsys.readouterr().err
    checks = json.loads(listed_out.read_text())["checks"]
    assert [len(c["answers"]) for c in checks] == [2, 2]

    service = (await world.client._request("GET", "/v1/service"))[1]
    pins = ["--service-key", service["receiptKey"]]
    for document in (out, listed_out):
        assert await _cli("verify", str(document), *pins) == 0
    assert "licence snapshot ok" in capsys.readouterr().out
    # No pinned key: refused, whatever the signature.
    assert await _cli("verify", str(out)) == 2

    doc = json.loads(listed_out.read_text())
    doc["checks"][1]["answers"][0]["registrations"][0]["licenses"] = ["anything"]
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    assert await _cli("verify", str(tampered), *pins) == 2
    assert "checks[1].answers" in capsys.readouterr().err

    bad = tmp_path / "bad.txt"
    bad.write_text("not a hash\n")
    assert await _cli("check-dataset", str(bad), "--url", world.url) == 2
    assert "line 1" in capsys.readouterr().err
