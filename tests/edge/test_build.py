"""The Worker's build: the committed bundle is what the sources and the lock file give."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.edge.harness import ROOT

pytestmark = pytest.mark.node

BUNDLE = ROOT / "web" / "worker" / "dist" / "worker.js"


def test_rebuilding_from_the_lock_gives_the_committed_worker(tmp_path: Path) -> None:
    rebuilt = tmp_path / "worker.js"
    done = subprocess.run([shutil.which("node") or "node", "web/worker/build.mjs", str(rebuilt)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert rebuilt.read_bytes() == BUNDLE.read_bytes(), (
        "web/worker/dist/worker.js is stale: run node web/worker/build.mjs")


def test_the_bundle_imports_only_the_runtime() -> None:
    # Workers load one module: every import (jose) is bundled in but the runtime's own.
    imports = [line for line in BUNDLE.read_text().splitlines() if line.startswith("import ")]
    assert imports == ['import { DurableObject } from "cloudflare:workers";']
