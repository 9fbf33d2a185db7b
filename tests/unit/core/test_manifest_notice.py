"""Manifest format 1.2: a licence's ``revocationNotice``, and only from 1.2 on."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from ledger.app.chunks import ChunkJob, check_chunk
from ledger.core.asset_tree import AssetTree, entry_bytes
from ledger.core.licence_status import DEFAULT_NOTICE_MS, notice_ms
from ledger.core.manifest import Manifest, ManifestHeader, parse_manifest
from ledger.core.signing import P256SigningKey, sign_manifest
from ledger.errors import ValidationError

KEY = P256SigningKey.from_secret(0x6E6F74696365)
CREATOR = {"id": "creator:ada", "payout": "stripe:acct_1"}


def _entry(i: int, notice: int | None) -> dict[str, Any]:
    licence: dict[str, Any] = {"id": "non-exclusive-training"}
    if notice is not None:
        licence["revocationNotice"] = notice
    return {"id": f"asset:n-{i}", "type": "image/png",
            "hash": "sha256:" + hashlib.sha256(b"%d" % i).hexdigest(),
            "licenses": ["CC-BY-4.0", licence]}


def _header(version: str, entries: list[dict[str, Any]]) -> ManifestHeader:
    tree = AssetTree.from_entries([entry_bytes(e) for e in entries])
    return ManifestHeader.from_obj(sign_manifest({
        "manifestVersion": version, "creator": CREATOR, "assetCount": tree.count,
        "assetsRoot": "0x" + tree.root.hex()}, KEY))


def _chunk(version: str, entries: list[dict[str, Any]]) -> ChunkJob:
    header = _header(version, entries)
    body = json.dumps({"assets": entries, "proof": []}).encode()
    return ChunkJob(body, header.digest(), header.assets_root, header.asset_count,
                    len(entries), 0, 0, len(entries), version)


def test_a_1_2_header_parses_signs_and_dispatches_like_1_1() -> None:
    header = _header("1.2", [_entry(0, 86_400)])
    assert header.manifest_version == "1.2"
    assert isinstance(parse_manifest(header.to_obj()), ManifestHeader)
    assert ManifestHeader.from_obj(header.to_obj()) == header


def test_a_1_2_chunk_may_declare_notices_and_a_1_1_chunk_may_not() -> None:
    entries = [_entry(0, 86_400), _entry(1, None)]
    assert len(check_chunk(_chunk("1.2", entries)).assets) == 2
    with pytest.raises(ValidationError) as caught:
        check_chunk(_chunk("1.1", entries))
    assert caught.value.field == "assets[0].licenses[1].revocationNotice"
    check_chunk(_chunk("1.1", [_entry(1, None)]))


def test_a_1_0_manifest_may_not_declare_a_notice() -> None:
    obj = {"manifestVersion": "1.0", "creator": {**CREATOR, "signingKey": KEY.public_id},
           "assets": [_entry(0, 60)],
           "signature": "p256ecdsa:AA=="}
    with pytest.raises(ValidationError) as caught:
        Manifest.from_obj(obj)
    assert caught.value.field == "assets[0].licenses[1].revocationNotice"


@pytest.mark.parametrize("bad", [-1, 1.5, "30 days", 10 * 365 * 86_400 + 1, True])
def test_a_notice_is_whole_seconds_up_to_ten_years(bad: Any) -> None:
    with pytest.raises(ValidationError):
        entry_bytes(_entry(0, bad))


def test_the_notice_is_the_longest_declared_else_thirty_days() -> None:
    entry = _entry(0, 60)
    entry["licenses"].append({"id": "custom:x", "revocationNotice": 120})
    assert notice_ms(entry) == 120_000
    assert notice_ms(_entry(0, None)) == DEFAULT_NOTICE_MS == 30 * 86_400_000
    assert notice_ms(_entry(0, 0)) == 0
