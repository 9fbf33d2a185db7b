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

if TYPE_CHECKING:
    from PIL import Image

MAX_PIXELS = 89_478_485
"""Pillow's default ``Image.MAX_IMAGE_PIXELS`` (a 1024 MiB RGBA image, roughly)."""
THUMBNAIL_SIDE = 96
_ENDINGS = {"JPEG": b"\xff\xd9", "MPO": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82", "GIF": b";"}
_TAIL = 4096  # how far back from the end an end marker may sit, before zero padding


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
          reduce_to: int | None = None, decode: bool = True, check_end: bool = False
          ) -> Probed:
    """Open and decode the image ``data`` (its bytes, or an open file); never raises
    for bad content.

    ``reduce_to``: the decoded picture may be smaller than the file (JPEG decodes at
    1/2, 1/4 or 1/8 scale directly, much faster), at least this many pixels a side;
    what is checked (the whole stream decodes) is the same. Without ``decode`` only
    the header is read (type and dimensions): a truncated file goes unnoticed, unless
    ``check_end`` (given the bytes) looks at how the data ends (`ends_cut_short`).
    """
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
        if check_end and isinstance(data, bytes) and ends_cut_short(image.format, data):
            return replace(shown, problem="corrupt", detail=f"the {image.format} data "
                           "stops before its end marker: the file is cut short")
        return shown
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


def ends_cut_short(kind: str | None, data: bytes) -> bool:
    """Whether the image ``data`` of Pillow's format ``kind`` ends before its format's
    end: a JPEG's EOI marker, a PNG's IEND chunk, a GIF's trailer, a WebP's RIFF size
    (trailing zero bytes, which some writers pad with, are allowed). A truncated file
    is found without decoding it; damage inside the data is not. Other formats: False."""
    if kind == "WEBP":
        return len(data) < 8 + int.from_bytes(data[4:8], "little")
    ending = _ENDINGS.get(kind or "")
    return ending is not None and not data[-_TAIL:].rstrip(b"\x00").endswith(ending)


def thumbnail_png(image: Image.Image, side: int = THUMBNAIL_SIDE) -> bytes:
    """A PNG of ``image`` at most ``side`` pixels a side (for the HTML report)."""
    small = image.convert("RGB")
    small.thumbnail((side, side))
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return out.getvalue()
