"""The marketplace export: a signed manifest as ``dataset_manifest.json`` and
``dataset_manifest.csv``, one row per file in the keys dataset marketplaces use
(creator_id, license_id, attribution_url, provenance_hash, privacy flags,
rights_status), each row linking back to the signed manifest and the asset's public
record. docs/metadata.md ("Marketplace export") gives every field.

The manifest's signature is verified first, and a 1.1 library's entries are checked
against the root its header signed, so an export says only what the creator signed.
What the service knows (the anchor, the licence status now) comes from ``status``,
a callable the caller wires to the service, or stays null.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.core.asset_tree import AssetTree, check_entry_line, entry_bytes, entry_hash
from ledger.core.manifest import AnyManifest, Manifest, ManifestHeader, parse_manifest_json
from ledger.core.rights import licence_ids
from ledger.core.signing import verify_manifest
from ledger.core.times import iso_utc
from ledger.errors import ValidationError
from ledger.files import replace_file

DATASET_JSON = "dataset_manifest.json"
DATASET_CSV = "dataset_manifest.csv"
DATASET_FORMAT = "ledger-dataset/1"
PRIVACY_FLAGS = ("faces", "minors", "biometric", "pii")
COLUMNS = (
    "file", "sha256", "asset_id", "asset_index", "creator_id", "license_id", "license_ids",
    "attribution", "attribution_url", "provenance_hash", "manifest_digest", "record_url",
    *(f"privacy_{flag}" for flag in PRIVACY_FLAGS), "model_release", "property_release",
    "capture_date", "rights_status", "anchored_at", "anchor_chain_id", "anchor_block",
)

Status = Callable[[str, str, str], Mapping[str, Any] | None]
"""(sha256 hex, manifest digest, asset id) -> that registration's ``rights_status`` and
``anchor`` as the service says, or None when the service does not know it."""


@dataclass(frozen=True)
class DatasetExport:
    """What was written: the two files and how many rows."""

    json_file: Path
    csv_file: Path
    rows: int


def load_entries(manifest_file: Path, assets_file: Path | None = None
                 ) -> tuple[AnyManifest, list[dict[str, Any]]]:
    """The verified manifest at ``manifest_file`` and its asset entries in index order
    (a 1.1 library's from ``assets_file``, default ``assets.jsonl`` beside it)."""
    manifest = parse_manifest_json(manifest_file.read_bytes())
    verify_manifest(manifest)
    if isinstance(manifest, Manifest):
        return manifest, [asset.to_obj() for asset in manifest.assets]
    return manifest, _library_entries(manifest, assets_file or
                                      manifest_file.parent / "assets.jsonl")


def _library_entries(header: ManifestHeader, assets_file: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    hashes = bytearray()
    with assets_file.open("rb") as handle:
        for index, line in enumerate(handle):
            entry = check_entry_line(line.rstrip(b"\n"), f"assets[{index}]")
            hashes += entry_hash(entry)
            entries.append(json.loads(entry))
    if len(entries) != header.asset_count or (
            AssetTree.from_hashes(bytes(hashes)).root != header.assets_root):
        raise ValidationError(f"{assets_file} is not the list of assets the manifest signed "
                              "(its count or root differs)", field="assets")
    return entries


def dataset_rows(manifest: AnyManifest, entries: Iterable[Mapping[str, Any]], *,
                 record_base: str | None = None, status: Status | None = None
                 ) -> Iterator[dict[str, Any]]:
    """One row per asset, in index order, keyed by `COLUMNS`."""
    digest = manifest.digest_hex()
    creator = manifest.creator.id
    for index, entry in enumerate(entries):
        sha = str(entry["hash"]).removeprefix("sha256:")
        record = (f"{record_base.rstrip('/')}/v1/assets/by-hash/{sha}"
                  if record_base else None)
        if status is None:
            found: Mapping[str, Any] = {"rights_status": "unchecked"}
        else:
            found = status(sha, digest, str(entry["id"])) or {"rights_status": "not_registered"}
        yield _row(entry, index, creator, digest, record, found)


def _row(entry: Mapping[str, Any], index: int, creator: str, digest: str,
         record: str | None, found: Mapping[str, Any]) -> dict[str, Any]:
    ids = licence_ids(entry["licenses"])
    privacy = entry.get("privacy") or {}
    consent = entry.get("consent") or {}
    url = entry.get("url")
    anchor = found.get("anchor") or {}
    return {
        "file": _file_name(url), "sha256": str(entry["hash"]).removeprefix("sha256:"),
        "asset_id": entry["id"], "asset_index": index, "creator_id": creator,
        "license_id": ids[0], "license_ids": ids, "attribution": entry.get("attribution"),
        "attribution_url": record or (url if _public(url) else None),
        "provenance_hash": "sha256:" + entry_hash(entry_bytes(dict(entry))).hex(),
        "manifest_digest": digest, "record_url": record,
        **{f"privacy_{flag}": bool(privacy.get(flag)) for flag in PRIVACY_FLAGS},
        "model_release": consent.get("modelRelease"),
        "property_release": consent.get("propertyRelease"),
        "capture_date": entry.get("captureDate"),
        "rights_status": found.get("rights_status"),
        "anchored_at": iso_utc(anchor["blockTimestamp"]) if "blockTimestamp" in anchor else None,
        "anchor_chain_id": anchor.get("chainId"),
        "anchor_block": anchor.get("blockNumber"),
    }


def _file_name(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rpartition("/")[2])
    return name or None


def _public(url: Any) -> bool:
    return isinstance(url, str) and url.startswith("https://")


def write_dataset(out_dir: Path, manifest: AnyManifest, rows: Iterable[Mapping[str, Any]],
                  *, manifest_file: str) -> DatasetExport:
    """Write ``dataset_manifest.json`` and ``.csv`` into ``out_dir`` (made if missing);
    each replaces an earlier one only once complete."""
    listed = list(rows)
    document = {
        "format": DATASET_FORMAT, "manifest_digest": manifest.digest_hex(),
        "manifest_file": manifest_file, "manifest_version": manifest.manifest_version,
        "creator_id": manifest.creator.id, "files": listed,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    json_file, csv_file = out_dir / DATASET_JSON, out_dir / DATASET_CSV
    replace_file(json_file, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())
    replace_file(csv_file, csv_text(listed).encode())
    return DatasetExport(json_file, csv_file, len(listed))


def csv_text(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as CSV with a header line: lists joined by ``;``, booleans true/false,
    null empty; a cell that a spreadsheet would run as a formula is quoted with ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = ";".join(map(str, value)) if isinstance(value, list) else str(value)
    # CSV injection: =, +, -, @ (and tab, CR) open a formula in spreadsheets (OWASP).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

