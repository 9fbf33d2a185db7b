"""`ledger package` reads, checks and (with --embed) writes the files' own metadata
(ledger.app.embedding, ledger.cli.package_metadata)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from ledger.app.embedding import MetadataOptions, read_folder_metadata, record_page
from ledger.cli.main import main
from ledger.core.manifest import Manifest
from ledger.core.rights import DMI_ALLOWED, METADATA_KEY, PLUS_VOCAB, C2paSummary
from ledger.errors import ValidationError
from ledger.media.xmp import read_rights
from tests.unit.media.images import BERLIN_GPS, data_mining, image, owners, rights

ANA = "creator:ana-photo"
DATED = {"DateTimeOriginal": "2025:11:02 14:22:00", "OffsetTimeOriginal": "+02:00"}


def package(capsys: pytest.CaptureFixture[str], folder: Path, *extra: str | Path
            ) -> tuple[int, str, str]:
    argv = ["package", folder, "--creator", ANA, "--name", "Ana Lima", "--license",
            "non-exclusive-training", "--payout", "stripe:acct_1", *extra]
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2 and err.startswith("ledger: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


def assets(manifest: Path) -> dict[str, dict[str, Any]]:
    obj = json.loads(manifest.read_text())
    Manifest.from_obj(obj, allow_unsigned=True)
    return {asset["id"]: asset for asset in obj["assets"]}


def library(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(image("jpg", exif=DATED))
    (folder / "trip" / "b.png").write_bytes(image("png", gps=BERLIN_GPS))
    (folder / "c.webp").write_bytes(image("webp", exif={"DateTimeOriginal": "2025:01:01 09:00:00"}))
    (folder / "notes.txt").write_bytes(b"not an image")
    return folder


def test_reading_fills_capture_dates_without_touching_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = library(tmp_path)
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.rglob("*")
              if path.is_file()}
    code, _, err = package(capsys, folder)
    assert code == 0 and err == ""
    found = assets(folder / "manifest.json")
    assert found["asset:a.jpg"]["captureDate"] == "2025-11-02T12:22:00Z"
    assert found["asset:a.jpg"]["extensions"] == {METADATA_KEY: {"captureDateSource": "exif"}}
    assert found["asset:trip-b.png"]["captureDate"] == "2025-11-02T12:22:05Z"
    assert "captureDate" not in found["asset:c.webp"]
    assert found["asset:c.webp"]["extensions"][METADATA_KEY] == {
        "captureDateLocal": "2025:01:01 09:00:00"}
    assert "extensions" not in found["asset:notes.txt"]
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in before} == before


@pytest.mark.parametrize(("planted", "conflict"), [
    ({"xmp": data_mining("DMI-PROHIBITED-AIMLTRAINING")}, "training_prohibited"),
    ({"xmp": data_mining("DMI-PROHIBITED")}, "training_prohibited"),
    ({"xmp": owners(["Bob Stone"])}, "other_rights_holder"),
    ({"xmp": rights("© 2024 Bob Stone")}, "other_rights_holder"),
    ({"exif": {"Artist": "Bob Stone"}}, "other_rights_holder"),
    ({"iptc": {"Iptc.Application2.Byline": ["Bob Stone"]}}, "other_rights_holder"),
])
def test_each_conflict_stops_packaging_and_the_override_is_recorded(
    planted: dict[str, Any], conflict: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "fine.jpg").write_bytes(image("jpg", xmp=owners(["ana lima"])))
    (folder / "Bad One.jpg").write_bytes(image("jpg", **planted))
    code, _, err = package(capsys, folder)
    one_line_error(code, err, "Bad One.jpg", conflict, "--override-conflicts")
    assert "fine.jpg" not in err
    assert not (folder / "manifest.json").exists()
    code, _, err = package(capsys, folder, "--override-conflicts", "bought the rights in 2024")
    assert code == 0, err
    record = assets(folder / "manifest.json")["asset:bad-one.jpg"]["extensions"][METADATA_KEY]
    assert record["override"] == {"conflicts": [conflict], "reason": "bought the rights in 2024"}
    assert "override" not in assets(folder / "manifest.json")["asset:fine.jpg"].get(
        "extensions", {}).get(METADATA_KEY, {})


def test_a_non_training_licence_is_no_data_mining_conflict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(image("jpg", xmp=data_mining("DMI-PROHIBITED")))
    code = main([str(arg) for arg in ("package", folder, "--creator", ANA, "--license",
                                      "cc-by-4.0", "--payout", "stripe:acct_1")])
    capsys.readouterr()
    assert code == 0
    record = assets(folder / "manifest.json")["asset:a.jpg"]["extensions"][METADATA_KEY]
    assert record == {"dataMining": PLUS_VOCAB + "DMI-PROHIBITED"}


def test_the_override_is_signed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(image("jpg", xmp=owners(["Bob"])))
    key = tmp_path / "key.pem"
    assert main(["keygen", "--type", "p256", "-o", str(key)]) == 0
    code, _, err = package(capsys, folder, "--key", key, "--override-conflicts", "Bob is me")
    assert code == 0, err
    assert main(["verify-manifest", str(folder / "manifest.json")]) == 0
    signed = json.loads((folder / "manifest.json").read_text())
    signed["assets"][0]["extensions"][METADATA_KEY]["override"]["reason"] = "changed"
    (folder / "manifest.json").write_text(json.dumps(signed))
    capsys.readouterr()
    assert main(["verify-manifest", str(folder / "manifest.json")]) == 2


def test_embed_writes_copies_and_registers_their_hashes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = library(tmp_path)
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.rglob("*")
              if path.is_file()}
    out = tmp_path / "copies"
    code, stdout, err = package(capsys, folder, "--embed", out, "--strip-location",
                                "--service", "https://ledger.test", "--no-lookup")
    assert code == 0, err
    assert err == "note: notes.txt: not JPEG, PNG or WebP: copied unchanged\n"
    assert str(out / "manifest.json") in stdout
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in before} == before
    found = assets(out / "manifest.json")
    for asset_id, relative in (("asset:a.jpg", "a.jpg"), ("asset:trip-b.png", "trip/b.png"),
                               ("asset:c.webp", "c.webp"), ("asset:notes.txt", "notes.txt")):
        copy = (out / relative).read_bytes()
        assert found[asset_id]["hash"] == "sha256:" + hashlib.sha256(copy).hexdigest()
    assert (out / "notes.txt").read_bytes() == b"not an image"
    written = read_rights((out / "trip" / "b.png").read_bytes())
    assert written.data_mining == DMI_ALLOWED and not written.gps
    assert written.web_statement == f"https://ledger.test/v1/creators/{ANA}/records"
    assert written.ledger_creator == ANA
    record = found["asset:trip-b.png"]["extensions"][METADATA_KEY]
    assert record["embedded"]["locationStripped"] is True
    assert found["asset:a.jpg"]["extensions"][METADATA_KEY]["embedded"]["locationStripped"] is False


def test_embedded_copies_package_again_without_conflicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = library(tmp_path)
    assert package(capsys, folder, "--embed", tmp_path / "once")[0] == 0
    (tmp_path / "once" / "manifest.json").unlink()
    code, _, err = package(capsys, tmp_path / "once", "--embed", tmp_path / "twice")
    assert code == 0, err


def test_embed_into_a_library_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = library(tmp_path)
    out = tmp_path / "copies"
    key = tmp_path / "key.pem"
    assert main(["keygen", "--type", "p256", "-o", str(key)]) == 0
    code, _, err = package(capsys, folder, "--embed", out, "--manifest-version", "1.1",
                           "--key", key)
    assert code == 0, err
    entries = [json.loads(line) for line in (out / "assets.jsonl").read_text().splitlines()]
    assert [entry["id"] for entry in entries] == [
        "asset:a.jpg", "asset:c.webp", "asset:notes.txt", "asset:trip-b.png"]
    assert entries[0]["captureDate"] == "2025-11-02T12:22:00Z"
    assert METADATA_KEY in entries[0]["extensions"]
    assert main(["verify-manifest", str(out / "manifest.json")]) == 0


@pytest.mark.parametrize("where", ["same", "inside", "parent", "full"])
def test_embed_refuses_a_bad_output_folder(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = library(tmp_path)
    out = {"same": folder, "inside": folder / "copies", "parent": tmp_path,
           "full": tmp_path / "full"}[where]
    if where == "full":
        out.mkdir()
        (out / "old.jpg").write_bytes(b"x")
    code, _, err = package(capsys, folder, "--embed", out)
    one_line_error(code, err, "--embed")
    assert not (folder / "copies").exists() and not (out / "manifest.json").exists()


@pytest.mark.parametrize(("extra", "field"), [
    (("--strip-location",), "--strip-location"),
    (("--override-conflicts", "  "), "--override-conflicts"),
    (("--service", "ftp://x"), "--service"),
])
def test_option_errors(extra: tuple[str, ...], field: str, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = package(capsys, library(tmp_path), *extra)
    one_line_error(code, err, field)


def test_a_symlinked_file_is_refused_before_anything_is_copied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = library(tmp_path)
    os.symlink(tmp_path / "elsewhere.jpg", folder / "link.jpg")
    code, _, err = package(capsys, folder, "--embed", tmp_path / "copies")
    one_line_error(code, err, "link.jpg")
    assert not any((tmp_path / "copies").glob("*"))


def test_a_corrupt_image_is_packaged_unchanged_with_a_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    code, _, err = package(capsys, folder, "--embed", tmp_path / "copies")
    assert code == 0
    assert err.startswith("note: broken.jpg: metadata unreadable")
    assert (tmp_path / "copies" / "broken.jpg").read_bytes() == b"\xff\xd8\xff\xe0 truncated"


def test_an_invalid_c2pa_manifest_is_a_conflict(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(image("jpg"))
    options = MetadataOptions(read_c2pa=lambda path: C2paSummary("invalid"))
    with pytest.raises(ValidationError, match=r"a\.jpg: c2pa_invalid"):
        read_folder_metadata(folder, ANA, None, ["training"], options)
    overridden = MetadataOptions(read_c2pa=lambda path: C2paSummary("untrusted", signer="X"),
                                 override_reason="n/a")
    found = read_folder_metadata(folder, ANA, None, ["training"], overridden)
    assert found.members["a.jpg"]["extensions"][METADATA_KEY] == {
        "c2pa": {"state": "untrusted", "signer": "X"}}


def test_the_sign_step_runs_on_the_copy_after_the_xmp(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(image("jpg"))
    seen: list[tuple[str | None, str]] = []
    options = MetadataOptions(
        embed_dir=tmp_path / "out",
        sign_copy=lambda path, claims: seen.append(
            (read_rights(path.read_bytes()).ledger_creator, claims.asset_id)))
    read_folder_metadata(folder, ANA, None, ["training"], options)
    assert seen == [(ANA, "asset:a.jpg")]


def test_record_page() -> None:
    assert record_page(None, ANA) is None
    assert record_page("https://l.test/", ANA) == f"https://l.test/v1/creators/{ANA}/records"


def test_audit_errors_stop_packaging(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = library(tmp_path)
    (folder / "empty.jpg").write_bytes(b"")
    code, _, err = package(capsys, folder, "--embed", tmp_path / "copies")
    one_line_error(code, err, "empty.jpg: empty", "ledger audit")
    assert not (tmp_path / "copies").exists()
    (folder / "empty.jpg").unlink()
    code, _, err = package(capsys, folder, "--faces")
    one_line_error(code, err, "model_release_missing")


def test_a_failed_signature_leaves_no_copies(tmp_path: Path) -> None:
    folder = library(tmp_path)
    out = tmp_path / "out"

    def refuse(path: Path, claims: object) -> None:
        if path.name == "c.webp":
            raise ValidationError("c2pa could not sign", field="--c2pa-cert")

    with pytest.raises(ValidationError, match="could not sign"):
        read_folder_metadata(folder, ANA, None, ["training"],
                             MetadataOptions(embed_dir=out, sign_copy=refuse))
    assert out.is_dir() and not any(out.iterdir())


@pytest.mark.parametrize("version", ["1.0", "1.1"])
@pytest.mark.parametrize("strip", [False, True])
def test_every_registered_hash_is_the_copy_on_disk(
    version: str, strip: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = library(tmp_path)
    (folder / "d.jpg").write_bytes(image("jpg", xmp=owners(["Ana Lima"]), gps=BERLIN_GPS))
    out = tmp_path / "copies"
    extra = ["--strip-location"] if strip else []
    code, _, err = package(capsys, folder, "--embed", out, "--manifest-version", version,
                           *extra)
    assert code == 0, err
    if version == "1.0":
        registered = {asset["id"]: asset["hash"] for asset in
                      json.loads((out / "manifest.json").read_text())["assets"]}
    else:
        lines = (out / "assets.jsonl").read_text().splitlines()
        registered = {entry["id"]: entry["hash"] for entry in map(json.loads, lines)}
    copies = {"asset:a.jpg": "a.jpg", "asset:trip-b.png": "trip/b.png",
              "asset:c.webp": "c.webp", "asset:notes.txt": "notes.txt", "asset:d.jpg": "d.jpg"}
    assert registered == {asset_id: "sha256:" + hashlib.sha256((out / relative).read_bytes())
                          .hexdigest() for asset_id, relative in copies.items()}


def test_the_writers_digests_are_keyed_by_the_copies_state(tmp_path: Path) -> None:
    from ledger.app.file_hashes import cache_key, list_folder

    folder = library(tmp_path)
    out = tmp_path / "copies"
    found = read_folder_metadata(folder, ANA, None, ["training"], MetadataOptions(embed_dir=out))
    listing = list_folder(out)
    assert found.known == {
        cache_key(relative, size, mtime): hashlib.sha256((out / relative).read_bytes()).digest()
        for relative, size, mtime in zip(listing.relatives, listing.sizes, listing.mtimes,
                                         strict=True)}


def test_packaging_takes_known_digests_only_for_unchanged_files(tmp_path: Path) -> None:
    from ledger.app.file_hashes import cache_key
    from ledger.app.packager import PackageSpec, package_dir

    folder = tmp_path / "copies"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a")
    (folder / "b.bin").write_bytes(b"b")
    stand_in = bytes(range(32))
    known = {cache_key(name, 1, (folder / name).stat().st_mtime_ns): stand_in
             for name in ("a.bin", "b.bin")}
    os.utime(folder / "b.bin", ns=(1, 1))  # changed since its digest was taken
    spec = PackageSpec(ANA, ["non-exclusive-training"], payout="stripe:acct_1")
    hashes = {asset["id"]: asset["hash"]
              for asset in package_dir(folder, spec, known=known)["assets"]}
    assert hashes == {"asset:a.bin": "sha256:" + stand_in.hex(),
                      "asset:b.bin": "sha256:" + hashlib.sha256(b"b").hexdigest()}


def test_a_copy_signed_after_writing_is_hashed_from_its_final_bytes(tmp_path: Path) -> None:
    from ledger.app.packager import PackageSpec, package_dir

    folder = library(tmp_path)
    out = tmp_path / "copies"

    def sign(path: Path, claims: object) -> None:
        with path.open("ab") as handle:
            handle.write(b"signed")

    found = read_folder_metadata(folder, ANA, None, ["training"],
                                 MetadataOptions(embed_dir=out, sign_copy=sign))
    assert len(found.known) == 1  # notes.txt, copied as is; the images were signed
    spec = PackageSpec(ANA, ["non-exclusive-training"], payout="stripe:acct_1")
    manifest = package_dir(out, spec, known=found.known)
    assert {asset["id"]: asset["hash"]
            for asset in manifest["assets"]} == {
        asset_id: "sha256:" + hashlib.sha256((out / relative).read_bytes()).hexdigest()
        for asset_id, relative in (("asset:a.jpg", "a.jpg"), ("asset:trip-b.png", "trip/b.png"),
                                   ("asset:c.webp", "c.webp"), ("asset:notes.txt", "notes.txt"))}
