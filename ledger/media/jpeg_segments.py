"""The marker segments of a JPEG's header, read one header at a time.

A JPEG is SOI, then marker segments (``FF``, the marker, a big-endian length that counts
itself, the payload) up to SOS, where the entropy-coded image data begins (ITU T.81
Annex B). The C2PA check streams through a file's segments and the XMP splice reads
them from bytes in memory: both walk them here, so one reading of the layout serves.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

SOI = b"\xff\xd8"
SOS, EOI = 0xDA, 0xD9
STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
"""Markers without a length or payload (TEM, RST0-7)."""


class Segment(NamedTuple):
    """A marker segment: its marker and where it starts (its ``FF``) and ends."""

    marker: int
    start: int
    end: int


def walk(handle: BinaryIO) -> Iterator[Segment]:
    """The segments of the JPEG open in ``handle``, from its position (just past SOI)
    up to and including SOS or EOI, which end the walk as zero-length segments, as do
    the standalone markers. The walk stops early, without SOS or EOI, where the layout
    is not a JPEG's (no ``FF``, a fill byte, a length under 2, the file ends). The
    caller may read within a segment: the walk seeks to its end before going on."""
    offset = handle.tell()
    while True:
        handle.seek(offset)
        header = handle.read(4)
        if len(header) < 2 or header[0] != 0xFF or header[1] == 0xFF:
            return
        marker = header[1]
        if marker in (SOS, EOI) or marker in STANDALONE:
            yield Segment(marker, offset, offset + 2)
            if marker in (SOS, EOI):
                return
            offset += 2
            continue
        length = int.from_bytes(header[2:], "big")
        if len(header) < 4 or length < 2:
            return
        yield Segment(marker, offset, offset + 2 + length)
        offset += 2 + length


def header_segments(data: bytes) -> list[Segment] | None:
    """The segments of the JPEG ``data`` before SOS; None when ``data`` does not start
    with SOI, holds a standalone marker or EOI before SOS, or ends before SOS's length,
    or a segment runs past its end."""
    if not data.startswith(SOI):
        return None
    reader = io.BytesIO(data)
    reader.seek(len(SOI))
    found: list[Segment] = []
    for segment in walk(reader):
        if segment.marker == SOS:
            return found if segment.start + 4 <= len(data) else None
        if segment.marker == EOI or segment.marker in STANDALONE or segment.end > len(data):
            return None
        found.append(segment)
    return None
