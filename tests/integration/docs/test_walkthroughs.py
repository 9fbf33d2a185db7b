"""The README's walkthroughs run exactly as written, on the embedded default.

Every fenced ```sh block of a walkthrough is run, in document order, as one bash
script started from the repository root (as a reader would, after the README's set-up),
with `set -euo pipefail`: a block that drifts from the code fails the suite. Blocks
fenced as ```console or ```text are output shown to the reader and are not run.
Each walkthrough starts from a clean state: its first block moves to a fresh scratch
folder, where `ledger serve` keeps its data.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.chain, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
WALKTHROUGHS = ("creator", "buyer", "resolver")


def shell_blocks(markdown: str) -> list[str]:
    """The ```sh blocks of a markdown text, in order."""
    return re.findall(r"^```sh\n(.*?)^```$", markdown, flags=re.S | re.M)


def script_of(name: str) -> str:
    """One bash script: every shell block of the walkthrough, stopped on the first error.

    Background jobs (`ledger serve &`) are stopped when the script ends, however it ends.
    """
    blocks = shell_blocks((ROOT / "docs" / "walkthroughs" / f"{name}.md").read_text("utf-8"))
    assert blocks, f"docs/walkthroughs/{name}.md has no sh blocks"
    prologue = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n"
    return prologue + "\n".join(f"# -- block {i}\n{b}" for i, b in enumerate(blocks, 1))


def test_every_walkthrough_is_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    for name in WALKTHROUGHS:
        assert f"docs/walkthroughs/{name}.md" in readme


@pytest.mark.parametrize("name", WALKTHROUGHS)
def test_walkthrough_runs_as_written(name: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["TMPDIR"] = str(tmp_path)  # the walkthrough's scratch folder (mktemp -d) lands here
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        ["bash", "-c", script_of(name)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, (
        f"docs/walkthroughs/{name}.md failed (exit {done.returncode})\n"
        f"--- stdout\n{done.stdout[-6000:]}\n--- stderr\n{done.stderr[-6000:]}"
    )
