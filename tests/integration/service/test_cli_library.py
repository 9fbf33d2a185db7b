"""The CLI's 1.1 path against a running service: package a library, submit it in chunks
(resuming an interrupted upload), fetch one asset's proof, verify it, look files up."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from ledger.cli.client import LedgerClient, ServiceError
from ledger.cli.main import main
from ledger.cli.upload import read_library
from ledger.core.manifest import Manifest
from ledger.core.signing import sign_manifest
from ledger.keyfile import write_key
from tests.integration.service.conftest import Running, manifest, p256, register

pytestmark = pytest.mark.chain


async def run(*argv: str | Path) -> int:
    """`ledger ARGV` in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, [str(arg) for arg in argv])


def _library(root: Path, count: int) -> Path:
    root.mkdir()
    for index in range(count):
        (root / f"photo-{index:03}.jpg").write_bytes(b"library photo %d" % index)
    return root


async def _package(svc: Running, tmp_path: Path, creator: str, count: int) -> Path:
    key = p256()
    await register(svc.client, creator, key)
    key_file = tmp_path / "creator.pem"
    write_key(key_file, key)
    out = tmp_path / "out"
    out.mkdir()
    code = await run("package", _library(tmp_path / "lib", count), "--creator", creator,
                     "--license", "cc-by-4.0", "--key", key_file, "--manifest-version", "1.1",
                     "--wallet", "0x" + "11" * 20,
                     "-o", out / "manifest.json")
    assert code == 0
    return out / "manifest.json"


async def test_submit_resume_proof_verify_lookup(
    svc: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    header_file = await _package(svc, tmp_path, "creator:libby", 300)
    capsys.readouterr()
    header = json.loads(header_file.read_text())
    library = read_library(header, header_file.parent / "assets.jsonl", 64)
    # An upload interrupted after two of its five chunks...
    await svc.client.start_upload(header, 64)
    for index in (0, 3):
        entries, proof = library.chunk(index)
        await svc.client.put_chunk(library.digest, index, entries, proof)
    sent: list[int] = []
    real_put = LedgerClient.put_chunk

    async def counting(self: LedgerClient, digest: str, index: int,
                       entries: Sequence[bytes], proof: Sequence[bytes]) -> object:
        sent.append(index)
        return await real_put(self, digest, index, entries, proof)

    monkeypatch.setattr(LedgerClient, "put_chunk", counting)
    # ...is finished by `ledger submit`, which sends only the three missing chunks.
    receipts = tmp_path / "receipts"
    assert await run("submit", header_file, "--chunk-size", "64", "--url", svc.url,
                     "--receipts", receipts) == 0
    assert sorted(sent) == [1, 2, 4]
    assert capsys.readouterr().out == f"{library.digest}  {header_file}\n"
    assert (receipts / f"{library.digest}.receipt.json").exists()
    view = await svc.client.upload(library.digest)
    assert view["status"] == "complete" and view["chunksReceived"] == 5
    # Again: nothing left to send, same answer; --wait follows it to its anchor.
    assert await run("submit", header_file, "--chunk-size", "64", "--url", svc.url,
                     "--wait") == 0
    assert "every proof is ready" in capsys.readouterr().err
    assert sorted(sent) == [1, 2, 4]

    proof_file = tmp_path / "asset.json"
    assert await run("proof", library.digest, "--asset", "7", "-o", proof_file, "--wait",
                     "--url", svc.url) == 0
    capsys.readouterr()
    assert await run("verify", proof_file, "--rpc-url", svc.service.rpc_url,
                     "--service", svc.url) == 0
    out = capsys.readouterr().out
    assert "asset ok: asset:photo-007.jpg" in out and "anchored on chain" in out
    by_id = tmp_path / "by-id.json"
    assert await run("proof", library.digest, "--asset", "asset:photo-007.jpg", "--assets",
                     header_file.parent / "assets.jsonl", "-o", by_id, "--url", svc.url) == 0
    assert json.loads(by_id.read_text()) == json.loads(proof_file.read_text())

    tampered = json.loads(proof_file.read_text())
    tampered["asset"]["licenses"] = ["cc0-1.0"]
    proof_file.write_text(json.dumps(tampered))
    capsys.readouterr()
    assert await run("verify", proof_file) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: error: assetProof") and err.count("\n") == 1

    photo = tmp_path / "lib" / "photo-007.jpg"
    stranger = tmp_path / "stranger.jpg"
    stranger.write_bytes(b"never registered")
    assert await run("lookup", photo, "--url", svc.url) == 0
    out = capsys.readouterr().out
    assert "creator:libby: asset:photo-007.jpg (asset 7 of manifest" in out
    assert "anchored in block" in out and "licences: cc-by-4.0" in out
    assert await run("lookup", photo, stranger, "--url", svc.url) == 1
    assert "not registered" in capsys.readouterr().out
    assert await run("lookup", photo, "--json", "--url", svc.url) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer[0]["registrations"][0]["assetIndex"] == 7


async def test_lookup_shows_every_creator_of_the_same_bytes(
    svc: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header_file = await _package(svc, tmp_path, "creator:first", 3)
    assert await run("submit", header_file, "--url", svc.url) == 0
    copier = p256()
    await register(svc.client, "creator:copier", copier)
    content = (tmp_path / "lib" / "photo-001.jpg").read_bytes()
    copy = manifest("creator:copier", copier, 1)
    copy["assets"][0]["hash"] = "sha256:" + hashlib.sha256(content).hexdigest()
    del copy["signature"]
    await svc.client.submit(sign_manifest(copy, copier))
    capsys.readouterr()
    assert await run("lookup", tmp_path / "lib" / "photo-001.jpg", "--url", svc.url) == 0
    out = capsys.readouterr().out
    assert "CONFLICT: 2 creators" in out
    assert "creator:first:" in out and "creator:copier:" in out


async def test_bad_input_ends_in_one_line_and_stores_nothing(
    svc: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header_file = await _package(svc, tmp_path, "creator:tess", 5)
    digest = read_library(json.loads(header_file.read_text()),
                          header_file.parent / "assets.jsonl", 4096).digest
    assets = header_file.parent / "assets.jsonl"
    lines = assets.read_bytes().splitlines(keepends=True)
    assets.write_bytes(b"".join(lines[:-1]))
    capsys.readouterr()
    for argv in (("submit", header_file), ("submit", header_file, "--chunk-size", "3"),
                 ("submit", header_file, "--assets", tmp_path / "missing.jsonl"),
                 ("proof", digest, "--asset", "asset:x"),
                 ("proof", digest, "--asset", "-1"),
                 ("lookup", tmp_path / "missing.jpg")):
        assert await run(*argv, "--url", svc.url) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("ledger: error: ") and err.count("\n") == 1, (argv, err)
    # A 1.0 manifest given with the bad library is not sent either.
    plain = manifest("creator:tess", p256(), 1)
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    assert await run("submit", tmp_path / "plain.json", header_file, "--url", svc.url) == 2
    capsys.readouterr()
    with pytest.raises(ServiceError) as caught:
        await svc.client.upload(digest)
    assert caught.value.status == 404
    with pytest.raises(ServiceError) as caught:
        await svc.client.manifest(Manifest.from_obj(plain).digest_hex())
    assert caught.value.status == 404
