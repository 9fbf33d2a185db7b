"""Whether a JPEG, PNG or WebP file holds a C2PA manifest store, from its structure alone.

Most files packaged carry no manifest, and c2pa reads a whole file to find that out
(about as long as hashing it). Walking the segment or chunk headers answers in a few
reads: a store lives in APP11 segments before the scan data (JPEG), in a ``caBX``
chunk (PNG) or in a ``C2PA`` chunk (WebP). The answer is False only when the walk ended
where the format says it ends without meeting one; a file whose structure is not what
its format says is left to c2pa (True).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from ledger.media.formats import JPEG, PNG, WEBP, sniff
from ledger.media.jpeg_segments import EOI, SOI, SOS, Segment, walk

_HEAD = 12
_APP11 = 0xEB
_JUMBF_LABEL = 64
"""An APP11 segment names its JUMBF store's type (``c2pa``) within its first bytes."""


def may_hold_c2pa(handle: BinaryIO) -> bool:
    """False when the file open in ``handle`` (at its start) is a well-formed JPEG, PNG or
    WebP without a C2PA manifest store; True otherwise. The position is left anywhere."""
    kind = sniff(handle.read(_HEAD))
    walk = {JPEG: _jpeg, PNG: _png, WEBP: _webp}.get(kind or "")
    return True if walk is None else walk(handle)


def jpeg_header_holds_c2pa(data: bytes, segments: Iterable[Segment]) -> bool:
    """Whether the JPEG ``data``, whose `header_segments` are ``segments``, holds a C2PA
    manifest store (in an APP11 segment of its header, the only place one can be)."""
    return any(marker == _APP11 and b"c2pa" in data[start + 4:min(end, start + 4 + _JUMBF_LABEL)]
               for marker, start, end in segments)


def _jpeg(handle: BinaryIO) -> bool:
    handle.seek(len(SOI))
    for marker, start, end in walk(handle):
        if marker in (SOS, EOI):
            return False
        if marker == _APP11:
            handle.seek(start + 4)
            if b"c2pa" in handle.read(min(end - start - 4, _JUMBF_LABEL)):
                return True
    return True


def _png(handle: BinaryIO) -> bool:
    handle.seek(8)
    while True:
        header = handle.read(8)
        if len(header) < 8:
            return True
        if header[4:] == b"caBX":
            return True
        if header[4:] == b"IEND":
            return False
        handle.seek(int.from_bytes(header[:4], "big") + 4, 1)  # data, then its CRC


def _webp(handle: BinaryIO) -> bool:
    handle.seek(_HEAD)
    while True:
        header = handle.read(8)
        if not header:
            return False
        if len(header) < 8:
            return True
        if header[:4] == b"C2PA":
            return True
        size = int.from_bytes(header[4:], "little")
        handle.seek(size + (size & 1), 1)  # chunks are padded to an even size
