"""``ledger export dataset``: a signed manifest becomes dataset_manifest.json and .csv in
the keys marketplaces use; an unsigned, tampered or mismatched input is refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.app.dataset_export import COLUMNS, dataset_rows, load_entries
from ledger.app.packager import PackageSpec, package_dir, package_library
from ledger.cli.main import main
from ledger.core.signing import sign_manifest
from ledger.keyfile import generate_key

KEY = generate_key("p256")
SPEC = PackageSpec(
    "creator:ana", ["non-exclusive-training", "cc-by-4.0"], signing_key=KEY.public_id,
    wallet="0x" + "ab" * 20, creator_name="Ana", url_base="https://cdn.example.com/ana",
    consent={"modelRelease": "https://example.com/release.pdf"},
    privacy={"faces": True, "minors": False}, attribution="Photo: Ana",
)


def _library(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    (folder / "trip" / "Beach 01.jpg").write_bytes(b"beach bytes")
    (folder / "=cmd.txt").write_bytes(b"a name a spreadsheet would run")
    return folder


def _signed(tmp_path: Path) -> Path:
    manifest = sign_manifest(package_dir(_library(tmp_path), SPEC), KEY)
    target = tmp_path / "manifest.json"
    target.write_text(json.dumps(manifest))
    return target


def _export(*argv: str) -> int:
    return main(["export", "dataset", *argv])


def test_rows_carry_the_usual_keys_and_link_to_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _signed(tmp_path)
    out = tmp_path / "out"
    assert _export(str(manifest), "-o", str(out)) == 0
    assert capsys.readouterr().out.startswith("2 files: ")
    document = json.loads((out / "dataset_manifest.json").read_text())
    digest = load_entries(manifest)[0].digest_hex()
    assert document["format"] == "ledger-dataset/1" and document["manifest_digest"] == digest
    assert document["manifest_file"] == "manifest.json"
    beach = next(row for row in document["files"] if row["asset_id"].endswith("beach-01.jpg"))
    assert set(beach) == set(COLUMNS)
    assert beach["file"] == "Beach 01.jpg" and beach["creator_id"] == "creator:ana"
    assert (beach["license_id"], beach["license_ids"]) == (
        "non-exclusive-training", ["non-exclusive-training", "cc-by-4.0"])
    assert beach["privacy_faces"] is True and beach["privacy_minors"] is False
    assert beach["model_release"] == "https://example.com/release.pdf"
    assert beach["attribution_url"] == "https://cdn.example.com/ana/trip/Beach%2001.jpg"
    assert beach["provenance_hash"].startswith("sha256:") and beach["record_url"] is None
    assert beach["rights_status"] == "unchecked" and beach["anchored_at"] is None
    with (out / "dataset_manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 2
    spreadsheet = next(row for row in rows if row["file"].endswith("cmd.txt"))
    assert spreadsheet["file"] == "'=cmd.txt"  # not a formula
    assert next(row for row in rows if row["file"] == "Beach 01.jpg")["license_ids"] == \
        "non-exclusive-training;cc-by-4.0"


def test_the_service_gives_status_anchor_and_record_url(tmp_path: Path) -> None:
    manifest, entries = load_entries(_signed(tmp_path))
    answers: dict[tuple[str, str], Any] = {}

    def status(sha: str, digest: str, asset_id: str) -> dict[str, Any] | None:
        answers[(sha, asset_id)] = digest
        if "beach" not in asset_id:
            return None
        return {"rights_status": "licensable",
                "anchor": {"chainId": 31337, "blockNumber": 7, "blockTimestamp": 1_700_000_000}}

    rows = list(dataset_rows(manifest, entries, record_base="https://ledger.example/",
                             status=status))
    beach = next(row for row in rows if "beach" in row["asset_id"])
    other = next(row for row in rows if "beach" not in row["asset_id"])
    assert (beach["rights_status"], beach["anchored_at"], beach["anchor_block"]) == (
        "licensable", "2023-11-14T22:13:20Z", 7)
    assert beach["record_url"] == f"https://ledger.example/v1/assets/by-hash/{beach['sha256']}"
    assert beach["attribution_url"] == beach["record_url"]
    assert other["rights_status"] == "not_registered"
    assert set(answers.values()) == {manifest.digest_hex()}


def test_a_library_is_read_from_its_assets_file(tmp_path: Path) -> None:
    assets = tmp_path / "assets.jsonl"
    header = sign_manifest(package_library(_library(tmp_path), SPEC, assets), KEY)
    (tmp_path / "manifest.json").write_text(json.dumps(header))
    out = tmp_path / "out"
    assert _export(str(tmp_path / "manifest.json"), "-o", str(out)) == 0
    files = json.loads((out / "dataset_manifest.json").read_text())["files"]
    assert [row["asset_index"] for row in files] == [0, 1]
    assets.write_text(assets.read_text().splitlines()[0] + "\n")  # one entry dropped
    assert _export(str(tmp_path / "manifest.json"), "-o", str(out)) == 2


@pytest.mark.parametrize("mutation", ["unsigned", "tampered", "not json"])
def test_bad_manifests_are_refused_and_nothing_is_written(
    tmp_path: Path, mutation: str, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _signed(tmp_path)
    obj = json.loads(manifest.read_text())
    if mutation == "unsigned":
        del obj["signature"]
    elif mutation == "tampered":
        obj["assets"][0]["licenses"] = ["exclusive-training"]
    manifest.write_text("{" if mutation == "not json" else json.dumps(obj))
    assert _export(str(manifest), "-o", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.startswith("ledger: error: ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_stale_temporary_link_is_neither_followed_nor_installed(tmp_path: Path) -> None:
    # The temporary names were fixed (.dataset_manifest.json.tmp): a link left there
    # (or a second export writing into the same folder at once) was written through.
    manifest, out = _signed(tmp_path), tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / ".dataset_manifest.json.tmp").symlink_to(victim)
    (out / ".dataset_manifest.csv.tmp").mkdir()
    assert _export(str(manifest), "-o", str(out)) == 0
    assert victim.read_text() == "keep me"
    for name in ("dataset_manifest.json", "dataset_manifest.csv"):
        assert not (out / name).is_symlink() and (out / name).is_file()
    assert sorted(p.name for p in out.iterdir()) == [
        ".dataset_manifest.csv.tmp", ".dataset_manifest.json.tmp",
        "dataset_manifest.csv", "dataset_manifest.json"]
