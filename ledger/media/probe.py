"""Open an image with Pillow without trusting it: its type, its size, whether it decodes,
and whether its dimensions are a decompression bomb.

A file's header can claim 100,000 x 100,000 pixels in a few hundred bytes; decoding it
would take tens of gigabytes. The dimensions are checked before any pixel is decoded,
against ``max_pixels`` (Pillow's own guard, ``Image.MAX_IMAGE_PIXELS``, by default), so
such a file becomes a finding, not a crash.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO

from ledger.media.jpeg_segments import Segment, header_segments

if TYPE_CHECKING:
    from PIL import Image

MAX_PIXELS = 89_478_485
"""Pillow's default ``Image.MAX_IMAGE_PIXELS`` (a 1024 MiB RGBA image, roughly)."""
THUMBNAIL_SIDE = 96
_ENDINGS = {"JPEG": b"\xff\xd9", "MPO": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82", "GIF": b";"}
END_BYTES = 4096
"""How far back from a file's end its end marker may sit, before zero padding."""
# The JPEG markers Pillow's parser (JpegImagePlugin.MARKER) reads as length-prefixed
# segments: frame headers, quantisation tables, application segments and those it skips.
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                  0xCF, 0xDE})
_DQT = 0xDB
_APP = frozenset(range(0xE0, 0xF0))
_SKIPPED = frozenset({0xC4, 0xCC, 0xDC, 0xDD, 0xDF, 0xFE})


@dataclass(frozen=True)
class Probed:
    """What opening the bytes said. ``problem``: None (an image, decoded), "unsupported"
    (no image type Pillow knows), "corrupt" (truncated or undecodable) or "bomb"
    (dimensions over the limit); ``detail`` says it in words; ``image`` is the decoded
    picture (reduced to about ``reduce_to`` pixels a side for JPEG) when it decoded."""

    problem: str | None
    detail: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    image: Image.Image | None = None


def probe(data: bytes | BinaryIO, *, max_pixels: int = MAX_PIXELS,
          reduce_to: int | None = None, decode: bool = True, check_end: bool = False,
          tail: bytes | None = None, segments: list[Segment] | None = None) -> Probed:
    """Open and decode the image ``data`` (its bytes, or an open file); never raises
    for bad content.

    ``reduce_to``: the decoded picture may be smaller than the file (JPEG decodes at
    1/2, 1/4 or 1/8 scale directly, much faster), at least this many pixels a side;
    what is checked (the whole stream decodes) is the same. Without ``decode`` only
    the header is read (type and dimensions): a truncated file goes unnoticed, unless
    ``check_end`` (given the bytes) looks at how the data ends (`ends_cut_short`): at
    ``tail``, the file's last bytes, when ``data`` is only its start. ``segments``: the
    `header_segments` of ``data``, when the caller has them already.
    """
    if not decode and isinstance(data, bytes):
        quick = _jpeg_header(data, max_pixels, segments)
        if quick is not None:
            return _check_end(quick, data if tail is None else tail) if check_end else quick
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    except Image.DecompressionBombError as exc:
        return Probed("bomb", f"dimensions over the limit: {exc}")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return Probed("unsupported", "not an image type that can be checked")
    width, height = image.size
    shown = Probed(None, format=image.format, width=width, height=height)
    if width * height > max_pixels:
        return replace(shown, problem="bomb",
                       detail=f"{width} x {height} pixels is over the limit of {max_pixels:,}")
    if not decode:
        ending = data if tail is None else tail
        return (_check_end(shown, ending) if check_end and isinstance(ending, bytes)
                else shown)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if reduce_to is not None and image.format == "JPEG":
                image.draft("RGB", (reduce_to, reduce_to))
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return replace(shown, problem="corrupt",
                       detail=f"the {image.format} data does not decode: {exc}")
    return replace(shown, image=image)


def _check_end(shown: Probed, data: bytes) -> Probed:
    if ends_cut_short(shown.format, data):
        return replace(shown, problem="corrupt", detail=f"the {shown.format} data "
                       "stops before its end marker: the file is cut short")
    return shown


def _jpeg_header(data: bytes, max_pixels: int, segments: list[Segment] | None = None
                 ) -> Probed | None:
    """What Pillow's header parse would say of the JPEG ``data``, from our own walk of
    its header segments (Pillow's parse, in Python, costs about as much as hashing a
    photograph); None, leaving the file to Pillow, unless every segment is one Pillow
    reads without complaint (`_pillow_accepts`) and the picture is no bomb."""
    segments = header_segments(data) if segments is None else segments
    if not segments or not _sos_fits(data, segments[-1].end):
        return None
    size: tuple[int, int] | None = None
    for marker, start, end in segments:
        payload = data[start + 4:end]
        if not _pillow_accepts(marker, payload):
            return None
        if marker in _SOF:
            size = int.from_bytes(payload[3:5], "big"), int.from_bytes(payload[1:3], "big")
    # Past Pillow's own limit its answer (a DecompressionBombError) is the one to give.
    if size is None or not 0 < size[0] * size[1] <= min(max_pixels, MAX_PIXELS):
        return None
    return Probed(None, format="JPEG", width=size[0], height=size[1])


def _sos_fits(data: bytes, start: int) -> bool:
    length = int.from_bytes(data[start + 2:start + 4], "big")
    return length >= 2 and start + 2 + length <= len(data)


def _pillow_accepts(marker: int, payload: bytes) -> bool:
    """Whether Pillow's JPEG parser takes this segment as we read it: a frame header
    of 8-bit samples in 1, 3 or 4 components, whole quantisation tables, a JFIF or Adobe
    segment long enough to read; no MPF segment (Pillow may call the file MPO)."""
    if marker in _SOF:
        return (len(payload) >= 6 and payload[0] == 8 and payload[5] in (1, 3, 4)
                and (len(payload) - 6) % 3 == 0)
    if marker == _DQT:
        return _whole_tables(payload)
    if marker in _APP:
        return not (payload.startswith(b"MPF\x00")
                    or (payload.startswith((b"JFIF", b"Adobe")) and len(payload) < 7))
    return marker in _SKIPPED


def _whole_tables(payload: bytes) -> bool:
    offset = 0
    while offset < len(payload):
        offset += 1 + (64 if payload[offset] < 16 else 128)
    return offset == len(payload)


def ends_cut_short(kind: str | None, data: bytes) -> bool:
    """Whether the image ``data`` of Pillow's format ``kind`` ends before its format's
    end: a JPEG's EOI marker, a PNG's IEND chunk, a GIF's trailer, a WebP's RIFF size
    (trailing zero bytes, which some writers pad with, are allowed). A truncated file
    is found without decoding it; damage inside the data is not. Other formats: False."""
    if kind == "WEBP":
        return len(data) < 8 + int.from_bytes(data[4:8], "little")
    ending = _ENDINGS.get(kind or "")
    return ending is not None and not data[-END_BYTES:].rstrip(b"\x00").endswith(ending)


def thumbnail_png(image: Image.Image, side: int = THUMBNAIL_SIDE) -> bytes:
    """A PNG of ``image`` at most ``side`` pixels a side (for the HTML report)."""
    small = image.convert("RGB")
    small.thumbnail((side, side))
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return out.getvalue()
