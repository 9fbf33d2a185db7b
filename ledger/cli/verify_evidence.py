"""``ledger verify`` of an evidence package (``ledger-evidence/1``): one asset, one block.

`ledger.cli.verify` hands a package here. What is trusted comes only from the verifier:
the chain and registry it pinned (``--deployment``, ``--registry/--chain-id``,
``--service``; `verify_checks.pin_trust`), the registry code of this release (or
``--code-hash``), and one block hash, given with ``--block-hash`` or read from a node
the verifier names with ``--rpc-url``. `ledger.core.evidence_check.verify_evidence` checks
every step from those alone; this module gathers the inputs and prints the verdict:
the statement first, then each step as checked (✓), failed (✗) or not checked (a dash).

Cold start matters here (a resolver runs this once, by hand): the node is read with
plain JSON-RPC (`ledger.chain.anvil.json_rpc`), never web3.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ledger.cli.common import EXIT_OK
from ledger.cli.verify_checks import hash_option
from ledger.core.hashing import to_hex
from ledger.core.trust import is_local_chain
from ledger.errors import ConfigError

if TYPE_CHECKING:
    from ledger.core.evidence import Evidence
    from ledger.core.trust import TrustRoot
    from ledger.core.verdict import Verdict

#: Exit status of a package that did not verify (bad input is `common.EXIT_ERROR`).
EXIT_NOT_VERIFIED = 1

MARKS = {True: "✓", False: "✗", None: "\u2013"}  # an en dash: not checked

NO_PIN = ("an evidence package is checked against a chain and registry you pin, never the "
          "ones it names: add --deployment FILE, --registry ADDR --chain-id N, or "
          "--service URL")


def check_options(args: argparse.Namespace) -> None:
    """ConfigError for a mix of options no package can satisfy, before anything is read."""
    if args.block_hash is not None and args.rpc_url is not None:
        raise ConfigError("give one trusted block: --block-hash or --rpc-url, not both")
    if args.block_hash is not None:
        hash_option(args.block_hash, "--block-hash")


def refuse_evidence_options(args: argparse.Namespace) -> None:
    """ConfigError when options only an evidence package takes were given for another
    document."""
    given = [flag for flag, value in (("--file", args.file), ("--block-hash", args.block_hash),
                                      ("--json", args.json or None)) if value is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: only for an evidence package (ledger-evidence/1)")


def verify_package(args: argparse.Namespace, data: bytes) -> int:
    """Check the package in ``data`` against the pins and trusted block of ``args``,
    print the verdict, and return 0 when verified, 1 when not."""
    # The trie library hashes through eth_hash, whose default backend (pycryptodome, by
    # cffi) costs ~0.1 s to load; pysha3 is loaded already (`ledger.core.hashing`).
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
    from ledger.core.evidence import Evidence
    from ledger.core.evidence_check import verify_evidence

    check_options(args)
    evidence = Evidence.from_json(data)
    # stdout starts with the verdict: where the pins came from is said on stderr.
    with contextlib.redirect_stdout(sys.stderr):
        trust, code_hashes = pinned(args)
    file_sha256 = _file_hash(args.file)
    canonical: dict[int, bytes] = {}
    if args.rpc_url is not None:
        canonical = node_hashes(args.rpc_url, evidence, trust)
        block_hash: bytes | None = canonical[evidence.chain.block_number]
        source = f"rpc {args.rpc_url}"
    else:
        block_hash = None if args.block_hash is None else hash_option(args.block_hash,
                                                                      "--block-hash")
        source = "--block-hash"
    verdict = verify_evidence(
        evidence, trust, code_hashes, block_hash=block_hash, block_source=source,
        file_name=None if args.file is None else str(args.file), file_sha256=file_sha256,
        canonical_hashes=canonical,
    )
    if args.json:
        print(json.dumps(verdict.to_obj(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(render(verdict, trust, code_hashes, block_hash is not None)))
    return EXIT_OK if verdict.ok else EXIT_NOT_VERIFIED


def pinned(args: argparse.Namespace) -> tuple[TrustRoot, list[bytes]]:
    """The pins the options give: chain and registry (required) with the receipt key if
    pinned, and the registry code hashes accepted (this release's unless ``--code-hash``)."""
    from ledger.cli.verify_checks import pin_trust

    trust = pin_trust(args)
    if trust is None or not trust.pins_anchors:
        raise ConfigError(NO_PIN)
    if args.code_hash:
        return trust, [hash_option(value) for value in args.code_hash]
    from ledger.chain.contracts.artifacts import load_artifact

    return trust, [load_artifact("AnchorRegistry").code_hash()]


def node_hashes(rpc_url: str, evidence: Evidence, trust: TrustRoot) -> dict[int, bytes]:
    """The hashes the node at ``rpc_url`` has for the package's block and for each
    anchor block its bundles name (an empty hash where the node has no such block), once
    the node is known to be the pinned chain (ConfigError otherwise)."""
    answer = _rpc(rpc_url, "eth_chainId", [])
    try:
        node_chain = int(str(answer), 16)
    except ValueError:
        raise ConfigError(f"the node answered eth_chainId with {answer!r}, not a chain id",
                          field="--rpc-url") from None
    if node_chain != trust.chain_id:
        raise ConfigError(f"the node is chain {node_chain}, but you pinned chain "
                          f"{trust.chain_id} ({trust.source})", field="--rpc-url")
    numbers = {evidence.chain.block_number, *_anchor_blocks(evidence)}
    return {number: _hash_at(rpc_url, number) for number in sorted(numbers)}


def render(
    verdict: Verdict, trust: TrustRoot, code_hashes: list[bytes], block_given: bool
) -> list[str]:
    """The lines a person reads: the statement, each step, then what was pinned."""
    width = max((len(step.name) for step in verdict.steps), default=0)
    lines = [verdict.statement]
    lines += [f"  {MARKS[step.ok]} {step.name:<{width}}  {step.detail}" for step in verdict.steps]
    lines.append(f"  pinned ({trust.source}): chain {trust.chain_id}, registry "
                 f"{trust.registry}, code hash {', '.join(map(to_hex, code_hashes))}"
                 + (f", receipt key {trust.service_key}" if trust.service_key else ""))
    if not block_given:
        lines.append("  no trusted block hash: add --block-hash 0x… (from sources you trust, "
                     "e.g. a finalized checkpoint seen by several explorers) or --rpc-url URL "
                     "(a node you chose)")
    assert trust.chain_id is not None  # `pinned` requires it
    if is_local_chain(trust.chain_id):
        lines.append(f"  warning: chain {trust.chain_id} is a local test chain: whoever runs it "
                     "can mine any block with any time, so this proves nothing to a third party")
    return lines


def _anchor_blocks(evidence: Evidence) -> Iterator[int]:
    """The block numbers the package's bundles claim their anchors are in (unchecked:
    the verifier checks each claim; here they only say which blocks to ask for)."""
    bundles = [evidence.manifest_proof, *(proof for _, proof in evidence.creator_records),
               *(proof for _, proof, _ in evidence.statements)]
    for bundle in bundles:
        anchor = bundle.get("anchor")
        number = anchor.get("blockNumber") if isinstance(anchor, dict) else None
        if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
            yield number


def _hash_at(rpc_url: str, number: int) -> bytes:
    """The node's hash of block ``number``; empty when it has none (or answers no hash),
    which no anchor matches."""
    block = _rpc(rpc_url, "eth_getBlockByNumber", [hex(number), False])
    found = block.get("hash") if isinstance(block, dict) else None
    try:
        return bytes.fromhex(found[2:]) if isinstance(found, str) else b""
    except ValueError:
        return b""


def _rpc(url: str, method: str, params: list[object]) -> Any:
    from ledger.chain.anvil import json_rpc

    return json_rpc(url, method, params, 30.0)


def _file_hash(path: object) -> bytes | None:
    if path is None:
        return None
    from ledger.app.file_hashes import sha256_file

    return sha256_file(str(path))

