"""Writes tests/vectors/proofs.json; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_proofs

Good bundles come from the trees of tests/vectors/merkle.json (digest i =
sha256("leaf-<i>")); each bad bundle is a named mutation of a good one, with
the field the error must name and a fragment of its message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.core.merkle import MerkleTree, leaf_hash
from ledger.core.proof import Anchor, ProofBundle

OUT = Path(__file__).with_name("proofs.json")

DESCRIPTION = [
    "Proof bundle vectors, format ledger-proof/1 (see docs/proof-format.md).",
    "valid: json parses and verifies; canonical is what to_json() writes for it",
    "(RFC 8785: sorted members, no whitespace).",
    "invalid: json must be rejected with an error naming field (null: the document as a",
    "whole) whose message contains error. Each is a named mutation of a valid bundle.",
]

ANCHOR = Anchor(
    chain_id=31337,
    contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    batch_number=7,
    tx_hash=hashlib.sha256(b"tx-7").digest(),
    block_number=123,
    block_hash=hashlib.sha256(b"block-123").digest(),
    block_timestamp=1_700_000_000,
)


# SHA-256 of the worked-example manifest in docs/proof-format.md.
DOCS_MANIFEST_DIGEST = "3eacbd7262572925ac62ae1e478db278239c9d47c1ee9ddfa74d61f906685658"


def _digests(size: int) -> list[bytes]:
    return [hashlib.sha256(f"leaf-{i}".encode()).digest() for i in range(size)]


def _bundle(size: int, index: int, anchor: Anchor | None) -> ProofBundle:
    digests = _digests(size)
    return ProofBundle.build(MerkleTree(digests), index, digests[index], anchor)


def _docs_example() -> ProofBundle:
    """The worked example of docs/proof-format.md: the example manifest, batched second of three."""
    digests = _digests(3)
    digests[1] = bytes.fromhex(DOCS_MANIFEST_DIGEST)
    return ProofBundle.build(MerkleTree(digests), 1, digests[1], ANCHOR)


def _valid() -> list[dict[str, Any]]:
    offline = _bundle(5, 2, None)
    anchored = _bundle(100, 42, ANCHOR)
    single = _bundle(1, 0, ANCHOR)
    pretty = json.dumps(
        dict(reversed(list(anchored.to_obj().items()))), indent=2, ensure_ascii=False
    )
    absent = offline.to_obj()
    del absent["anchor"]
    cases = [
        ("offline", "leaf 2 of 5, not yet anchored (anchor null)", offline.to_json().decode()),
        ("anchored", "leaf 42 of 100, anchored", anchored.to_json().decode()),
        ("single-leaf", "the only leaf: empty proof, root = leaf", single.to_json().decode()),
        ("pretty-printed", "anchored, indented, members in reverse order", pretty),
        ("anchor-absent", "offline bundle without the anchor member", json.dumps(absent)),
        (
            "docs-worked-example",
            "the bundle in docs/proof-format.md",
            _docs_example().to_json().decode(),
        ),
    ]
    canonical = {
        "pretty-printed": anchored.to_json(),
        "anchor-absent": offline.to_json(),
    }
    return [
        {
            "name": name,
            "description": description,
            "json": text,
            "canonical": canonical.get(name, text.encode()).decode(),
        }
        for name, description, text in cases
    ]


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for parent in parents:
            obj = obj[parent]
        obj[last] = value

    return mutate


def _delete(name: str) -> Mutation:
    return lambda obj: obj.pop(name)


def _edit_proof(edit: Callable[[list[str]], list[str]]) -> Mutation:
    def mutate(obj: dict[str, Any]) -> None:
        obj["proof"] = edit(obj["proof"])

    return mutate


def _flip_last_bit(value: str) -> str:
    return value[:-1] + format(int(value[-1], 16) ^ 1, "x")


def _object_mutations(good: dict[str, Any]) -> list[tuple[str, str, Mutation, str | None, str]]:
    other_leaf = "0x" + leaf_hash(_digests(5)[3]).hex()
    return [
        ("unknown-member", "extra top-level member", _set("note", "hi"), "note", "unknown member"),
        (
            "unknown-anchor-member",
            "extra member in anchor",
            _set("anchor.gasUsed", 21000),
            "anchor.gasUsed",
            "unknown member",
        ),
        ("missing-root", "root removed", _delete("root"), "root", "missing"),
        ("missing-proof", "proof removed", _delete("proof"), "proof", "missing"),
        ("version-2", "unknown version", _set("version", "ledger-proof/2"), "version", "must be"),
        ("version-number", "version as a number", _set("version", 1), "version", "must be"),
        (
            "manifestDigest-short",
            "one byte short",
            _set("manifestDigest", good["manifestDigest"][:-2]),
            "manifestDigest",
            "64 lower-case hex",
        ),
        (
            "manifestDigest-non-hex",
            "a g in the hex",
            _set("manifestDigest", good["manifestDigest"][:-1] + "g"),
            "manifestDigest",
            "64 lower-case hex",
        ),
        (
            "manifestDigest-upper-case",
            "hex in upper case",
            _set("manifestDigest", "0x" + good["manifestDigest"][2:].upper()),
            "manifestDigest",
            "64 lower-case hex",
        ),
        (
            "manifestDigest-no-0x",
            "hex without the 0x prefix",
            _set("manifestDigest", good["manifestDigest"][2:]),
            "manifestDigest",
            "64 lower-case hex",
        ),
        (
            "manifestDigest-other",
            "digest of another leaf, leaf unchanged",
            _set("manifestDigest", "0x" + _digests(5)[3].hex()),
            "leaf",
            "keccak256(keccak256(manifestDigest))",
        ),
        ("leaf-wrong", "leaf of another digest", _set("leaf", other_leaf), "leaf", "keccak256"),
        (
            "modified-proof[0]-bit-255",
            "last bit of proof[0] flipped",
            _edit_proof(lambda p: [_flip_last_bit(p[0]), *p[1:]]),
            "proof",
            "does not lead",
        ),
        (
            "missing-sibling",
            "last proof hash dropped",
            _edit_proof(lambda p: p[:-1]),
            "proof",
            "needs 3 hashes, got 2",
        ),
        (
            "extra-sibling",
            "proof[0] repeated at the end",
            _edit_proof(lambda p: [*p, p[0]]),
            "proof",
            "needs 3 hashes, got 4",
        ),
        (
            "reversed-proof",
            "proof in top-down order",
            _edit_proof(lambda p: p[::-1]),
            "proof",
            "does not lead",
        ),
        (
            "proof[1]-short",
            "proof[1] one byte short",
            _edit_proof(lambda p: [p[0], p[1][:-2], *p[2:]]),
            "proof[1]",
            "64 lower-case hex",
        ),
        ("proof-string", "proof as a string", _set("proof", "0x00"), "proof", "must be an array"),
        (
            "modified-root-bit-255",
            "last bit of root flipped",
            _set("root", _flip_last_bit(good["root"])),
            "proof",
            "does not lead",
        ),
        ("leafIndex-equal-count", "index 5 of 5", _set("leafIndex", 5), "leafIndex", "below"),
        ("leafIndex-negative", "index -1", _set("leafIndex", -1), "leafIndex", "between"),
        ("leafIndex-string", 'index "2"', _set("leafIndex", "2"), "leafIndex", "integer"),
        ("leafIndex-fraction", "index 2.5", _set("leafIndex", 2.5), "leafIndex", "integer"),
        ("leafIndex-bool", "index true", _set("leafIndex", True), "leafIndex", "integer"),
        ("leafIndex-null", "index null", _set("leafIndex", None), "leafIndex", "integer"),
        ("leafCount-zero", "count 0", _set("leafCount", 0), "leafCount", "between"),
        (
            "leafCount-over-uint32",
            "count 2**32",
            _set("leafCount", 2**32),
            "leafCount",
            "between",
        ),
        (
            "leafCount-inconsistent",
            "count 4: index 2 of 4 needs 2 proof hashes, not 3",
            _set("leafCount", 4),
            "proof",
            "needs 2 hashes, got 3",
        ),
        ("anchor-string", "anchor as a string", _set("anchor", "0x00"), "anchor", "object"),
        (
            "anchor-contract-lower-case",
            "contract address not EIP-55 checksummed",
            _set("anchor.contract", good["anchor"]["contract"].lower()),
            "anchor.contract",
            "EIP-55",
        ),
        (
            "anchor-contract-short",
            "contract address of 19 bytes",
            _set("anchor.contract", good["anchor"]["contract"][:-2]),
            "anchor.contract",
            "40 hex",
        ),
        (
            "anchor-txHash-short",
            "txHash one byte short",
            _set("anchor.txHash", good["anchor"]["txHash"][:-2]),
            "anchor.txHash",
            "64 lower-case hex",
        ),
        (
            "anchor-chainId-zero",
            "chainId 0",
            _set("anchor.chainId", 0),
            "anchor.chainId",
            "between",
        ),
        (
            "anchor-batchNumber-zero",
            "batch numbers start at 1",
            _set("anchor.batchNumber", 0),
            "anchor.batchNumber",
            "between",
        ),
        (
            "anchor-blockNumber-over-2**53",
            "block number beyond exact JSON integers",
            _set("anchor.blockNumber", 2**53),
            "anchor.blockNumber",
            "between",
        ),
        (
            "anchor-missing-blockHash",
            "blockHash removed",
            lambda obj: obj["anchor"].pop("blockHash"),
            "anchor.blockHash",
            "missing",
        ),
    ]


def _text_mutations(text: str) -> list[tuple[str, str, str, str | None, str]]:
    duplicated = text[:-1] + ',"root":' + json.dumps(json.loads(text)["root"]) + "}"
    return [
        ("truncated", "cut in the middle", text[: len(text) // 2], None, "invalid JSON"),
        ("truncated-last-brace", "closing brace missing", text[:-1], None, "invalid JSON"),
        ("trailing-garbage", "text after the object", text + "x", None, "invalid JSON"),
        ("trailing-object", "a second object after the first", text + "{}", None, "Extra data"),
        ("duplicate-member", "root given twice", duplicated, "root", "duplicate member"),
        ("empty", "no input", "", None, "invalid JSON"),
        ("array", "a JSON array", "[" + text + "]", None, "must be a JSON object"),
        ("null", "JSON null", "null", None, "must be a JSON object"),
        (
            "nan-leafIndex",
            "NaN as the index",
            text.replace('"leafIndex":2', '"leafIndex":NaN'),
            "leafIndex",
            "not allowed",
        ),
        (
            "huge-leafIndex",
            "1e400 as the index",
            text.replace('"leafIndex":2', '"leafIndex":1e400'),
            "leafIndex",
            "exactly",
        ),
    ]


def _invalid() -> list[dict[str, Any]]:
    good_bundle = _bundle(5, 2, ANCHOR)
    good = good_bundle.to_obj()
    cases = []
    for name, description, mutate, field, error in _object_mutations(good):
        obj = json.loads(json.dumps(good))
        mutate(obj)
        cases.append((name, description, json.dumps(obj), field, error))
    cases += _text_mutations(good_bundle.to_json().decode())
    checked = []
    for name, description, text, field, error in cases:
        _check_rejected(name, text, field, error)
        checked.append(
            {"name": name, "description": description, "json": text, "field": field, "error": error}
        )
    return checked


def _check_rejected(name: str, text: str, field: str | None, error: str) -> None:
    try:
        ProofBundle.from_json(text)
    except Exception as exc:  # the generator reports what the parser did, whatever it is
        if getattr(exc, "field", None) != field or error not in getattr(exc, "message", ""):
            raise SystemExit(f"{name}: parser says {exc.__class__.__name__}: {exc}") from exc
    else:
        raise SystemExit(f"{name}: parser accepted it")


def build() -> dict[str, Any]:
    """The whole vectors document."""
    return {"description": DESCRIPTION, "valid": _valid(), "invalid": _invalid()}


def main() -> None:
    """Regenerate tests/vectors/proofs.json."""
    OUT.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
