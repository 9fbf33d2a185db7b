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


def _segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    from ledger.media.jpeg_segments import header_segments

    found = header_segments(data) or []
    return [(marker, data[start + 4:end]) for marker, start, end in found], data[found[-1].end:]


def _jpeg(segments: list[tuple[int, bytes]], rest: bytes) -> bytes:
    return b"\xff\xd8" + b"".join(bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big")
                                  + payload for marker, payload in segments) + rest


def _mutated(name: str) -> bytes:
    """A JPEG changed in one way Pillow's header parser may care about."""
    out = io.BytesIO()
    mode = {"grey": "L", "cmyk": "CMYK"}.get(name, "RGB")
    exif = Image.Exif()
    exif[0x0128], exif[0x011A] = 2, 0  # a zero resolution: Pillow's DPI read must cope
    Image.new(mode, (40, 30)).save(out, "JPEG", progressive=name == "progressive",
                                   exif=exif.tobytes())
    segments, rest = _segments(out.getvalue())
    sof = next(index for index, (marker, _) in enumerate(segments) if marker == 0xC0 or
               marker == 0xC2)
    frame = bytearray(segments[sof][1])
    dqt = next(index for index, (marker, _) in enumerate(segments) if marker == 0xDB)
    changes = {
        "12-bit": lambda: frame.__setitem__(0, 12),
        "2 components": lambda: frame.__setitem__(5, 2),
        "odd frame": lambda: frame.extend(b"\x00"),
        "no width": lambda: frame.__setitem__(slice(3, 5), b"\x00\x00"),
        "huge": lambda: frame.__setitem__(slice(1, 5), b"\xff\xff\xff\xff"),
    }
    if name in changes:
        changes[name]()
        segments[sof] = (segments[sof][0], bytes(frame))
    elif name == "short table":
        segments[dqt] = (0xDB, segments[dqt][1][:-1])
    elif name in ("short JFIF", "short Adobe", "MPF", "JPG extension", "comment"):
        marker, payload = {"short JFIF": (0xE0, b"JFIF\x00"), "short Adobe": (0xEE, b"Adobe"),
                           "MPF": (0xE2, b"MPF\x00II*\x00"), "JPG extension": (0xF0, b"xx"),
                           "comment": (0xFE, b"hello")}[name]
        segments.insert(0, (marker, payload))
    elif name == "cut after SOS":
        rest = rest[:6]
    return _jpeg(segments, rest)


_MUTATIONS = ["plain", "grey", "cmyk", "progressive", "12-bit", "2 components", "odd frame",
              "no width", "huge", "short table", "short JFIF", "short Adobe", "MPF",
              "JPG extension", "comment", "cut after SOS"]


@pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO")
@pytest.mark.parametrize("name", _MUTATIONS)
def test_our_jpeg_header_read_says_what_pillow_says(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.media import probe as module

    data = _mutated(name)
    ours = [probe(data, decode=False, check_end=True), probe(data[:-10], decode=False,
                                                             check_end=True)]
    monkeypatch.setattr(module, "_jpeg_header", lambda *_: None)
    assert ours == [probe(data, decode=False, check_end=True),
                    probe(data[:-10], decode=False, check_end=True)]


def test_plain_jpegs_are_read_without_pillow() -> None:
    from ledger.media.probe import MAX_PIXELS, _jpeg_header

    for name in ("plain", "grey", "cmyk", "progressive", "comment"):
        assert _jpeg_header(_mutated(name), MAX_PIXELS) is not None, name
    for name in ("12-bit", "huge", "MPF", "short JFIF", "cut after SOS"):
        assert _jpeg_header(_mutated(name), MAX_PIXELS) is None, name
