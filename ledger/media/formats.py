"""Which files ledger can write metadata into, told by their first bytes.

The name of a file says what its owner called it, not what it is: a PNG named
``.jpg`` is written as a PNG. Only the magic bytes decide.
"""

from __future__ import annotations

from pathlib import Path

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
EMBEDDABLE = frozenset({JPEG, PNG, WEBP})
"""The types whose XMP ledger reads and writes."""

_HEAD = 12


def sniff(head: bytes) -> str | None:
    """The media type of a file starting with ``head`` (its first 12 bytes or more), when
    it is one of `EMBEDDABLE`; None otherwise."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= _HEAD and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def sniff_file(path: Path) -> str | None:
    """`sniff` of the file at ``path``."""
    with path.open("rb") as handle:
        return sniff(handle.read(_HEAD))
