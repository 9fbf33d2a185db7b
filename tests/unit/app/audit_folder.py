"""A deliberately messy folder for the rights audit, and what the audit must find in it."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

from PIL import Image
from skimage import data as samples

from tests.unit.media.images import BERLIN_GPS, data_mining, image, owners

#: (path, code) of every finding the folder must give, face detection off, nothing declared.
EXPECTED = {
    ("coffee.jpg", "duplicate"), ("coffee-copy.jpg", "duplicate"),
    ("coffee.jpg", "near_duplicate"), ("coffee-copy.jpg", "near_duplicate"),
    ("sub/coffee-small.jpg", "near_duplicate"),
    ("link.jpg", "symlink"), ("pipe", "special_file"),
    ("empty.png", "empty"), ("truncated.jpg", "corrupt"), ("huge.png", "huge_dimensions"),
    ("notes.txt", "unsupported"),
    ("gps.jpg", "gps_location"), ("gps.jpg", "device_serial"), ("gps.jpg", "owner_name"),
}
FACE = ("astronaut.png", "faces_undeclared")
NO_AI = "no-ai.jpg"


def picture(array: object, kind: str = "JPEG", scale: float = 1.0) -> bytes:
    """A sample picture encoded as ``kind``, resized by ``scale``."""
    shown = Image.fromarray(array)  # type: ignore[arg-type]
    if scale != 1.0:
        shown = shown.resize((round(shown.width * scale), round(shown.height * scale)))
    out = io.BytesIO()
    shown.save(out, kind, quality=85)
    return out.getvalue()


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG of a few dozen bytes whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))


def messy_folder(root: Path, *, face: bool = True, conflict: bool = False) -> Path:
    """Fill ``root`` with every kind of problem the audit knows (see `EXPECTED`)."""
    coffee = picture(samples.coffee())
    (root / "sub").mkdir(parents=True)
    (root / "coffee.jpg").write_bytes(coffee)
    (root / "coffee-copy.jpg").write_bytes(coffee)
    (root / "sub" / "coffee-small.jpg").write_bytes(picture(samples.coffee(), scale=0.5))
    (root / "link.jpg").symlink_to("coffee.jpg")
    os.mkfifo(root / "pipe")
    (root / "empty.png").write_bytes(b"")
    (root / "truncated.jpg").write_bytes(picture(samples.rocket())[:4000])
    (root / "huge.png").write_bytes(huge_png())
    (root / "notes.txt").write_text("shot list\n")
    (root / ".hidden.jpg").write_bytes(b"not looked at")
    (root / "gps.jpg").write_bytes(image(
        "jpg", gps=BERLIN_GPS,
        exif={"BodySerialNumber": "SN-0042", "CameraOwnerName": "Jane Roe"}))
    if face:
        (root / "astronaut.png").write_bytes(picture(samples.astronaut(), "PNG"))
    if conflict:
        (root / NO_AI).write_bytes(image(
            "jpg", colour=(10, 90, 200),
            xmp=data_mining("DMI-PROHIBITED-AIMLTRAINING") + owners(["Someone Else"])))
    return root
