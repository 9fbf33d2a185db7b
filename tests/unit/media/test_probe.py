"""How an image's data ends, checked without decoding it (ledger.media.probe)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ledger.media.probe import ends_cut_short, probe


def _encoded(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "GIF", "WEBP"])
def test_whole_files_end_as_their_format_says(kind: str) -> None:
    data = _encoded(kind)
    assert not ends_cut_short(kind, data)
    assert not ends_cut_short(kind, data + b"\0" * 16)  # zero padding some writers add


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "GIF", "WEBP"])
def test_cut_files_are_found(kind: str) -> None:
    data = _encoded(kind)
    assert ends_cut_short(kind, data[:-3])
    assert ends_cut_short(kind, data[: len(data) // 2])


def test_formats_without_an_end_to_check_pass() -> None:
    assert not ends_cut_short("BMP", _encoded("BMP")[:-10])
    assert not ends_cut_short(None, b"anything")


def test_probe_checks_the_end_only_when_asked() -> None:
    cut = _encoded("JPEG")[:-20]
    assert probe(cut, decode=False).problem is None
    found = probe(cut, decode=False, check_end=True)
    assert found.problem == "corrupt" and "cut short" in (found.detail or "")
    assert found.width == 40 and found.image is None
    assert probe(_encoded("JPEG"), decode=False, check_end=True).problem is None


def test_a_header_is_read_from_an_open_file() -> None:
    data = _encoded("PNG")
    from_file = probe(io.BytesIO(data), decode=False)
    assert from_file == probe(data, decode=False)
    assert (from_file.format, from_file.width, from_file.height) == ("PNG", 40, 30)
