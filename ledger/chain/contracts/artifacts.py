"""Contract ABIs and bytecode, loaded from forge's build output.

forge writes ``contracts/out/<Name>.sol/<Name>.json``; that file is the single source
of the ABI, the creation bytecode and the runtime bytecode, so Python never carries a
copy that could drift from the Solidity. ``$LEDGER_CONTRACTS_OUT`` points elsewhere (an
installed service).
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
from ledger.core.hashing import keccak256
from ledger.errors import ChainError

OUT_ENV = "LEDGER_CONTRACTS_OUT"

ABI = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: its ABI, creation bytecode and ABI hash, and its runtime
    bytecode with the (start, length) byte ranges the constructor fills with immutables.
    """

    name: str
    abi: tuple[Mapping[str, Any], ...]
    bytecode: bytes
    abi_hash: str
    deployed_bytecode: bytes = b""
    immutable_ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_forge_json(cls, name: str, document: Mapping[str, Any]) -> Artifact:
        """Parse forge's artifact JSON (``abi``, ``bytecode.object`` and, when present,
        ``deployedBytecode.object`` and ``deployedBytecode.immutableReferences``)."""
        abi = document.get("abi")
        bytecode = document.get("bytecode")
        code = bytecode.get("object") if isinstance(bytecode, Mapping) else None
        if not isinstance(abi, list) or not all(isinstance(item, Mapping) for item in abi):
            raise ChainError(f"artifact {name}: no ABI list", field="abi")
        if not isinstance(code, str) or not code.startswith("0x") or len(code) < 4:
            raise ChainError(f"artifact {name}: no creation bytecode", field="bytecode.object")
        creation = _hex(name, code, "bytecode.object")
        deployed = document.get("deployedBytecode")
        runtime, ranges = _runtime(name, deployed) if isinstance(deployed, Mapping) else (b"", ())
        return cls(name=name, abi=tuple(abi), bytecode=creation, abi_hash=abi_hash(abi),
                   deployed_bytecode=runtime, immutable_ranges=ranges)

    def code_hash(self) -> bytes:
        """Keccak-256 of the runtime bytecode with its immutables zeroed
        (`runtime_code_hash`): what a deployment of this artifact hashes to."""
        if not self.deployed_bytecode:
            raise ChainError(f"artifact {self.name}: no runtime bytecode",
                             field="deployedBytecode.object")
        return runtime_code_hash(self.deployed_bytecode, self.immutable_ranges)


def runtime_code_hash(code: bytes, immutable_ranges: Sequence[tuple[int, int]] = ()) -> bytes:
    """Keccak-256 of runtime ``code`` with each (start, length) range zeroed.

    The constructor writes immutables into the runtime code, so two deployments of the
    same artifact differ exactly there; zeroing those ranges (in the artifact's code
    they are zero already) makes the hash name the code, not the constructor's inputs.
    """
    masked = bytearray(code)
    for start, length in immutable_ranges:
        masked[start:start + length] = bytes(min(length, max(0, len(masked) - start)))
    return keccak256(bytes(masked))


def _hex(name: str, code: str, field: str) -> bytes:
    try:
        return bytes.fromhex(code[2:])
    except ValueError as exc:
        raise ChainError(f"artifact {name}: {field} is not hex", field=field) from exc


def _runtime(name: str, deployed: Mapping[str, Any]) -> tuple[bytes, tuple[tuple[int, int], ...]]:
    code = deployed.get("object")
    if not isinstance(code, str) or not code.startswith("0x"):
        raise ChainError(f"artifact {name}: no runtime bytecode", field="deployedBytecode.object")
    references = deployed.get("immutableReferences") or {}
    try:
        ranges = tuple(sorted(
            (int(ref["start"]), int(ref["length"]))
            for refs in references.values() for ref in refs
        ))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ChainError(f"artifact {name}: malformed immutableReferences",
                         field="deployedBytecode.immutableReferences") from exc
    return _hex(name, code, "deployedBytecode.object"), ranges


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
    return Artifact.from_forge_json(name, _forge_json(name, out))


def load_abi(name: str, out: str | os.PathLike[str] | None = None) -> tuple[Mapping[str, Any], ...]:
    """Only the ABI of ``name`` from forge's output: for an interface (``IERC20``), which
    has no bytecode to deploy."""
    abi = _forge_json(name, out).get("abi")
    if not isinstance(abi, list) or not all(isinstance(item, Mapping) for item in abi):
        raise ChainError(f"artifact {name}: no ABI list", field="abi")
    return tuple(abi)


def _forge_json(name: str, out: str | os.PathLike[str] | None) -> dict[str, Any]:
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
    return document
