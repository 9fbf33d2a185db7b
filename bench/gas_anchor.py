"""Anchor gas benchmark: AnchorRegistry against an event-only floor and EAS, on anvil.

Run from the repository root::

    .venv/bin/python -m bench.gas_anchor

It builds the registry and the gas helpers with forge, starts a throwaway anvil,
deploys them and EAS (``SchemaRegistry`` + ``EAS`` from the compiled artifacts in
``@ethereum-attestation-service/eas-contracts``: its sources pin solc 0.8.29, which
our toolchain does not have), sends real transactions and reads ``gasUsed`` from the
receipts, so every figure is transaction gas: 21,000 base + calldata + execution,
each transaction alone in its block with cold storage. It prints the table and
replaces the ``bench:anchor-gas`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from eth_abi.abi import encode

from bench.report import write_section
from ledger.chain.anvil import AnvilProcess
from ledger.core.hashing import keccak256
from ledger.core.merkle import leaf_hash, node_hash

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench:anchor-gas -->", "<!-- /bench:anchor-gas -->"
EAS_ARTIFACTS = (
    ROOT / "node_modules/@ethereum-attestation-service/eas-contracts/artifacts/contracts"
)

ANCHOR_GOAL = 55_000
EXTRA_ROOT_GOAL = 25_000
LEAF_COUNT = 1_000
LEAF_COUNTS = (1, 1_000, 100_000, 2**32 - 1)
REPEATS = 5
MANY_SIZES = (1, 2, 10, 100)
PROOF_DEPTHS = (1, 4, 10, 17, 20)
SLOT_GAS = 22_100  # cold SLOAD + SSTORE zero to non-zero
EVENT_GAS = 375 + 3 * 375 + 8 * 32  # LOG3 with one word of data, the leaf count
EAS_EVENT_GAS = 375 + 3 * 375  # EAS's Timestamped: LOG3 without data
# A root with no zero byte, as 7 in 8 random roots are: the calldata figures in the notes.
SAMPLE_ROOT = bytes(range(1, 33))


class Chain:
    """Just enough JSON-RPC to deploy, transact and read receipts on anvil."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._id = 0
        self.sender: str = self.call("eth_accounts")[0]

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        request = urllib.request.Request(
            self.url, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            reply = json.load(response)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def transact(self, data: bytes, to: str | None = None) -> Any:
        """Send a transaction from the first dev account; the receipt, which must succeed."""
        tx: dict[str, Any] = {
            "from": self.sender,
            "data": "0x" + data.hex(),
            "gas": hex(30_000_000),
        }
        if to is not None:
            tx["to"] = to
        tx_hash = self.call("eth_sendTransaction", tx)
        deadline = time.monotonic() + 30
        while (receipt := self.call("eth_getTransactionReceipt", tx_hash)) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no receipt for {tx_hash}")
            time.sleep(0.01)
        if int(receipt["status"], 16) != 1:
            raise RuntimeError(f"transaction reverted: {receipt['transactionHash']}")
        return receipt

    def gas(self, to: str, data: bytes) -> int:
        return int(self.transact(data, to)["gasUsed"], 16)

    def deploy(self, bytecode: str, args: bytes = b"") -> str:
        address: str = self.transact(bytes.fromhex(bytecode.removeprefix("0x")) + args)[
            "contractAddress"
        ]
        return address


def selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


def calldata(signature: str, types: Sequence[str], values: Sequence[Any]) -> bytes:
    return selector(signature) + encode(list(types), list(values))


def calldata_gas(data: bytes) -> int:
    """Intrinsic calldata cost: 4 gas per zero byte, 16 per non-zero byte."""
    return sum(16 if byte else 4 for byte in data)


def calldata_floor(data: bytes) -> int:
    """EIP-7623 (Prague) minimum gas of a transaction carrying ``data``: 10 per token."""
    tokens = sum(4 if byte else 1 for byte in data)
    return 21_000 + 10 * tokens


def random_root() -> bytes:
    return secrets.token_bytes(32)


def forge_bytecode(out: Path, source: str, name: str) -> str:
    bytecode: str = json.loads((out / source / f"{name}.json").read_text())["bytecode"]["object"]
    return bytecode


def eas_bytecode(name: str) -> str:
    bytecode: str = json.loads((EAS_ARTIFACTS / f"{name}.sol" / f"{name}.json").read_text())[
        "bytecode"
    ]
    return bytecode


def build() -> Path:
    """Compile the measured contracts with forge; the build output directory."""
    forge = ROOT / "node_modules" / ".bin" / "forge"
    sources = [
        "contracts/src/AnchorRegistry.sol",
        "contracts/test/gas/EventOnlyAnchor.sol",
        "contracts/test/gas/VerifyInclusionProbe.sol",
    ]
    subprocess.run([str(forge), "build", *sources], cwd=ROOT, check=True, capture_output=True)
    return ROOT / os.environ.get("FOUNDRY_OUT", "contracts/out")


ANCHOR_SIG = "anchor(uint64,bytes32,uint32)"
ANCHOR_TYPES = ("uint64", "bytes32", "uint32")
MANY_SIG = "anchorMany(uint64,bytes32[],uint32[])"
MANY_TYPES = ("uint64", "bytes32[]", "uint32[]")
VERIFY_SIG = "verifyInclusion(bytes32,bytes32[],bytes32)"
VERIFY_TYPES = ("bytes32", "bytes32[]", "bytes32")
PROBE_SIG = "measure(address,bytes32,bytes32[],bytes32)"


@dataclass
class Registry:
    """A deployed AnchorRegistry whose batch numbers the benchmark keeps in step."""

    chain: Chain
    address: str
    next_batch: int = 1

    def anchor(self, leaf_count: int = LEAF_COUNT, root: bytes | None = None) -> int:
        values = (self.next_batch, root or random_root(), leaf_count)
        gas = self.chain.gas(self.address, calldata(ANCHOR_SIG, ANCHOR_TYPES, values))
        self.next_batch += 1
        return gas

    def anchor_many(self, count: int) -> int:
        roots = [random_root() for _ in range(count)]
        values = (self.next_batch, roots, [LEAF_COUNT] * count)
        gas = self.chain.gas(self.address, calldata(MANY_SIG, MANY_TYPES, values))
        self.next_batch += count
        return gas


def deploy_registry(chain: Chain, out: Path) -> Registry:
    bytecode = forge_bytecode(out, "AnchorRegistry.sol", "AnchorRegistry")
    address = chain.deploy(bytecode, encode(["address"], [chain.sender]))
    role = keccak256(b"ANCHORER_ROLE")
    grant = calldata("grantRole(bytes32,address)", ("bytes32", "address"), (role, chain.sender))
    chain.transact(grant, address)
    return Registry(chain, address)


def per_extra(gas_by_size: dict[int, int], size: int) -> float:
    """Marginal gas per root beyond the first, from a call of ``size`` roots and one of 1."""
    return (gas_by_size[size] - gas_by_size[1]) / (size - 1)


def proof_of_depth(depth: int) -> tuple[bytes, list[bytes], bytes]:
    """A digest, a proof of ``depth`` random siblings and the root they lead to."""
    digest = random_root()
    proof = [random_root() for _ in range(depth)]
    node = leaf_hash(digest)
    for sibling in proof:
        node = node_hash(node, sibling)
    return digest, proof, node


@dataclass
class VerifyGas:
    """`verifyInclusion` at one proof depth: as a transaction, and as a call from a contract."""

    tx_gas: int
    floor_bound: bool
    contract_call: int


@dataclass
class Results:
    """Every measured figure, in gas, and the node that measured them."""

    node: str
    hardfork: str
    floor: list[int]
    first_anchor: int
    anchor_by_count: dict[int, list[int]]
    many: dict[int, int]
    eas_timestamp: list[int]
    eas_multi: dict[int, int]
    verify: dict[int, VerifyGas]


def measure(chain: Chain, out: Path) -> Results:
    floor_address = chain.deploy(forge_bytecode(out, "EventOnlyAnchor.sol", "EventOnlyAnchor"))
    floor = [
        chain.gas(
            floor_address, calldata(ANCHOR_SIG, ANCHOR_TYPES, (i + 1, random_root(), LEAF_COUNT))
        )
        for i in range(REPEATS)
    ]

    registry = deploy_registry(chain, out)
    first_anchor = registry.anchor()
    anchor_by_count = {n: [registry.anchor(n) for _ in range(REPEATS)] for n in LEAF_COUNTS}

    batch_registry = deploy_registry(chain, out)
    many = {size: batch_registry.anchor_many(size) for size in MANY_SIZES}

    schemas = chain.deploy(eas_bytecode("SchemaRegistry"))
    eas = chain.deploy(eas_bytecode("EAS"), encode(["address"], [schemas]))
    stamp = [
        chain.gas(eas, calldata("timestamp(bytes32)", ("bytes32",), (random_root(),)))
        for _ in range(REPEATS)
    ]
    multi = {
        size: chain.gas(
            eas,
            calldata(
                "multiTimestamp(bytes32[])", ("bytes32[]",), ([random_root() for _ in range(size)],)
            ),
        )
        for size in MANY_SIZES
    }

    probe = chain.deploy(forge_bytecode(out, "VerifyInclusionProbe.sol", "VerifyInclusionProbe"))
    verify = {}
    for depth in PROOF_DEPTHS:
        digest, proof, root = proof_of_depth(depth)
        registry.anchor(root=root)
        args = (digest, proof, root)
        data = calldata(VERIFY_SIG, VERIFY_TYPES, args)
        measured = calldata(PROBE_SIG, ("address", *VERIFY_TYPES), (registry.address, *args))
        answer = chain.call("eth_call", {"to": probe, "data": "0x" + measured.hex()})
        call_gas, included = int(answer[2:66], 16), int(answer[66:130], 16)
        if included != 1:
            raise RuntimeError(f"proof of depth {depth} did not verify")
        tx_gas = chain.gas(registry.address, data)
        verify[depth] = VerifyGas(tx_gas, tx_gas == calldata_floor(data), call_gas)

    return Results(
        node=str(chain.call("web3_clientVersion")),
        hardfork=str(chain.call("anvil_nodeInfo").get("hardFork", "unknown")),
        floor=floor,
        first_anchor=first_anchor,
        anchor_by_count=anchor_by_count,
        many=many,
        eas_timestamp=stamp,
        eas_multi=multi,
        verify=verify,
    )


def _n(value: float) -> str:
    return f"{round(value):,}"


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(results: Results, today: datetime.date) -> str:
    """The markdown section, markers included."""
    floor = mean(results.floor)
    steady = [g for gases in results.anchor_by_count.values() for g in gases]
    extra_10, extra_100 = per_extra(results.many, 10), per_extra(results.many, 100)
    eas_stamp = mean(results.eas_timestamp)
    eas_extra = per_extra(results.eas_multi, 100)
    anchor_calldata = calldata_gas(calldata(ANCHOR_SIG, ANCHOR_TYPES, (1, SAMPLE_ROOT, LEAF_COUNT)))
    root_calldata = calldata_gas(SAMPLE_ROOT + encode(["uint32"], [LEAF_COUNT]))
    fixed_per_root = SLOT_GAS + EVENT_GAS + root_calldata
    lines = [
        BEGIN,
        "## Anchor gas",
        "",
        f"Command: `.venv/bin/python -m bench.gas_anchor` (run {today.isoformat()}). "
        f"Node `{results.node}`, hardfork `{results.hardfork}`; contracts by solc 0.8.28 "
        "(evm cancun, optimizer 20,000 runs); EAS 1.9.0 deployed from the npm package's "
        "compiled artifacts (its sources pin solc 0.8.29).",
        "",
        "Every figure is **transaction gas** (`gasUsed` of the receipt: 21,000 base + calldata "
        "+ execution), each transaction alone in its block with cold storage. Roots are random "
        f"32-byte values; leaf count {LEAF_COUNT:,} unless stated. Per extra root = "
        "(gas of an n-root call - gas of a 1-root call) / (n - 1).",
        "",
        "| Operation | Gas | Goal | |",
        "|---|---:|---:|---|",
        f"| Floor: event-only `anchor` (same calldata and event, no storage, no checks) "
        f"| {_n(floor)} | | |",
        f"| `AnchorRegistry.anchor`, first anchor (batch 1) | {_n(results.first_anchor)} "
        f"| ≤ {ANCHOR_GOAL:,} | {_met(results.first_anchor <= ANCHOR_GOAL)} |",
    ]
    for leaf_count, gases in results.anchor_by_count.items():
        lines.append(
            f"| `AnchorRegistry.anchor`, leaf count {leaf_count:,} (mean of {len(gases)}, max) "
            f"| {_n(mean(gases))} (max {_n(max(gases))}) | ≤ {ANCHOR_GOAL:,} "
            f"| {_met(max(gases) <= ANCHOR_GOAL)} |"
        )
    lines += [
        f"| `AnchorRegistry.anchor` over the floor | {_n(mean(steady) - floor)} | | |",
        f"| EAS `timestamp(bytes32)` (mean of {len(results.eas_timestamp)}) "
        f"| {_n(eas_stamp)} | | |",
    ]
    for size, gas in results.many.items():
        lines.append(f"| `AnchorRegistry.anchorMany`, {size} root(s) | {_n(gas)} | | |")
    lines += [
        f"| `anchorMany` per extra root (n = 10) | {_n(extra_10)} | < {EXTRA_ROOT_GOAL:,} "
        f"| {_met(extra_10 < EXTRA_ROOT_GOAL)} |",
        f"| `anchorMany` per extra root (n = 100) | {_n(extra_100)} | < {EXTRA_ROOT_GOAL:,} "
        f"| {_met(extra_100 < EXTRA_ROOT_GOAL)} |",
    ]
    for size, gas in results.eas_multi.items():
        lines.append(f"| EAS `multiTimestamp`, {size} root(s) | {_n(gas)} | | |")
    lines += [
        f"| EAS `multiTimestamp` per extra root (n = 100) | {_n(eas_extra)} | | |",
        "",
        "`verifyInclusion` by proof depth. A dispute resolver's `cast call` (`eth_call`) pays "
        "nothing; sent as a transaction it costs the first column, which where marked is the "
        "EIP-7623 calldata floor (10 gas per calldata token) rather than base + calldata + "
        "execution; a contract calling it pays the last column (measured with `gasleft()` "
        "around the call by `contracts/test/gas/VerifyInclusionProbe.sol`, cold registry "
        "account included).",
        "",
        "| Proof depth | Transaction gas | Call from a contract |",
        "|---:|---:|---:|",
    ]
    for depth, verify in results.verify.items():
        floor_note = " (calldata floor)" if verify.floor_bound else ""
        lines.append(f"| {depth} | {_n(verify.tx_gas)}{floor_note} | {_n(verify.contract_call)} |")
    lines += [
        "",
        "Where the gas goes in `anchor`: the record's new slot (22,100: a cold read, then a "
        "zero-to-non-zero write), the batch counter (2,100 read + 2,900 write), the role check "
        f"(2,100), the event ({_n(EVENT_GAS)}: LOG3 with the root and batch number as topics "
        "and the leaf count as its one data word; the anchor time is not repeated in it, as "
        "every log names its block and `anchoredAt` returns the time), 21,000 base and "
        f"{_n(anchor_calldata)} of calldata. Per extra root in `anchorMany` the fixed ABI costs "
        f"{_n(fixed_per_root)} that no implementation avoids (slot 22,100, event "
        f"{_n(EVENT_GAS)}, {_n(root_calldata)} of calldata for a random root and its 32-byte "
        "leaf count); the assembly loop adds "
        f"{_n(extra_100 - fixed_per_root)} (a high-level Solidity loop measured about 650 "
        "during development). Each further non-zero byte of a batch number or leaf count costs "
        "12 gas of calldata.",
        "",
        f"Against EAS: `anchor` costs {_n(mean(steady) - eas_stamp)} more than `timestamp`, "
        "which has no role check (2,100), no batch-number fence (5,000), no leaf count and an "
        f"event without data ({_n(EAS_EVENT_GAS)} gas where ours is {_n(EVENT_GAS)}). The same "
        f"leaner ABI puts `multiTimestamp` at {_n(eas_extra)} per extra root here (fixed part "
        f"{_n(SLOT_GAS + EAS_EVENT_GAS + calldata_gas(SAMPLE_ROOT))}), "
        f"{_n(abs(extra_100 - eas_extra))} {'below' if eas_extra < extra_100 else 'above'} our "
        f"{_n(extra_100)}: the 26.8k per root quoted in issue 3 is not what this EAS build "
        "costs on this node.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-write", action="store_true", help="print only; leave the doc alone")
    args = parser.parse_args(argv)
    out = build()
    with AnvilProcess() as node:
        results = measure(Chain(node.rpc_url), out)
    section = render(results, datetime.date.today())
    print(section)
    if not args.no_write:
        write_section("anchor-gas", section)


if __name__ == "__main__":
    main()
