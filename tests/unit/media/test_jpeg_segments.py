"""The one JPEG segment walker: what the C2PA check and the XMP splice both read a
header as, and where each stops on a file that is not laid out as a JPEG."""

from __future__ import annotations

import io

import pytest

from ledger.media.c2pa_boxes import may_hold_c2pa
from ledger.media.jpeg_segments import EOI, SOS, Segment, header_segments, walk

APP0 = b"\xff\xe0\x00\x06JFIF"
APP11_C2PA = b"\xff\xeb\x00\x0eJP\x00\x01jumbc2pa"
SCAN = b"\xff\xda\x00\x02" + b"\x00" * 4


def _walk(data: bytes) -> list[Segment]:
    handle = io.BytesIO(data)
    handle.seek(2)
    return list(walk(handle))


def test_a_header_is_walked_to_its_scan() -> None:
    data = b"\xff\xd8" + APP0 + b"\xff\xd0" + SCAN
    assert _walk(data) == [Segment(0xE0, 2, 10), Segment(0xD0, 10, 12), Segment(SOS, 12, 14)]
    assert header_segments(b"\xff\xd8" + APP0 + SCAN) == [Segment(0xE0, 2, 10)]


def test_the_walk_ends_at_eoi_and_reads_past_nothing() -> None:
    assert _walk(b"\xff\xd8" + APP0 + b"\xff\xd9" + SCAN)[-1] == Segment(EOI, 10, 12)


def test_the_caller_may_read_inside_a_segment() -> None:
    handle = io.BytesIO(b"\xff\xd8" + APP0 + SCAN)
    handle.seek(2)
    markers = []
    for segment in walk(handle):
        handle.read(3)
        markers.append(segment.marker)
    assert markers == [0xE0, SOS]


@pytest.mark.parametrize(("name", "data"), [
    ("fill byte before a marker", b"\xff\xd8\xff\xff\xe0\x00\x06JFIF" + SCAN),
    ("length under 2", b"\xff\xd8\xff\xe0\x00\x01" + SCAN),
    ("cut inside a length", b"\xff\xd8\xff\xe0\x00"),
    ("no marker where one is due", b"\xff\xd8" + APP0 + b"\x00\xda\x00\x02"),
    ("a segment past the end", b"\xff\xd8\xff\xe0\x01\x00JFIF"),
    ("eoi before the scan", b"\xff\xd8" + APP0 + b"\xff\xd9" + SCAN),
    ("a restart marker in the header", b"\xff\xd8\xff\xd0" + SCAN),
    ("cut inside the scan's length", b"\xff\xd8" + APP0 + b"\xff\xda"),
])
def test_odd_layouts_are_not_spliced_and_are_left_to_c2pa(name: str, data: bytes) -> None:
    assert header_segments(data) is None, name
    if not name.startswith(("eoi", "a restart", "cut inside the scan")):
        assert may_hold_c2pa(io.BytesIO(data)), name


def test_a_c2pa_store_is_found_and_its_absence_proven() -> None:
    assert may_hold_c2pa(io.BytesIO(b"\xff\xd8" + APP0 + APP11_C2PA + SCAN))
    assert not may_hold_c2pa(io.BytesIO(b"\xff\xd8" + APP0 + SCAN))
