"""The ``ledger`` command starts light and documents every option (issue 12).

`ledger --help` took 0.6 to 1.7 s because web3 and py_ecc were imported to build the
parser; a newcomer's first command should answer at once. These are module-presence
checks, not timings (speed figures belong in bench/ and the report).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import keyfile
from ledger.cli.main import build_parser, main
from ledger.cli.manifests import KEY_TYPES

ROOT = Path(__file__).parents[2]
HEAVY = ("web3", "eth_account", "eth_keys", "py_ecc", "aiohttp", "sqlalchemy", "cryptography")

_PROBE = """
import contextlib, io, sys
from ledger.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main(sys.argv[1:])
print(",".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _imported_by(*argv: str) -> list[str]:
    """The heavy top-level packages a fresh interpreter has imported after `ledger ARGV`."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        capture_output=True, text=True, cwd=ROOT, check=True, timeout=60,
    )
    return sorted(set(done.stdout.strip().split(",")) & set(HEAVY))


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("verify", "--help"), ("serve", "--help"), ("buyer", "deposit", "--help"),
     ("usage", "send", "--help"), ("dev", "fund", "--help"), ("db", "check", "--help"),
     ("lookup", "--help"), ("package", "--help"), ("submit", "--help"), ("evidence", "--help"),
     ("export", "proofs", "--help"), ("audit", "--help"), ("export", "dataset", "--help")],
    ids=lambda argv: " ".join(argv),
)
def test_help_imports_no_heavy_library(argv: tuple[str, ...]) -> None:
    assert _imported_by(*argv) == []


@pytest.mark.parametrize("case", ["p256-1.1: valid, header only", "eth-1.0: valid, header only"])
def test_verifying_an_evidence_package_imports_no_web3(case: str, tmp_path: Path) -> None:
    # A resolver's one command must start fast (issue 15: cold start under 0.5 s): the
    # block comes from --block-hash, or a node read with plain JSON-RPC, never web3.
    vectors = json.loads((ROOT / "tests" / "vectors" / "evidence.json").read_text())
    found = next(c for c in vectors["cases"] if c["name"] == case)
    package = tmp_path / "evidence.json"
    package.write_text(json.dumps(found["package"]))
    pins = vectors["pins"]
    argv = ("verify", str(package), "--registry", pins["registry"], "--chain-id",
            str(pins["chainId"]), "--code-hash", pins["codeHash"], "--block-hash",
            found["blockHash"])
    assert main(list(argv)) == 0  # the path measured is the whole verification
    imported = _imported_by(*argv)
    assert not {"web3", "eth_account", "py_ecc", "sqlalchemy", "aiohttp"} & set(imported)


def test_importing_the_cli_imports_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import ledger.cli"],
        capture_output=True, text=True, cwd=ROOT, check=True, timeout=60,
    )
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
    assert not imported & set(HEAVY)


def test_key_types_match_the_keyfile_module() -> None:
    assert KEY_TYPES == keyfile.KEY_TYPES


def _walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_of_every_command_has_help() -> None:
    missing = [f"{path}: {action.option_strings or action.dest}"
               for path, action in _walk(build_parser(), "ledger")
               if not action.help or action.help == argparse.SUPPRESS]
    assert missing == []
