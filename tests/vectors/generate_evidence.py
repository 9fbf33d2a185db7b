"""Writes tests/vectors/evidence.json; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_evidence

Evidence packages (docs/proof-format.md section 9) anchored on a real anvil: a 1.1
manifest of a P-256 creator and a 1.0 manifest of an Ethereum creator, each creator's
register record anchored in its own batch before the manifest's, so the package proves
two roots from one block. Then tampered copies, each with the step that must fail
first. `ledger verify`, the independent recipe and the verifier page run every case.

The chain state is built by hand here (batches, anchors through the registry, the
receipt) rather than by the service, so the vectors do not move when the service does;
tests/integration/service/test_evidence.py checks the service's packages.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account

from ledger.chain.anvil import DEV_KEYS, AnvilProcess, json_rpc
from ledger.chain.deploy import deploy_contracts
from ledger.chain.rpc import connect
from ledger.core.asset_tree import AssetTree, entry_bytes
from ledger.core.chain_state import anchor_slot, header_rlp
from ledger.core.creators import (
    CreatorAction,
    deployment_id,
    key_derived_id,
    record_digest,
    sign_action,
)
from ledger.core.evidence import ChainEvidence, Evidence
from ledger.core.hashing import keccak256
from ledger.core.licence_status import DEFAULT_NOTICE_MS
from ledger.core.manifest import parse_manifest
from ledger.core.merkle import MerkleTree
from ledger.core.proof import Anchor, ProofBundle
from ledger.core.receipt import ReceiptSigner
from ledger.core.signing import P256SigningKey, SigningKey, sign_manifest
from ledger.core.statements import Statement, sign_statement
from ledger.keyfile import parse_key_file

HERE = Path(__file__).parent
OUT = HERE / "evidence.json"

# Test keys only: public in this repository.
CREATOR_P256 = P256SigningKey.from_secret(0x6C6564676572_2D65766964656E6365_2D31)
RECOVERY_P256 = P256SigningKey.from_secret(0x6C6564676572_2D65766964656E6365_2D32)
SERVICE_KEY = P256SigningKey.from_secret(0x6C6564676572_2D73657276696365)
CREATED = "2026-12-04T12:00:00Z"

DESCRIPTION = [
    "Evidence packages (ledger-evidence/1, docs/proof-format.md section 9) anchored on anvil.",
    "pins: what the verifier pins (chainId, registry, codeHash, serviceKey).",
    "files: name -> hex bytes of the registered files.",
    "cases[]: package, blockHash (the hash the verifier trusts), optional file (a files key),",
    "optional pins (overrides), optional canonicalHashes (block number -> hash, as an RPC node",
    "reports them), expect {verified, step}: step is the first step that must fail (null",
    "when verified). Steps: file asset manifest creator receipt batch registry anchor block.",
]


def _files() -> dict[str, bytes]:
    return {f"photo-{i}.jpg": f"evidence photo {i}\n".encode() for i in range(3)}


def _entry(name: str, data: bytes, licence: str) -> dict[str, Any]:
    return {
        "id": "asset:" + name.removesuffix(".jpg"),
        "type": "image/jpeg",
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
        "licenses": [licence],
        "priceModel": {"type": "per-unit", "rate": 2.5, "currency": "USD", "unit": "sample"},
    }


class _Chain:
    """A registry on anvil and the batches anchored into it, in order."""

    def __init__(self, rpc_url: str, registry: str, chain_id: int) -> None:
        self.rpc_url = rpc_url
        self.registry = registry
        self.chain_id = chain_id
        self.sender = Account.from_key(DEV_KEYS[0]).address
        self.batches = 0
        self.anchor_data: Callable[[int, bytes, int], bytes] | None = None

    def rpc(self, method: str, *params: Any) -> Any:
        return json_rpc(self.rpc_url, method, list(params))

    def anchor(self, digests: list[bytes]) -> tuple[MerkleTree, Anchor]:
        assert self.anchor_data is not None
        tree = MerkleTree(digests)
        self.batches += 1
        data = self.anchor_data(self.batches, tree.root, len(digests))
        tx = self.rpc("eth_sendTransaction", {"from": self.sender, "to": self.registry,
                                              "data": "0x" + data.hex(), "gas": hex(200_000)})
        receipt = None
        while receipt is None:
            time.sleep(0.05)
            receipt = self.rpc("eth_getTransactionReceipt", tx)
        assert receipt["status"] == "0x1"
        block = self.rpc("eth_getBlockByNumber", receipt["blockNumber"], False)
        return tree, Anchor(
            chain_id=self.chain_id, contract=self.registry, batch_number=self.batches,
            tx_hash=bytes.fromhex(tx[2:]), block_number=int(block["number"], 16),
            block_hash=bytes.fromhex(block["hash"][2:]),
            block_timestamp=int(block["timestamp"], 16),
        )

    def evidence(self, at: int, roots: list[bytes]) -> ChainEvidence:
        block = self.rpc("eth_getBlockByNumber", hex(at), False)
        slots = ["0x" + anchor_slot(root).hex() for root in sorted(roots)]
        proof = self.rpc("eth_getProof", self.registry, slots, hex(at))
        return ChainEvidence(
            chain_id=self.chain_id, registry=self.registry, block_number=at,
            block_header=header_rlp(block),
            account_proof=tuple(bytes.fromhex(n[2:]) for n in proof["accountProof"]),
            anchor_proofs=tuple(
                (root, tuple(bytes.fromhex(n[2:]) for n in item["proof"]))
                for root, item in zip(sorted(roots), proof["storageProof"], strict=True)
            ),
        )


def _package(chain: _Chain, key: SigningKey, recovery: SigningKey, version: str,
             entries: list[dict[str, Any]], index: int, now_ms: int, *,
             with_statement: bool) -> Evidence:
    deployment = deployment_id(chain.chain_id, chain.registry)
    creator_id = key_derived_id(key.public_id)
    register = sign_action("register", creator_id, [key.public_id], now_ms, [key, recovery],
                           deployment=deployment, recovery_key=recovery.public_id)
    record = record_digest(CreatorAction.from_obj(register))
    record_tree, record_anchor = chain.anchor([keccak256(b"another record"), record])
    creator = {"id": creator_id, "signingKey": key.public_id, "payout": "stripe:acct_evidence"}
    body: dict[str, Any] = {"manifestVersion": version, "creator": creator, "createdAt": CREATED}
    proof: tuple[bytes, ...] | None = None
    if version == "1.0":
        body["assets"] = entries
    else:
        tree = AssetTree.from_entries([entry_bytes(e) for e in entries])
        body.update(assetCount=tree.count, assetsRoot="0x" + tree.root.hex())
        proof = tuple(tree.proof(index))
    manifest = parse_manifest(sign_manifest(body, key))
    digest = manifest.digest()
    batch = [hashlib.sha256(b"neighbour %d" % i).digest() for i in range(4)]
    batch.insert(2, digest)
    tree, anchor = chain.anchor(batch)
    receipt = ReceiptSigner(SERVICE_KEY).sign(digest, now_ms + 1000, now_ms + 601_000)
    statements: tuple[tuple[dict[str, Any], dict[str, Any], int], ...] = ()
    roots = [tree.root, record_tree.root]
    if with_statement:
        revoke = _revoke(deployment, digest, entries[index]["id"], key, now_ms - 1000)
        statement_tree, statement_anchor = chain.anchor([revoke.digest()])
        statements = ((revoke.obj, ProofBundle.build(statement_tree, 0, revoke.digest(),
                                                     anchor=statement_anchor).to_obj(), 1),)
        roots.append(statement_tree.root)
        anchor_block = statement_anchor.block_number
    else:
        anchor_block = anchor.block_number
    return Evidence(
        asset=entries[index], asset_index=index, asset_proof=proof,
        manifest=manifest.to_obj(),
        manifest_proof=ProofBundle.build(tree, 2, digest, anchor=anchor).to_obj(),
        receipt=receipt.to_obj(),
        creator_records=((register, ProofBundle.build(record_tree, 1, record,
                                                     anchor=record_anchor).to_obj()),),
        manifest_records=1,
        statements=statements,
        chain=chain.evidence(anchor_block, roots),
    )


def _revoke(deployment: str, digest: bytes, asset_id: str, key: SigningKey, at: int
            ) -> Statement:
    """A revocation of one asset with the default notice (its licences declare none)."""
    return Statement.from_obj(sign_statement({
        "type": "revoke", "deployment": deployment, "issuedAt": at,
        "target": {"manifestDigest": "0x" + digest.hex(), "assetIds": [asset_id]},
        "effectiveAt": at + DEFAULT_NOTICE_MS}, key))


async def _build() -> dict[str, Any]:
    files = _files()
    async with AnvilProcess() as node:
        w3 = connect(node.rpc_url)
        me = Account.from_key(DEV_KEYS[0]).address
        deployment = await deploy_contracts(w3, DEV_KEYS[0], anchorers=[me], with_splitter=False)
        registry = deployment.registry.address
        chain = _Chain(node.rpc_url, registry, node.chain_id)
        chain.anchor_data = deployment.registry_client(w3).anchor_data
        code = chain.rpc("eth_getCode", registry, "latest")
        now_ms = int(chain.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16) * 1000
        names = sorted(files)
        p256_entries = [_entry(n, files[n], "non-exclusive-training") for n in names]
        eth_key = parse_key_file((HERE / "keys" / "manifest-eth.json").read_bytes())
        eth_recovery = P256SigningKey.from_secret(0x6C6564676572_2D657468_2D72)
        eth_entries = [_entry(n, files[n] + b"eth", "CC-BY-4.0") for n in names[:2]]
        packages = {
            "p256-1.1": _package(chain, CREATOR_P256, RECOVERY_P256, "1.1", p256_entries, 1,
                                 now_ms, with_statement=True),
            "eth-1.0": _package(chain, eth_key, eth_recovery, "1.0", eth_entries, 0, now_ms,
                                with_statement=False),
        }
        # A later block, so "a block that is not the named one" has a real hash to name.
        chain.rpc("anvil_mine", "0x1")
        other = chain.rpc("eth_getBlockByNumber", "latest", False)["hash"]
    files.update({"eth-" + n: files[n] + b"eth" for n in names[:2]})
    pins = {"chainId": chain.chain_id, "registry": registry,
            "codeHash": "0x" + keccak256(bytes.fromhex(code[2:])).hex(),
            "serviceKey": SERVICE_KEY.public_id}
    return {
        "description": DESCRIPTION,
        "pins": pins,
        "files": {name: data.hex() for name, data in files.items()},
        "cases": _cases(packages, other),
    }


def _block_hash(ev: Evidence) -> str:
    return "0x" + keccak256(ev.chain.block_header).hex()


def _cases(packages: dict[str, Evidence], other_block: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for name, ev in packages.items():
        good = ev.to_obj()
        trusted = _block_hash(ev)
        file = "photo-1.jpg" if name == "p256-1.1" else "eth-photo-0.jpg"
        cases += [
            _case(name, "valid, header only", None, good, trusted),
            _case(name, "valid, with the file", None, good, trusted, file=file),
            _case(name, "valid, no service key pinned (receipt not checked)", None, good,
                  trusted, pins={"serviceKey": None}),
            _case(name, "a wrong file", "file", good, trusted, file="photo-2.jpg"),
        ]
        for label, step, mutate in _mutations(good, other_block):
            obj = copy.deepcopy(good)
            extra = mutate(obj) or {}
            cases.append(_case(name, label, step, obj, trusted, **extra))
    return cases


def _case(name: str, label: str, step: str | None, package: dict[str, Any], trusted: str,
          **extra: Any) -> dict[str, Any]:
    return {"name": f"{name}: {label}", "package": package,
            "blockHash": extra.pop("blockHash", trusted), **extra,
            "expect": {"verified": step is None, "step": step}}


def _flip(hex_text: str, at: int = -1) -> str:
    digits = list(hex_text)
    digits[at] = "0" if digits[at] != "0" else "1"
    return "".join(digits)


Mutation = Callable[[dict[str, Any]], dict[str, Any] | None]


def _set(path: list[Any], value: Callable[[Any], Any]) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        node: Any = obj
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value(node[path[-1]])
    return mutate


def _no_records(obj: dict[str, Any]) -> None:
    obj["creatorRecords"] = []
    obj["manifestRecords"] = 0
    for item in obj["statements"]:
        item["records"] = 0


def _mutations(good: dict[str, Any], other_block: str) -> list[tuple[str, str, Mutation]]:
    one_one = good["assetProof"] is not None
    out: list[tuple[str, str, Mutation]] = [
        ("asset licence changed", "asset",
         _set(["asset", "licenses"], lambda _: ["exclusive-everything"])),
        ("asset index moved", "asset", _set(["assetIndex"], lambda i: i + 1)),
        ("manifest date changed", "manifest",
         _set(["manifest", "createdAt"], lambda _: "2020-01-01T00:00:00Z")),
        ("manifest signature from another key", "manifest",
         _set(["manifest", "signature"], lambda s: s[:-6] + ("AAAAAA" if s[-6:] != "AAAAAA"
                                                              else "BBBBBB"))),
        ("creator record signature broken", "creator",
         _set(["creatorRecords", 0, "record", "signatures", 0, "signature"],
              lambda s: s[:-6] + ("AAAAAA" if s[-6:] != "AAAAAA" else "BBBBBB"))),
        ("creator record removed", "creator", _no_records),
        ("creator record proof from another leaf", "creator",
         _set(["creatorRecords", 0, "proof", "proof", 0], _flip)),
        ("receipt signature broken", "receipt",
         _set(["receipt", "acceptedAt"], lambda t: t + 1)),
        ("batch path broken", "batch", _set(["manifestProof", "proof", 0], _flip)),
        ("batch anchor claims another time", "anchor",
         _set(["manifestProof", "anchor", "blockTimestamp"], lambda t: t - 3600)),
        ("batch anchor claims another batch number", "anchor",
         _set(["manifestProof", "anchor", "batchNumber"], lambda n: n + 7)),
        ("registry account proof altered", "registry",
         _set(["chain", "accountProof", -1], lambda n: n[:-2] + ("00" if n[-2:] != "00"
                                                                 else "01"))),
        ("anchor storage proof altered", "anchor",
         _set(["chain", "anchorProofs", 0, "proof", -1],
              lambda n: n[:-2] + ("00" if n[-2:] != "00" else "01"))),
        ("anchor storage proof missing", "anchor",
         _set(["chain", "anchorProofs"], lambda proofs: [
             p for p in proofs if p["root"] != good["manifestProof"]["root"]])),
        # The manifest's bundle names block B's hash, so changed header bytes fail there.
        ("header's last field changed", "anchor",
         _set(["chain", "blockHeader"], _flip)),
        ("trusted block hash is another block's", "block",
         lambda _: {"blockHash": other_block}),
        ("foreign registry pinned", "creator",
         lambda _: {"pins": {"registry": "0x000000000000000000000000000000000000dEaD"}}),
        ("another registry code pinned", "registry",
         lambda _: {"pins": {"codeHash": "0x" + "ab" * 32}}),
        ("anchor block reorganised away (an RPC node reports another hash)", "anchor",
         lambda obj: {"canonicalHashes": {str(obj["manifestProof"]["anchor"]["blockNumber"]):
                                          other_block}}),
    ]
    if one_one:
        out.append(("asset proof sibling changed", "asset",
                    _set(["assetProof", 0], _flip)))
    if good["statements"]:
        out += [
            ("statement's effective time moved (signature breaks)", "licence",
             _set(["statements", 0, "statement", "effectiveAt"], lambda t: t - 1)),
            ("statement counted against no creator key", "licence",
             _set(["statements", 0, "records"], lambda _: 0)),
            ("statement proof from another leaf", "licence",
             _set(["statements", 0, "proof", "manifestDigest"], _flip)),
            ("statement's anchor not proven", "anchor",
             _set(["chain", "anchorProofs"], lambda proofs: [
                 p for p in proofs if p["root"] != good["statements"][0]["proof"]["root"]])),
        ]
    return out


def main() -> None:
    """Build the vectors on a fresh anvil and write them."""
    vectors = asyncio.run(_build())
    OUT.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT} ({len(vectors['cases'])} cases)")


if __name__ == "__main__":
    main()
