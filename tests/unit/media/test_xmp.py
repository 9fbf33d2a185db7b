"""Reading and writing images' own metadata (ledger.media.xmp, ledger.media.formats).

What ledger writes is read back by exiftool, a reader we did not write, through
pyexiftool: the values must come back identical.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ledger.core.rights import (
    DMI_ALLOWED,
    DMI_PROHIBITED_AIML,
    PLUS_VOCAB,
    EmbeddedRights,
    claims_for,
)
from ledger.media.formats import JPEG, PNG, WEBP, sniff, sniff_file
from ledger.media.jpeg_segments import header_segments
from ledger.media.jpeg_xmp import (
    EXTENDED_SIGNATURE,
    copy_replacing_xmp,
    read_packet,
    replace_xmp,
    with_packet,
)
from ledger.media.xmp import (
    MetadataError,
    embed,
    embed_file,
    read_rights,
    read_rights_file,
    strip_location,
    xmp_properties,
)
from tests.unit.media.images import (
    BERLIN_GPS,
    copyright_owner,
    data_mining,
    image,
    owners,
    rights,
)

KINDS = ("jpg", "png", "webp")
CLAIMS = claims_for(["non-exclusive-training"], creator_id="creator:ana", asset_id="asset:a.jpg",
                    holder="Ana Lima",
                    web_statement="https://ledger.test/v1/creators/creator:ana/records")
needs_exiftool = pytest.mark.skipif(
    shutil.which("exiftool") is None,
    reason="exiftool is not installed (apt install libimage-exiftool-perl): the independent "
    "reader of the round trip")


@pytest.fixture(scope="module")
def exiftool() -> Iterator[Any]:
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed")
    import exiftool as pyexiftool  # type: ignore[import-untyped]

    with pyexiftool.ExifToolHelper(common_args=["-G1", "-n", "-struct"]) as helper:
        yield helper


def read_back(helper: Any, path: Path) -> dict[str, Any]:
    """Every tag exiftool finds, by family-1 group:name, values unconverted (-n)."""
    [tags] = helper.get_metadata(str(path))
    return dict(tags)


@pytest.mark.parametrize(("head", "kind"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", JPEG), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d", PNG),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", WEBP), (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
    (b"GIF89a\x01\x00\x01\x00\x00\x00", None), (b"%PDF-1.7\n", None), (b"", None),
    (b"RIFF", None),
])
def test_sniff_by_magic_bytes(head: bytes, kind: str | None) -> None:
    assert sniff(head) == kind


def test_sniff_ignores_the_name(tmp_path: Path) -> None:
    path = tmp_path / "looks-like.jpg"
    path.write_bytes(image("png"))
    assert sniff_file(path) == PNG


@pytest.mark.parametrize("kind", KINDS)
def test_capture_date_with_offset_and_camera_facts(kind: str) -> None:
    data = image(kind, exif={"DateTimeOriginal": "2025:11:02 14:22:00",
                             "OffsetTimeOriginal": "+02:00", "BodySerialNumber": "B-123",
                             "LensSerialNumber": "L-9", "CameraOwnerName": "Ana Lima",
                             "Artist": "Bob Stone", "Copyright": "(c) Bob Stone"})
    found = read_rights(data)
    assert found.capture_date == "2025-11-02T12:22:00Z"
    assert found.capture_date_source == "exif"
    assert found.capture_date_local == "2025:11:02 14:22:00"
    assert found.serials == ("B-123", "L-9")
    assert found.owner_names == ("Ana Lima",)
    assert found.owners == ("Bob Stone",)
    assert found.notices == ("(c) Bob Stone",)
    assert not found.gps


@pytest.mark.parametrize("kind", KINDS)
def test_no_offset_no_capture_date_unless_gps_tells_the_time(kind: str) -> None:
    local = read_rights(image(kind, exif={"DateTimeOriginal": "2025:11:02 14:22:00"}))
    assert local.capture_date is None and local.capture_date_local == "2025:11:02 14:22:00"
    located = read_rights(image(kind, exif={"DateTimeOriginal": "2025:11:02 14:22:00"},
                                gps=BERLIN_GPS))
    assert located.gps
    assert (located.capture_date, located.capture_date_source) == ("2025-11-02T12:22:05Z", "gps")


@pytest.mark.parametrize("kind", KINDS)
def test_existing_xmp_rights(kind: str) -> None:
    xmp = (data_mining("DMI-PROHIBITED-AIMLTRAINING") + owners(["Bob Stone", "Cy"])
           + rights("© 2024 Bob Stone") + copyright_owner("Stone Images Ltd")
           + "<xmpRights:Marked>True</xmpRights:Marked>"
           + "<xmpRights:WebStatement>https://bob.test/terms</xmpRights:WebStatement>")
    found = read_rights(image(kind, xmp=xmp))
    assert found.data_mining == PLUS_VOCAB + "DMI-PROHIBITED-AIMLTRAINING"
    assert found.owners == ("Bob Stone", "Cy", "Stone Images Ltd")
    assert found.notices == ("© 2024 Bob Stone",)
    assert found.marked is True
    assert found.web_statement == "https://bob.test/terms"


def test_iptc_by_line_and_copyright() -> None:
    found = read_rights(image("jpg", iptc={"Iptc.Application2.Byline": ["Dee Photo"],
                                           "Iptc.Application2.Copyright": "Dee Photo 2024"}))
    assert found.owners == ("Dee Photo",) and found.notices == ("Dee Photo 2024",)


@pytest.mark.parametrize("data", [b"\xff\xd8\xff\xe0 truncated", b"", b"not an image at all"])
def test_unreadable_metadata_is_a_metadata_error(data: bytes) -> None:
    with pytest.raises(MetadataError, match="metadata unreadable"):
        read_rights(data)


@needs_exiftool
@pytest.mark.parametrize("kind", KINDS)
def test_what_we_write_exiftool_reads_back_identically(
    kind: str, tmp_path: Path, exiftool: Any
) -> None:
    original = image(kind, exif={"DateTimeOriginal": "2025:11:02 14:22:00"},
                     xmp=data_mining("DMI-PROHIBITED") + rights("old notice"))
    path = tmp_path / f"copy.{kind}"
    path.write_bytes(embed(original, CLAIMS))
    tags = read_back(exiftool, path)
    assert tags["XMP-plus:DataMining"] == DMI_ALLOWED
    assert tags["XMP-dc:Rights"] == CLAIMS.rights
    assert tags["XMP-xmpRights:Marked"] in (True, 1, "True")
    assert tags["XMP-xmpRights:UsageTerms"] == CLAIMS.usage_terms
    assert tags["XMP-xmpRights:WebStatement"] == CLAIMS.web_statement
    assert tags["XMP-ledger:CreatorId"] == "creator:ana"
    assert tags["XMP-ledger:AssetId"] == "asset:a.jpg"
    assert tags["XMP-ledger:TrainingMining"] == [
        "cawg.ai_generative_training=allowed", "cawg.ai_training=allowed",
        "cawg.data_mining=allowed"]
    assert tags["ExifIFD:DateTimeOriginal"] == "2025:11:02 14:22:00"
    assert read_rights(path.read_bytes()).ledger_creator == "creator:ana"


@needs_exiftool
@pytest.mark.parametrize("kind", KINDS)
def test_strip_location_on_the_copy(kind: str, tmp_path: Path, exiftool: Any) -> None:
    original = image(kind, gps=BERLIN_GPS, exif={"Artist": "Ana"},
                     xmp="<photoshop:City>Berlin</photoshop:City>"
                     "<exif:GPSLatitude>52,31.2N</exif:GPSLatitude>")
    path = tmp_path / f"copy.{kind}"
    withheld = claims_for(["cc-by-4.0"], creator_id="creator:ana", asset_id="asset:a",
                          holder="Ana", web_statement=None)
    path.write_bytes(embed(original, withheld, strip_location=True))
    tags = read_back(exiftool, path)
    assert not [name for name in tags if "GPS" in name or name.endswith(":City")]
    assert tags["XMP-plus:DataMining"] == DMI_PROHIBITED_AIML
    assert "XMP-xmpRights:WebStatement" not in tags
    assert tags["IFD0:Artist"] == "Ana"
    assert read_rights(original).gps and not read_rights(path.read_bytes()).gps
    assert not read_rights(strip_location(original)).gps


@pytest.mark.parametrize("kind", KINDS)
def test_the_pixels_are_not_touched(kind: str) -> None:
    original = image(kind)
    copy = embed(original, CLAIMS, strip_location=True)
    assert copy != original
    with Image.open(io.BytesIO(original)) as before, Image.open(io.BytesIO(copy)) as after:
        assert before.tobytes() == after.tobytes()


def test_the_properties_written() -> None:
    assert set(xmp_properties(CLAIMS)) == {
        "Xmp.plus.DataMining", "Xmp.dc.rights", "Xmp.xmpRights.Marked",
        "Xmp.xmpRights.UsageTerms", "Xmp.xmpRights.WebStatement", "Xmp.ledger.CreatorId",
        "Xmp.ledger.AssetId", "Xmp.ledger.TrainingMining"}


def test_a_corrupt_image_cannot_be_written() -> None:
    with pytest.raises(MetadataError):
        embed(b"\xff\xd8\xff\xe0 truncated", CLAIMS)


@pytest.mark.parametrize("kind", KINDS)
def test_reading_a_file_reads_the_same_facts(kind: str, tmp_path: Path) -> None:
    data = image(kind, exif={"DateTimeOriginal": "2025:11:02 14:22:00", "Artist": "Bob"},
                 gps=BERLIN_GPS, xmp=data_mining("DMI-PROHIBITED") + owners(["Cy"]))
    path = tmp_path / f"ünï cödé.{kind}"
    path.write_bytes(data)
    assert read_rights_file(path) == read_rights(data)
    path.write_bytes(data[:40])
    with pytest.raises(MetadataError):
        read_rights_file(path)


def test_a_jpeg_without_metadata_segments_is_not_given_to_exiv2(tmp_path: Path) -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 24)).save(out, "JPEG")
    bare = out.getvalue()
    commented = bare[:2] + b"\xff\xfe\x00\x07hello" + bare[2:]
    for data in (bare, commented):
        path = tmp_path / "bare.jpg"
        path.write_bytes(data)
        assert read_rights(data) == read_rights_file(path) == EmbeddedRights()


def _segments(data: bytes) -> list[bytes]:
    found = header_segments(data)
    assert found is not None
    return [data[start:start + 4] + data[start + 4:start + 12] for _, start, _ in found]


@needs_exiftool
def test_a_jpeg_keeps_its_bytes_but_the_xmp_segment(tmp_path: Path, exiftool: Any) -> None:
    original = image("jpg", exif={"DateTimeOriginal": "2025:11:02 14:22:00", "Artist": "Ana"})
    assert read_packet(original) == b""
    copy = embed(original, CLAIMS)
    header = header_segments(original)
    assert header is not None
    scan = original[header[-1][2]:]
    assert copy.endswith(scan) and copy.startswith(original[:header[0][1]])
    markers = [marker for marker, _, _ in header_segments(copy) or []]
    assert markers[:3] == [0xE0, 0xE1, 0xE1]  # JFIF, Exif, then our XMP
    path = tmp_path / "copy.jpg"
    path.write_bytes(copy)
    tags = read_back(exiftool, path)
    assert tags["ExifIFD:DateTimeOriginal"] == "2025:11:02 14:22:00"
    assert tags["IFD0:Artist"] == "Ana" and tags["XMP-ledger:CreatorId"] == "creator:ana"
    again = embed(copy, CLAIMS)
    assert len(_segments(again)) == len(_segments(copy))  # replaced, not added


def test_other_xmp_survives_the_merge() -> None:
    original = image("jpg", xmp=owners(["Bob"]) + data_mining("DMI-PROHIBITED"))
    found = read_rights(embed(original, CLAIMS))
    assert found.owners == ("Bob",) and found.data_mining == DMI_ALLOWED


@pytest.mark.parametrize("mutation", ["extended-xmp", "no-sos", "bad-length", "not-jpeg"])
def test_files_the_segment_path_leaves_to_exiv2(mutation: str) -> None:
    original = image("jpg")
    if mutation == "extended-xmp":
        body = EXTENDED_SIGNATURE + b"x" * 40
        data = original[:2] + b"\xff\xe1" + len(body + b"..").to_bytes(2, "big") + body \
            + original[2:]
    else:
        data = {"no-sos": original[:30], "bad-length": original[:4] + b"\xff\xff" + original[6:],
                "not-jpeg": image("png")}[mutation]
    assert read_packet(data) is None
    assert replace_xmp(data, lambda old: b"<x/>") is None
    if mutation == "extended-xmp":  # exiv2 still writes it, whole-file
        assert read_rights(embed(data, CLAIMS)).ledger_creator == "creator:ana"


def test_a_packet_over_one_segment_is_refused() -> None:
    assert with_packet(image("jpg"), b" " * 70_000) is None


def _with_segments(data: bytes, count: int, size: int) -> bytes:
    """``data`` (a JPEG) with ``count`` comment segments of ``size`` bytes after SOI."""
    segment = b"\xff\xfe" + (size + 2).to_bytes(2, "big") + b"c" * size
    return data[:2] + segment * count + data[2:]


@pytest.mark.parametrize("kind", ["small", "header-over-one-read", "with-xmp"])
def test_a_copy_made_file_to_file_is_the_copy_made_in_memory(kind: str, tmp_path: Path) -> None:
    original = {"small": image("jpg"),
                "header-over-one-read": _with_segments(image("jpg"), 4, 60_000),
                "with-xmp": image("jpg", xmp=owners(["Bob"]))}[kind]
    source, target = tmp_path / "in.jpg", tmp_path / "out.jpg"
    source.write_bytes(original)
    digest = embed_file(source, target, CLAIMS)
    assert target.read_bytes() == embed(original, CLAIMS)
    assert digest == hashlib.sha256(target.read_bytes()).digest()
    assert source.read_bytes() == original


@pytest.mark.parametrize("kind", ["png", "webp", "no-sos"])
def test_what_the_segment_path_leaves_is_embedded_whole(kind: str, tmp_path: Path) -> None:
    original = image(kind) if kind != "no-sos" else image("jpg")[:30]
    source, target = tmp_path / "in", tmp_path / "out"
    source.write_bytes(original)
    assert not copy_replacing_xmp(source, target, lambda old: b"<x/>")
    assert not target.exists()
    if kind != "no-sos":
        digest = embed_file(source, target, CLAIMS)
        assert target.read_bytes() == embed(original, CLAIMS)
        assert digest == hashlib.sha256(target.read_bytes()).digest()


def test_metadata_is_read_from_the_header_alone() -> None:
    original = image("jpg", exif={"DateTimeOriginal": "2024:05:01 10:00:00",
                                  "OffsetTimeOriginal": "+02:00", "Artist": "Bob"},
                     gps=BERLIN_GPS, xmp=owners(["Bob"]) + data_mining("DMI-PROHIBITED"))
    cut = header_segments(original)
    assert cut
    # Whatever follows the header (here: garbage instead of image data) is not read.
    assert read_rights(original) == read_rights(original[:cut[-1][2]] + b"\xff\xda" + b"\0" * 9)
