"""Replace a JPEG's XMP segment without rewriting the rest of the file through exiv2.

exiv2 parses and re-serialises a whole JPEG to change its XMP, several times the cost of
hashing it. The XMP of a JPEG is one APP1 segment (``http://ns.adobe.com/xap/1.0/``
and the packet, at most 64 KiB; XMP Specification Part 3, §1.1.3), so the copy is the
original's bytes with that one segment swapped: the packet itself is still merged and
serialised by exiv2, on a one-pixel stand-in image. Files this does not cover
(extended XMP, a packet over 64 KiB, an unusual segment layout) get None, and the
caller takes exiv2's whole-file path. ``copy_replacing_xmp`` does the same from file to
file, holding only the header in memory: the image data, most of the file, streams
through in blocks, hashed as it is written, so the copy's SHA-256 costs no second read.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ledger.media.hashed_copy import copy_hashing
from ledger.media.jpeg_segments import SOI, header_segments

XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_SIGNATURE = b"http://ns.adobe.com/xmp/extension/\x00"
_APP1 = 0xE1
_MAX_SEGMENT = 0xFFFF - 2
_HEAD_BLOCK = 128 * 1024
_MAX_HEAD = 4 * 1024 * 1024  # beyond this, a header is odd enough for exiv2's path


def _is_xmp(data: bytes, marker: int, start: int, signature: bytes) -> bool:
    return marker == _APP1 and data.startswith(signature, start + 4)


def read_packet(data: bytes) -> bytes | None:
    """The XMP packet of the JPEG ``data`` (b"" when it has none); None when this module
    does not handle the file (not a plain JPEG, or extended XMP)."""
    segments = header_segments(data)
    if segments is None or any(_is_xmp(data, m, s, EXTENDED_SIGNATURE) for m, s, _ in segments):
        return None
    for marker, start, end in segments:
        if _is_xmp(data, marker, start, XMP_SIGNATURE):
            return data[start + 4 + len(XMP_SIGNATURE):end]
    return b""


def with_packet(data: bytes, packet: bytes) -> bytes | None:
    """``data`` with its XMP segment replaced by one holding ``packet`` (inserted after
    the APP0/APP1 segments when it had none); None when the packet does not fit one
    segment or the file is not one this module handles."""
    segments = header_segments(data)
    body = XMP_SIGNATURE + packet
    if segments is None or len(body) > _MAX_SEGMENT:
        return None
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    kept = [(m, s, e) for m, s, e in segments if not _is_xmp(data, m, s, XMP_SIGNATURE)]
    leading = 0
    while leading < len(kept) and kept[leading][0] in (0xE0, _APP1):
        leading += 1
    view = memoryview(data)
    parts: list[bytes | memoryview] = [
        SOI, *(view[start:end] for _, start, end in kept[:leading]), segment,
        *(view[start:end] for _, start, end in kept[leading:]),
        view[segments[-1][2] if segments else 2:],
    ]
    return b"".join(parts)


def copy_replacing_xmp(source: Path, target: Path,
                       merge: Callable[[bytes], bytes | None]) -> bytes | None:
    """Write ``target``: the JPEG at ``source`` with its XMP packet replaced by
    ``merge(old packet)``, as `replace_xmp` gives it, holding only the header segments
    in memory; the SHA-256 of the bytes written. None, and nothing written, when this
    module does not handle the file or ``merge`` gives None."""
    with source.open("rb", buffering=0) as reader:
        head = _read_head(reader)
        spliced = None if head is None else replace_xmp(head, merge)
        if spliced is None:
            return None
        hasher = hashlib.sha256(spliced)
        with target.open("wb", buffering=0) as writer:
            writer.write(spliced)
            copy_hashing(reader, writer, hasher)
    return hasher.digest()


def _read_head(reader: BinaryIO) -> bytes | None:
    """The file's first bytes, through its first SOS marker segment; None when that
    is not within `_MAX_HEAD` bytes."""
    head = b""
    while len(head) < _MAX_HEAD:
        block = reader.read(_HEAD_BLOCK)
        if not block:
            return None
        head += block
        segments = header_segments(head)
        if segments is not None:
            return head
    return None


def replace_xmp(data: bytes, merge: Callable[[bytes], bytes | None]) -> bytes | None:
    """``data`` with its XMP packet replaced by ``merge(old packet)``; None when this
    module does not handle the file or ``merge`` gives None."""
    old = read_packet(data)
    if old is None:
        return None
    new = merge(old)
    return None if new is None else with_packet(data, new)
