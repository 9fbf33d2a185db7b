"""What an evidence package needs from the node: a block's header, and EIP-1186 proofs of
the registry's account and of its `_anchors` records at that block.

Everything fetched is checked with the core's verifiers before it is returned (the
header hashes to the block's hash, the account proof leads to the registry's storage
root, each storage proof to a record), so a wrong or lying node yields an error, never
a package that fails for its reader. docs/proof-format.md section 9 gives the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3.types import RPCEndpoint

from ledger.chain.rpc import ChainUnavailableError, Web3Client, is_transient
from ledger.core.chain_state import (
    AnchorState,
    anchor_slot,
    header_rlp,
    parse_header,
    verify_account,
    verify_anchor_state,
)
from ledger.errors import ChainError, LedgerError


@dataclass(frozen=True)
class BlockProofs:
    """One block's header and the proofs of some anchor records in it, all checked."""

    block_number: int
    block_hash: bytes
    #: The RLP header, exactly as hashed.
    header: bytes
    account_proof: tuple[bytes, ...]
    #: Each root's storage proof (RLP nodes), and the record it proves.
    anchors: dict[bytes, tuple[tuple[bytes, ...], AnchorState]]


class StateProofs:
    """Reads blocks and state proofs of one registry from one node."""

    def __init__(self, w3: Web3Client, registry: str) -> None:
        self._w3 = w3
        self._registry = registry

    async def head(self) -> int:
        """The number of the node's latest block."""
        return _number(await self._block("latest"), "latest")

    async def finalized(self) -> int | None:
        """The number of the node's `finalized` block; None if it names none yet."""
        block = await self._rpc("eth_getBlockByNumber", ["finalized", False])
        return None if block is None else _number(block, "finalized")

    async def block_hash(self, number: int) -> bytes | None:
        """The hash of the node's canonical block `number`; None if it has none yet."""
        block = await self._rpc("eth_getBlockByNumber", [hex(number), False])
        return None if block is None else _hex(block.get("hash"), "hash")

    async def fetch(self, number: int, roots: Sequence[bytes]) -> BlockProofs:
        """Block `number`'s header and the proofs of `roots`' records in it, checked:
        ChainError if the node's answers do not verify or a root has no record."""
        block = await self._block(hex(number))
        slots = ["0x" + anchor_slot(root).hex() for root in roots]
        answer = await self._rpc("eth_getProof", [self._registry, slots, hex(number)])
        if not isinstance(answer, dict):
            raise ChainError(f"the node gave no proof for block {number}")
        try:
            header = header_rlp(block)
            parsed = parse_header(header)
            account_proof = _nodes(answer.get("accountProof"))
            account = verify_account(parsed.state_root, self._registry, account_proof)
            anchors = _anchors(account.storage_root, roots, answer.get("storageProof"))
        except LedgerError as exc:
            raise ChainError(f"the node's answers for block {number} do not verify: "
                             f"{exc.message}") from exc
        if parsed.number != number:
            raise ChainError(f"the node answered block {parsed.number} for block {number}")
        return BlockProofs(number, parsed.hash, header, account_proof, anchors)

    async def _block(self, tag: str) -> dict[str, Any]:
        block = await self._rpc("eth_getBlockByNumber", [tag, False])
        if not isinstance(block, dict):
            raise ChainError(f"the node has no block {tag}")
        return block

    async def _rpc(self, method: str, params: list[Any]) -> Any:
        try:
            response = await self._w3.provider.make_request(RPCEndpoint(method), params)
        except Exception as exc:
            if is_transient(exc):
                raise ChainUnavailableError(f"the node did not answer {method}: {exc}") from exc
            raise ChainError(f"the node failed {method}: {exc}") from exc
        if "error" in response:
            raise ChainError(f"the node refused {method}: {response['error']}")
        return response.get("result")


def _anchors(storage_root: bytes, roots: Sequence[bytes], proofs: Any
             ) -> dict[bytes, tuple[tuple[bytes, ...], AnchorState]]:
    if not isinstance(proofs, list) or len(proofs) != len(roots):
        raise ChainError("the node answered another number of storage proofs than asked")
    out = {}
    for root, proof in zip(roots, proofs, strict=True):
        nodes = _nodes(proof.get("proof") if isinstance(proof, dict) else None)
        state = verify_anchor_state(storage_root, root, nodes)
        if state is None:
            raise ChainError(f"root 0x{root.hex()} has no record in the registry")
        out[root] = (nodes, state)
    return out


def _nodes(value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise ChainError("the node's proof is not a list of nodes")
    return tuple(_hex(node, "proof node") for node in value)


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainError(f"the node's {what} is not hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ChainError(f"the node's {what} is not hex") from None


def _number(block: dict[str, Any], tag: str) -> int:
    try:
        return int(block["number"], 16)
    except (KeyError, TypeError, ValueError):
        raise ChainError(f"the node's {tag} block has no number") from None
