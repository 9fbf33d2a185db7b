"""Read the rights facts of an image's EXIF, IPTC and XMP, and write ledger's into a copy.

pyexiv2 (exiv2) does the format work for JPEG, PNG and WebP. Originals are only read;
what is written goes into new bytes, for a copy. The properties, the rules for the
capture date and the ``ledger:`` namespace are documented in docs/metadata.md.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyexiv2  # type: ignore[import-untyped]

from ledger.core.hashing import sha256
from ledger.core.rights import Claims, EmbeddedRights, capture_date_utc, gps_time_utc
from ledger.errors import ValidationError
from ledger.media.jpeg_segments import Segment, header_segments
from ledger.media.jpeg_xmp import copy_replacing_xmp, replace_xmp

LEDGER_NS = "urn:ledger:xmp:1.0/"
"""The ``ledger:`` XMP namespace: CreatorId, AssetId, TrainingMining (docs/metadata.md)."""
LEDGER_PREFIX = "ledger"

_LOCATION_XMP = ("Xmp.exif.GPS", "Xmp.photoshop.City", "Xmp.photoshop.State",
                 "Xmp.photoshop.Country", "Xmp.iptc.Location", "Xmp.iptcExt.LocationCreated",
                 "Xmp.iptcExt.LocationShown")
_LOCATION_IPTC = ("Iptc.Application2.City", "Iptc.Application2.SubLocation",
                  "Iptc.Application2.ProvinceState", "Iptc.Application2.CountryName",
                  "Iptc.Application2.CountryCode")
_COPYRIGHT_OWNER = re.compile(r"Xmp\.plus\.CopyrightOwner\[\d+\]/plus:CopyrightOwnerName")
_EMPTY_XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
              '"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""/>'
              "</rdf:RDF></x:xmpmeta>")


class MetadataError(ValidationError):
    """A file whose metadata cannot be read or written (corrupt, truncated, not an image)."""


_EOI = b"\xff\xd9"
_METADATA_MARKERS = frozenset({0xE1, 0xED})  # APP1 (EXIF, XMP), APP13 (Photoshop: IPTC)

# Once, on import: exiv2's XMP toolkit initialises itself on first use, which is not
# safe from several threads at once (packaging reads files on a thread pool).
pyexiv2.set_log_level(4)  # exiv2's warnings would interleave with our output
pyexiv2.registerNs(LEDGER_NS, LEDGER_PREFIX)


def _image(source: bytes | Path) -> Any:
    try:
        if isinstance(source, Path):
            return pyexiv2.Image(str(source))
        return pyexiv2.ImageData(source)
    except RuntimeError as exc:
        raise MetadataError(f"metadata unreadable: {exc}") from exc


def _close(image: Any) -> None:
    """Free what exiv2 holds for ``image``: what pyexiv2's ``close`` does (pinned at
    2.16.0), without then stubbing out every attribute of the wrapper (about 12 µs a
    file, more than reading the metadata); the wrapper is dropped after this."""
    image._exiv2api_image.close_image()
    if isinstance(image, pyexiv2.ImageData):
        image.buffer.destroy()


def _read_all(image: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    try:
        return image.read_exif(), image.read_iptc(), image.read_xmp()
    except (RuntimeError, UnicodeDecodeError, ValueError) as exc:
        raise MetadataError(f"metadata unreadable: {exc}") from exc


def read_rights(data: bytes, segments: list[Segment] | None = None) -> EmbeddedRights:
    """The rights facts of the image ``data`` (JPEG, PNG or WebP); MetadataError when
    its metadata cannot be read. ``segments``: the `header_segments` of ``data``, when
    the caller has them already."""
    part = _metadata_part(data, segments)
    return EmbeddedRights() if part is None else _facts(_image(part))


def _metadata_part(data: bytes, segments: list[Segment] | None) -> bytes | None:
    """What exiv2 reads of ``data``: a JPEG's segments before its image data, then an
    end marker (exiv2 copies and scans whatever it is given: the whole of a photograph
    takes several times as long), or None when no segment can hold EXIF, XMP (APP1) or
    IPTC (APP13), so there is nothing to read; any other ``data`` whole."""
    segments = header_segments(data) if segments is None else segments
    if not segments:
        return data
    if not any(segment.marker in _METADATA_MARKERS for segment in segments):
        return None
    return data[:segments[-1].end] + _EOI


def read_rights_file(path: Path) -> EmbeddedRights:
    """`read_rights` of the file at ``path``, reading only its metadata segments (about
    a tenth of the time of loading a photo whole)."""
    try:
        image = _image(path)
    except UnicodeEncodeError:  # a name exiv2 cannot take: read the bytes instead
        return read_rights(path.read_bytes())
    return _facts(image)


def _facts(image: Any) -> EmbeddedRights:
    try:
        exif, iptc, xmp = _read_all(image)
    finally:
        _close(image)
    local = _text(exif.get("Exif.Photo.DateTimeOriginal"))
    captured, source = _capture_date(local, _text(exif.get("Exif.Photo.OffsetTimeOriginal")),
                                     exif)
    return EmbeddedRights(
        capture_date=captured,
        capture_date_local=local,
        capture_date_source=source,
        notices=_unique([*_values(xmp.get("Xmp.dc.rights")),
                         *_values(exif.get("Exif.Image.Copyright")),
                         *_values(iptc.get("Iptc.Application2.Copyright"))]),
        web_statement=_text(xmp.get("Xmp.xmpRights.WebStatement")),
        usage_terms=next(iter(_values(xmp.get("Xmp.xmpRights.UsageTerms"))), None),
        marked=_marked(xmp.get("Xmp.xmpRights.Marked")),
        owners=_owners(exif, iptc, xmp),
        data_mining=_text(xmp.get("Xmp.plus.DataMining")),
        gps=_has_gps(exif, xmp),
        serials=_unique(_ending(exif, xmp, "SerialNumber")),
        owner_names=_unique(_ending(exif, xmp, "OwnerName")),
        ledger_creator=_text(xmp.get(f"Xmp.{LEDGER_PREFIX}.CreatorId")),
    )


def _capture_date(
    local: str | None, offset: str | None, exif: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    """UTC from the EXIF time and its offset; else from the GPS clock, which is UTC;
    else none: a wall-clock time without its zone names no instant."""
    if local is not None:
        utc = capture_date_utc(local, offset)
        if utc is not None:
            return utc, "exif"
    stamp, date = _text(exif.get("Exif.GPSInfo.GPSTimeStamp")), _text(
        exif.get("Exif.GPSInfo.GPSDateStamp"))
    if stamp is None or date is None:
        return None, None
    parts = [_rational(part) for part in stamp.split()]
    if len(parts) != 3 or None in parts:
        return None, None
    hours, minutes, seconds = (float(part or 0) for part in parts)
    utc = gps_time_utc(date, hours, minutes, seconds)
    return (utc, "gps") if utc is not None else (None, None)


def _rational(text: str) -> float | None:
    numerator, _, denominator = text.partition("/")
    try:
        return int(numerator) / int(denominator or "1")
    except (ValueError, ZeroDivisionError):
        return None


def _owners(exif: Mapping[str, Any], iptc: Mapping[str, Any], xmp: Mapping[str, Any]
            ) -> tuple[str, ...]:
    names = [*_values(xmp.get("Xmp.xmpRights.Owner")), *_values(xmp.get("Xmp.dc.creator")),
             *_values(iptc.get("Iptc.Application2.Byline")),
             *_values(exif.get("Exif.Image.Artist"))]
    names += [str(value) for key, value in xmp.items() if _COPYRIGHT_OWNER.fullmatch(key)]
    return _unique(names)


def _has_gps(exif: Mapping[str, Any], xmp: Mapping[str, Any]) -> bool:
    return any(key.startswith("Exif.GPSInfo.GPSL") for key in exif) or any(
        key.startswith("Xmp.exif.GPSL") for key in xmp)


def _ending(exif: Mapping[str, Any], xmp: Mapping[str, Any], suffix: str) -> list[str]:
    return [text for key, value in (*exif.items(), *xmp.items()) if key.endswith(suffix)
            for text in _values(value)]


def _values(value: Any) -> list[str]:
    """The texts of a value as pyexiv2 gives it: a string, a list, or a language map."""
    if value is None:
        return []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) \
        else [value]
    return [text for text in (str(item).replace("\x00", " ").strip() for item in items) if text]


def _text(value: Any) -> str | None:
    found = _values(value)
    return found[0] if found else None


def _marked(value: Any) -> bool | None:
    text = _text(value)
    return None if text is None else text.lower() == "true"


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def embed(data: bytes, claims: Claims, *, strip_location: bool = False) -> bytes:
    """The image ``data`` with ledger's XMP written in (docs/metadata.md, "What is
    written"), and its location removed when ``strip_location``; ``data`` itself is
    not changed. MetadataError when the image cannot be rewritten."""
    properties = xmp_properties(claims)
    if not strip_location:
        quick = replace_xmp(data, lambda old: _merged_packet(old, properties))
        if quick is not None:
            return quick
    image = _image(data)
    try:
        if strip_location:
            _strip_location(image)
        image.modify_xmp(properties)
        return bytes(image.get_bytes())
    except (RuntimeError, UnicodeDecodeError, ValueError) as exc:
        raise MetadataError(f"metadata not writable: {exc}") from exc
    finally:
        image.close()


def embed_file(source: Path, target: Path, claims: Claims, *,
               strip_location: bool = False) -> bytes:
    """Write ``target``: `embed` of the image at ``source``, the same bytes, reading
    only a JPEG's header into memory when its XMP segment can simply be swapped; the
    SHA-256 of the bytes written (packaging registers it without reading the copy)."""
    if not strip_location:
        properties = xmp_properties(claims)
        digest = copy_replacing_xmp(source, target,
                                    lambda old: _merged_packet(old, properties))
        if digest is not None:
            return digest
    data = embed(source.read_bytes(), claims, strip_location=strip_location)
    target.write_bytes(data)
    return sha256(data)


def _merged_packet(old: bytes, properties: Mapping[str, Any]) -> bytes | None:
    """The XMP packet ``old`` with ``properties`` set, serialised by exiv2 on a
    one-pixel stand-in; None when exiv2 cannot take ``old``."""
    stub = _image(_stub())
    try:
        if old:
            stub.modify_raw_xmp(old.decode("utf-8"))
        stub.modify_xmp(dict(properties))
        return str(stub.read_raw_xmp()).encode("utf-8")
    except (RuntimeError, UnicodeDecodeError, ValueError):
        return None
    finally:
        stub.close()


@functools.cache
def _stub() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (1, 1)).save(out, "JPEG")
    return out.getvalue()


def xmp_properties(claims: Claims) -> dict[str, Any]:
    """The XMP properties ledger writes for ``claims``, keyed as exiv2 names them."""
    properties: dict[str, Any] = {
        "Xmp.plus.DataMining": claims.data_mining,
        "Xmp.dc.rights": claims.rights,
        "Xmp.xmpRights.Marked": "True",
        "Xmp.xmpRights.UsageTerms": claims.usage_terms,
        f"Xmp.{LEDGER_PREFIX}.CreatorId": claims.creator_id,
        f"Xmp.{LEDGER_PREFIX}.AssetId": claims.asset_id,
        f"Xmp.{LEDGER_PREFIX}.TrainingMining": [
            f"{entry}={value}" for entry, value in sorted(claims.training.items())],
    }
    if claims.web_statement is not None:
        properties["Xmp.xmpRights.WebStatement"] = claims.web_statement
    return properties


def strip_location(data: bytes) -> bytes:
    """The image ``data`` without GPS position or place names (EXIF GPS, XMP and IPTC
    location fields); MetadataError when it cannot be rewritten."""
    image = _image(data)
    try:
        _strip_location(image)
        return bytes(image.get_bytes())
    except (RuntimeError, UnicodeDecodeError, ValueError) as exc:
        raise MetadataError(f"metadata not writable: {exc}") from exc
    finally:
        image.close()


def _strip_location(image: Any) -> None:
    exif, iptc, xmp = _read_all(image)
    gps = {key: None for key in exif if key.startswith("Exif.GPSInfo.")}
    if gps:
        image.modify_exif(gps)
    places = {key: None for key in iptc if key.startswith(_LOCATION_IPTC)}
    if places:
        image.modify_iptc(places)
    # Top-level names only: deleting an array or struct takes its members with it.
    located = {key: None for key in xmp if key.startswith(_LOCATION_XMP)
               and "[" not in key and "/" not in key}
    if located and located.keys() == {key for key in xmp if "[" not in key and "/" not in key}:
        # exiv2 keeps a WebP file's old XMP when the new one is empty: write an empty one.
        image.modify_raw_xmp(_EMPTY_XMP)
    elif located:
        image.modify_xmp(located)
