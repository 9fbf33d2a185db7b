"""``ledger audit --service`` and ``ledger export dataset --service`` against a small
stand-in service: only SHA-256 digests are asked, a request for each `MAX_LOOKUP` files
(the batch lookup), and a service that cannot be reached is one line and exit 2."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ledger.app.dataset_export import load_entries
from ledger.app.packager import PackageSpec, package_dir
from ledger.cli.main import main
from ledger.core.hashing import sha256
from ledger.core.signing import sign_manifest
from ledger.keyfile import generate_key
from tests.support import hashed_files


class StandIn:
    """Answers by-hash lookups (one or a batch) and statuses from ``registered`` (sha256
    hex -> list of registrations), recording each request's path and every hash asked."""

    def __init__(self) -> None:
        self.registered: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[str] = []
        self.asked: list[str] = []
        self.url = ""

    def _answer(self, sha: str) -> dict[str, Any]:
        self.asked.append(sha)
        found = self.registered.get(sha, [])
        return {"sha256": sha, "registered": bool(found), "registrations": found}

    async def lookup(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        return web.json_response(self._answer(request.match_info["sha256"]))

    async def lookups(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        hashes = (await request.json())["hashes"]
        return web.json_response({"results": [self._answer(sha) for sha in hashes]})


@pytest.fixture
def service() -> Iterator[StandIn]:
    stand_in = StandIn()
    app = web.Application()
    app.router.add_get("/v1/assets/by-hash/{sha256}", stand_in.lookup)
    app.router.add_post("/v1/assets/by-hash:batch", stand_in.lookups)
    app.router.add_get("/v1/assets/by-hash/{sha256}/status", stand_in.lookup)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    stand_in.url = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_audit_names_files_another_creator_registered(
    tmp_path: Path, service: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "theirs.txt").write_bytes(b"someone else's bytes")
    (tmp_path / "mine.txt").write_bytes(b"my bytes")
    theirs = sha256(b"someone else's bytes").hex()
    service.registered[theirs] = [{"creatorId": "creator:bo"}]
    code = main(["audit", str(tmp_path), "--no-faces", "--creator", "creator:ana",
                 "--service", service.url, "--json", "-"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {(item["path"], item["code"]) for item in report["findings"]} == {
        ("mine.txt", "unsupported"), ("theirs.txt", "unsupported"),
        ("theirs.txt", "registered_by_other")}
    assert sorted(service.asked) == sorted(sha256(data).hex()
                                           for data in (b"someone else's bytes", b"my bytes"))
    assert service.requests == ["/v1/assets/by-hash:batch"]


def test_a_folder_is_asked_about_in_parts_of_the_bound(
    tmp_path: Path, service: StandIn, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request asks about at most MAX_LOOKUP files, and every digest is asked once."""
    monkeypatch.setattr("ledger.cli.assets.MAX_LOOKUP", 4)
    for index in range(10):
        (tmp_path / f"{index:02}.txt").write_bytes(b"file %d" % index)
    assert main(["audit", str(tmp_path), "--no-faces", "--service", service.url,
                 "--json", str(tmp_path.parent / "report.json")]) in (0, 1)
    capsys.readouterr()
    assert service.requests == ["/v1/assets/by-hash:batch"] * 3
    assert sorted(service.asked) == sorted(sha256(b"file %d" % i).hex() for i in range(10))


def test_export_takes_status_and_anchor_from_the_service(
    tmp_path: Path, service: StandIn
) -> None:
    key = generate_key("p256")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"a")
    spec = PackageSpec("creator:ana", ["cc-by-4.0"], signing_key=key.public_id,
                       payout="stripe:acct_1")
    manifest = sign_manifest(package_dir(folder, spec), key)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    digest = load_entries(tmp_path / "manifest.json")[0].digest_hex()
    service.registered[sha256(b"a").hex()] = [
        {"manifestDigest": "0x" + "00" * 32, "assetId": "asset:a.jpg",
         "licenceStatus": {"state": "revoked"}, "anchor": None},
        {"manifestDigest": "0x" + digest[2:].upper(), "assetId": "asset:a.jpg",  # any case
         "licenceStatus": {"state": "licensable"},
         "anchor": {"chainId": 1, "blockNumber": 9, "blockTimestamp": 0}}]
    out = tmp_path / "out"
    assert main(["export", "dataset", str(tmp_path / "manifest.json"), "-o", str(out),
                 "--service", service.url, "--record-base", "https://ledger.example"]) == 0
    [row] = json.loads((out / "dataset_manifest.json").read_text())["files"]
    assert (row["rights_status"], row["anchored_at"], row["anchor_chain_id"]) == (
        "licensable", "1970-01-01T00:00:00Z", 1)
    assert row["record_url"].startswith("https://ledger.example/v1/assets/by-hash/")
    assert service.requests == [f"/v1/assets/by-hash/{sha256(b'a').hex()}/status"]


def test_a_service_that_cannot_be_reached_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("a")
    assert main(["audit", str(tmp_path), "--no-faces", "--service",
                 "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: error: ") and err.count("\n") == 1


def _package(folder: Path, url: str, *extra: str) -> int:
    return main(["package", str(folder), "--creator", "creator:ana", "--license",
                 "non-exclusive-training", "--payout", "stripe:acct_1", "--service", url,
                 *extra])


def test_package_stops_on_a_file_another_creator_registered(
    tmp_path: Path, service: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "theirs.txt").write_bytes(b"someone else's bytes")
    (tmp_path / "mine.txt").write_bytes(b"my bytes")
    service.registered[sha256(b"someone else's bytes").hex()] = [
        {"creatorId": "creator:bo"}, {"creatorId": "creator:ana"}]
    service.registered[sha256(b"my bytes").hex()] = [{"creatorId": "creator:ana"}]
    assert _package(tmp_path, service.url) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: error: theirs.txt: registered_by_other") and err.count(
        "\n") == 1, err
    assert "creator:bo" in err and "mine.txt" not in err and "--override-conflicts" in err
    assert not (tmp_path / "manifest.json").exists()
    assert sorted(service.asked) == sorted(sha256(data).hex()
                                           for data in (b"someone else's bytes", b"my bytes"))


def test_package_records_an_overridden_registration(
    tmp_path: Path, service: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "theirs.txt").write_bytes(b"someone else's bytes")
    (tmp_path / "mine.txt").write_bytes(b"my bytes")
    service.registered[sha256(b"someone else's bytes").hex()] = [{"creatorId": "creator:bo"}]
    assert _package(tmp_path, service.url, "--override-conflicts", "bo sold it to me") == 0
    capsys.readouterr()
    found = {asset["id"]: asset
             for asset in json.loads((tmp_path / "manifest.json").read_text())["assets"]}
    assert found["asset:theirs.txt"]["extensions"] == {"ledger:metadata": {
        "registeredBy": ["creator:bo"],
        "override": {"conflicts": ["registered_by_other"], "reason": "bo sold it to me"}}}
    assert "extensions" not in found["asset:mine.txt"]


def test_package_with_service_reads_each_file_once(
    tmp_path: Path, service: StandIn, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit hashes every file to ask the service; packaging takes those digests
    (by the hash cache key of the state the audit read) instead of reading the files
    again (tests/unit/app/test_audit.py: a file changed since is read again)."""
    (tmp_path / "a.txt").write_bytes(b"first bytes")
    (tmp_path / "b.txt").write_bytes(b"second bytes")
    read_again = hashed_files(monkeypatch)
    assert _package(tmp_path, service.url) == 0
    assert read_again == []
    digests = {asset["id"]: asset["hash"]
               for asset in json.loads((tmp_path / "manifest.json").read_text())["assets"]}
    assert digests == {"asset:a.txt": "sha256:" + sha256(b"first bytes").hex(),
                       "asset:b.txt": "sha256:" + sha256(b"second bytes").hex()}
    capsys.readouterr()


def test_package_without_service_asks_nothing(
    tmp_path: Path, service: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "theirs.txt").write_bytes(b"someone else's bytes")
    service.registered[sha256(b"someone else's bytes").hex()] = [{"creatorId": "creator:bo"}]
    assert main(["package", str(tmp_path), "--creator", "creator:ana", "--license",
                 "non-exclusive-training", "--payout", "stripe:acct_1"]) == 0
    capsys.readouterr()
    assert service.requests == []
