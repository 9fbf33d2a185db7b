"""The usage vectors shared with forge and JavaScript (tests/vectors/usage.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "vectors" / "usage.json").read_text(encoding="utf-8")
)
BASE: dict[str, Any] = json.loads(VECTORS["valid"][0]["json"])
