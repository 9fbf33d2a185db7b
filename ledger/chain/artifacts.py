"""Contract ABIs and bytecode, loaded from forge's build output.

forge writes ``contracts/out/<Name>.sol/<Name>.json``; that file is the single source
of the ABI and the creation bytecode, so Python never carries a copy that could drift
from the Solidity. ``$LEDGER_CONTRACTS_OUT`` points elsewhere (an installed service).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785

from ledger.chain.anvil import repo_root
from ledger.errors import ChainError

OUT_ENV = "LEDGER_CONTRACTS_OUT"

ABI = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: its ABI, creation bytecode and ABI hash."""

    name: str
    abi: tuple[Mapping[str, Any], ...]
    bytecode: bytes
    abi_hash: str

    @classmethod
    def from_forge_json(cls, name: str, document: Mapping[str, Any]) -> Artifact:
        """Parse forge's artifact JSON (``abi`` and ``bytecode.object``)."""
        abi = document.get("abi")
        bytecode = document.get("bytecode")
        code = bytecode.get("object") if isinstance(bytecode, Mapping) else None
        if not isinstance(abi, list) or not all(isinstance(item, Mapping) for item in abi):
            raise ChainError(f"artifact {name}: no ABI list", field="abi")
        if not isinstance(code, str) or not code.startswith("0x") or len(code) < 4:
            raise ChainError(f"artifact {name}: no creation bytecode", field="bytecode.object")
        try:
            creation = bytes.fromhex(code[2:])
        except ValueError as exc:
            raise ChainError(f"artifact {name}: bytecode is not hex", field="bytecode.object") \
                from exc
        return cls(name=name, abi=tuple(abi), bytecode=creation, abi_hash=abi_hash(abi))


def abi_hash(abi: ABI) -> str:
    """SHA-256 of the ABI's RFC 8785 canonical JSON, as ``0x`` + 64 hex.

    Key order and whitespace in forge's output do not change it; any change to a
    function, event or error signature does.
    """
    return "0x" + hashlib.sha256(rfc8785.dumps([dict(item) for item in abi])).hexdigest()


def artifacts_dir(out: str | os.PathLike[str] | None = None) -> Path:
    """forge's ``out`` directory: the argument, ``$LEDGER_CONTRACTS_OUT``, or the checkout's."""
    if out is not None:
        return Path(out)
    env = os.environ.get(OUT_ENV)
    return Path(env) if env else repo_root() / "contracts" / "out"


def artifact_path(name: str, out: str | os.PathLike[str] | None = None) -> Path:
    """Where forge writes contract ``name``."""
    return artifacts_dir(out) / f"{name}.sol" / f"{name}.json"


def has_artifact(name: str, out: str | os.PathLike[str] | None = None) -> bool:
    """True when forge has built contract ``name``."""
    return artifact_path(name, out).is_file()


def load_artifact(name: str, out: str | os.PathLike[str] | None = None) -> Artifact:
    """Load contract ``name`` from forge's output; ChainError if it has not been built."""
    path = artifact_path(name, out)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ChainError(
            f"contract artifact {path} is missing: run scripts/setup.sh (forge build)"
        ) from exc
    except OSError as exc:
        raise ChainError(f"cannot read contract artifact {path}: {exc}") from exc
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ChainError(f"contract artifact {path} is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ChainError(f"contract artifact {path} is not a JSON object")
    return Artifact.from_forge_json(name, document)
