"""Driving the verifier page in the system's Chromium (tests/browser/driver.mjs).

Chromium comes from the system's packages (Debian `chromium`, installed by
scripts/setup.sh): playwright-core drives it, and no browser is downloaded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
PAGE = ROOT / "ledger" / "api" / "static" / "verify.html"
#: Screenshots the tests keep for a person to look at (build/ is not committed).
ARTEFACTS = ROOT / "build" / "test-artefacts" / "verifier-page"


def chromium() -> str:
    """The system's Chromium; the test fails (not skips) without it: set-up installs it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not on PATH; scripts/setup.sh installs Debian's chromium")
    return path


def drive(page_url: str, scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run `scenarios` on the page at `page_url` in one browser; one result each."""
    config = {"chromium": chromium(), "page": page_url, "scenarios": scenarios}
    done = subprocess.run(
        [shutil.which("node") or "node", str(Path(__file__).with_name("driver.mjs"))],
        input=json.dumps(config), capture_output=True, text=True, timeout=400, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results: list[dict[str, Any]] = json.loads(done.stdout)
    for result in results:
        assert result["errors"] == [], (result["name"], result["errors"])
    return results


def pin_fields(chain_id: int, registry: str, code_hash: str, service_key: str | None,
               block_hash: str = "") -> dict[str, str]:
    """The page's inputs for the verifier's pins and trusted block hash."""
    return {"chain-id": str(chain_id), "registry": registry, "code-hash": code_hash,
            "service-key": service_key or "", "block-hash": block_hash}


def screenshots(name: str) -> dict[str, str]:
    """Where a scenario saves its screen and print screenshots."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return {"screenshot": str(ARTEFACTS / f"{name}.png"),
            "printScreenshot": str(ARTEFACTS / f"{name}-print.png")}
