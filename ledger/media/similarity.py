"""The perceptual fingerprint of an image: a 64-bit hash of its picture that survives a
re-encode, a resize or a small edit, so near-identical copies are found
(`ledger.core.audit.near_pairs` compares them; identical bytes are found by SHA-256,
`ledger.core.hashing.sha256`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


def phash(image: Image.Image) -> int:
    """The DCT perceptual hash of ``image`` (imagehash's ``phash``, 8 x 8 bits) as an int,
    most significant bit first."""
    import imagehash

    value = 0
    for bit in imagehash.phash(image).hash.flatten():
        value = (value << 1) | int(bool(bit))
    return value
