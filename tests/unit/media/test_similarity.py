"""The perceptual hash's near-duplicate threshold, measured, and the safe opening of
images (probe): bombs, truncation and non-images become answers, not exceptions."""

from __future__ import annotations

import io
import itertools
import os

import pytest
import skimage
from PIL import Image, ImageEnhance

from ledger.core.audit import NEAR_DISTANCE
from ledger.media.probe import probe, thumbnail_png
from ledger.media.similarity import phash
from tests.unit.app.audit_folder import huge_png

DATA = os.path.join(os.path.dirname(skimage.__file__), "data")
# Pairs that are near-identical by nature: one chessboard in grey and in colour, and the
# two views of a stereo pair.
SAME_SCENE = {("chessboard_GRAY.png", "chessboard_RGB.png"),
              ("motorcycle_left.png", "motorcycle_right.png")}


def _encoded(picture: Image.Image, kind: str = "JPEG", quality: int = 50) -> Image.Image:
    out = io.BytesIO()
    picture.save(out, kind, quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


def _variants(picture: Image.Image) -> list[Image.Image]:
    width, height = picture.size
    return [_encoded(picture), picture.resize((width // 2, height // 2)),
            ImageEnhance.Brightness(picture).enhance(1.15), picture.convert("L")]


def test_the_threshold_separates_copies_from_other_pictures() -> None:
    names = sorted(name for name in os.listdir(DATA) if name.endswith((".png", ".jpg")))
    pictures = {name: Image.open(os.path.join(DATA, name)).convert("RGB") for name in names}
    hashes = {name: phash(picture) for name, picture in pictures.items()}
    copies = max((hashes[name] ^ phash(variant)).bit_count()
                 for name, picture in pictures.items() for variant in _variants(picture))
    others = min((hashes[a] ^ hashes[b]).bit_count()
                 for a, b in itertools.combinations(names, 2) if (a, b) not in SAME_SCENE)
    print(f"\nphash: re-encoded, resized, brightened or grey copies differ by at most {copies} "
          f"bits; different pictures by at least {others}; threshold {NEAR_DISTANCE}")
    assert copies <= NEAR_DISTANCE < others


def test_a_bomb_is_refused_before_decoding() -> None:
    probed = probe(huge_png())
    assert probed.problem == "bomb" and probed.image is None
    small = probe(huge_png(3000, 3000), max_pixels=1_000_000)
    assert (small.problem, small.width, small.height) == ("bomb", 3000, 3000)
    assert "over the limit of 1,000,000" in (small.detail or "")


@pytest.mark.parametrize(("data", "problem"), [
    (b"plain text, not an image", "unsupported"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 20, "unsupported"),
    (b"\x89PNG\r\n\x1a\n", "unsupported"),
])
def test_what_is_not_an_image_says_so(data: bytes, problem: str) -> None:
    assert probe(data).problem == problem


def test_a_truncated_image_is_corrupt_and_a_whole_one_decodes() -> None:
    picture = Image.open(os.path.join(DATA, "rocket.jpg"))
    out = io.BytesIO()
    picture.save(out, "JPEG")
    whole = probe(out.getvalue(), reduce_to=64)
    assert whole.problem is None and whole.format == "JPEG" and whole.image is not None
    assert (whole.width, whole.height) == picture.size and max(whole.image.size) < 427
    cut = probe(out.getvalue()[: len(out.getvalue()) // 2])
    assert cut.problem == "corrupt" and "does not decode" in (cut.detail or "")
    header_only = probe(out.getvalue()[: len(out.getvalue()) // 2], decode=False)
    assert (header_only.problem, header_only.image) == (None, None)
    assert (header_only.width, header_only.height) == picture.size
    thumbnail = Image.open(io.BytesIO(thumbnail_png(whole.image, 32)))
    assert thumbnail.format == "PNG" and max(thumbnail.size) == 32
