"""An offline face detector for the rights audit: it says "look at this image", never
"this is a person".

OpenCV's Haar cascades as its 4.x wheel ships them (``cv2.data.haarcascades``), run by
``cv2.CascadeClassifier``: the frontal-face cascade ``alt2`` and the profile cascade,
the latter on the picture and on its mirror image (it is trained on faces turned one
way). The frontal cascade alone misses a face seen side-on (the cameraman of the
labelled set); the profile cascade alone misses most frontal faces. The cascades and
parameters were chosen on a labelled set of the pictures scikit-image ships (a test
dependency only), against the LBP detector used before (tests/unit/media/test_faces.py
prints precision, recall and cost; docs/benchmarks.md). Nothing is downloaded: when OpenCV or
its cascade files are missing, ``available()`` is False and the audit says face
detection was skipped.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

FRONTAL_CASCADE = "haarcascade_frontalface_alt2.xml"
PROFILE_CASCADE = "haarcascade_profileface.xml"

Box = tuple[int, int, int, int]  # x, y, width, height: OpenCV's order


@dataclass(frozen=True)
class FaceBox:
    """Where a face may be, in pixels of the image as given."""

    top: int
    left: int
    width: int
    height: int


@dataclass(frozen=True)
class DetectorParams:
    """How hard the cascades look.

    ``max_side``: the image is shrunk to this many pixels on its longer side first
    (speed; faces worth a review are not a few pixels wide). ``scale_factor``: the step
    between the face sizes searched (smaller: slower, more faces found).
    ``min_fraction``: the smallest face searched, as a fraction of the shorter side.
    ``min_neighbours``: overlapping hits a detection needs (more: fewer false alarms,
    fewer faces found). ``frontal``: the file of the frontal-face cascade in
    ``cv2.data.haarcascades`` (None: none); ``profile``: whether the profile cascade
    also looks, both ways.
    """

    max_side: int = 320
    scale_factor: float = 1.2
    min_fraction: float = 0.08
    min_neighbours: int = 4
    frontal: str | None = FRONTAL_CASCADE
    profile: bool = True


DEFAULT_PARAMS = DetectorParams()


def available() -> bool:
    """Whether the detector can run here (OpenCV and its two cascade files present)."""
    try:
        return all(os.path.exists(_cascade_path(name))
                   for name in (FRONTAL_CASCADE, PROFILE_CASCADE))
    except ImportError:
        return False


def detect_faces(image: Image.Image, params: DetectorParams = DEFAULT_PARAMS) -> list[FaceBox]:
    """Candidate faces in ``image`` (any mode), in its own pixel coordinates; a face that
    both cascades find is counted once."""
    import numpy as np

    gray = image.convert("L")
    scale = min(1.0, params.max_side / max(gray.size))
    if scale < 1.0:
        gray = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))))
    pixels = np.asarray(gray, dtype=np.uint8)
    smallest = max(24, int(min(pixels.shape) * params.min_fraction))
    if min(pixels.shape) < smallest:
        return []
    found = _search(params.frontal, pixels, params, smallest) if params.frontal else []
    if params.profile:
        found += _search(PROFILE_CASCADE, pixels, params, smallest)
        width = pixels.shape[1]
        mirrored = np.ascontiguousarray(pixels[:, ::-1])
        found += [(width - x - w, y, w, h)
                  for x, y, w, h in _search(PROFILE_CASCADE, mirrored, params, smallest)]
    return [FaceBox(top=round(y / scale), left=round(x / scale), width=round(w / scale),
                    height=round(h / scale)) for x, y, w, h in _distinct(found)]


def load_detector() -> None:
    """Load the cascades now (say, before forking workers that will share them)."""
    _cascade(FRONTAL_CASCADE)
    _cascade(PROFILE_CASCADE)


def _search(cascade: str, pixels: Any, params: DetectorParams, smallest: int) -> list[Box]:
    hits = _cascade(cascade).detectMultiScale(pixels, scaleFactor=params.scale_factor,
                                    minNeighbors=params.min_neighbours,
                                    minSize=(smallest, smallest))
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h in hits]


def _distinct(boxes: list[Box]) -> list[Box]:
    """The boxes without those whose centre lies in a box kept before (the frontal
    cascade's come first): one face, one box."""
    kept: list[Box] = []
    for box in boxes:
        middle_x, middle_y = box[0] + box[2] / 2, box[1] + box[3] / 2
        if not any(x <= middle_x <= x + w and y <= middle_y <= y + h for x, y, w, h in kept):
            kept.append(box)
    return kept


def _cascade_path(name: str) -> str:
    import cv2.data

    return os.path.join(cv2.data.haarcascades, name)


@functools.cache
def _cascade(name: str) -> Any:
    """A cascade, loaded once per process (not safe to share between threads while it
    runs, so callers detect in one thread or in separate processes)."""
    import cv2

    return cv2.CascadeClassifier(_cascade_path(name))
