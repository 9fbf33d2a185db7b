"""Images with known metadata, made in the tests: Pillow writes the pixels and EXIF,
pyexiv2 adds IPTC and XMP (a raw packet, so any property can be planted)."""

from __future__ import annotations

import io
import random
from collections.abc import Mapping, Sequence
from typing import Any

import pyexiv2  # type: ignore[import-untyped]
from PIL import Image

FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_EXIF_TAGS = {"DateTimeOriginal": 0x9003, "OffsetTimeOriginal": 0x9011,
              "BodySerialNumber": 0xA431, "LensSerialNumber": 0xA435,
              "CameraOwnerName": 0xA430}
_IMAGE_TAGS = {"Artist": 0x013B, "Copyright": 0x8298}
BERLIN_GPS = {1: "N", 2: (52.0, 31.0, 12.5), 3: "E", 4: (13.0, 24.0, 0.0),
              29: "2025:11:02", 7: (12.0, 22.0, 5.0)}


def image(
    kind: str = "jpg", *, exif: Mapping[str, str] | None = None,
    gps: Mapping[int, Any] | None = None, xmp: str = "",
    iptc: Mapping[str, Any] | None = None, colour: tuple[int, int, int] = (200, 40, 10),
    noise_side: int = 0,
) -> bytes:
    """An image of ``kind`` (jpg, png, webp) carrying the given EXIF tags (by name),
    GPS IFD entries, XMP (``rdf:Description`` body elements) and IPTC datasets: 32 x 24
    pixels of ``colour``, or ``noise_side`` a side of random ones (a JPEG of about 0.6
    bytes a pixel)."""
    picture = (Image.frombytes("RGB", (noise_side, noise_side),
                               random.Random(noise_side).randbytes(noise_side ** 2 * 3))
               if noise_side else Image.new("RGB", (32, 24), colour))
    tags = Image.Exif()
    photo = {_EXIF_TAGS[name]: value for name, value in (exif or {}).items()
             if name in _EXIF_TAGS}
    if photo:
        tags[_EXIF_IFD] = photo
    for name, value in (exif or {}).items():
        if name in _IMAGE_TAGS:
            tags[_IMAGE_TAGS[name]] = value
    if gps:
        tags[_GPS_IFD] = dict(gps)
    out = io.BytesIO()
    picture.save(out, FORMATS[kind], exif=tags)
    data = out.getvalue()
    if not xmp and not iptc:
        return data
    return _with(data, xmp, iptc or {})


def _with(data: bytes, xmp: str, iptc: Mapping[str, Any]) -> bytes:
    target = pyexiv2.ImageData(data)
    try:
        if xmp:
            target.modify_raw_xmp(packet(xmp))
        if iptc:
            target.modify_iptc(dict(iptc))
        return bytes(target.get_bytes())
    finally:
        target.close()


def packet(body: str) -> str:
    """An XMP packet with ``body`` inside one ``rdf:Description``."""
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/" '
        'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        f'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">{body}'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def data_mining(value: str) -> str:
    """XMP setting plus:DataMining to the PLUS vocabulary word ``value``."""
    return f"<plus:DataMining>http://ns.useplus.org/ldf/vocab/{value}</plus:DataMining>"


def owners(names: Sequence[str]) -> str:
    """XMP naming ``names`` as xmpRights:Owner."""
    items = "".join(f"<rdf:li>{name}</rdf:li>" for name in names)
    return f"<xmpRights:Owner><rdf:Bag>{items}</rdf:Bag></xmpRights:Owner>"


def rights(text: str) -> str:
    """XMP with dc:rights ``text``."""
    return (f'<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">{text}</rdf:li></rdf:Alt>'
            "</dc:rights>")


def copyright_owner(name: str) -> str:
    """XMP naming ``name`` as the PLUS copyright owner."""
    return ('<plus:CopyrightOwner><rdf:Seq><rdf:li rdf:parseType="Resource">'
            f"<plus:CopyrightOwnerName>{name}</plus:CopyrightOwnerName></rdf:li></rdf:Seq>"
            "</plus:CopyrightOwner>")
