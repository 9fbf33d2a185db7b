"""The cache of chain proofs: a block's header and the EIP-1186 proofs of anchor records
at it, as fetched from the node and checked once.

Keyed by block hash, a row never goes stale: a block's header and state are fixed by
its hash. A reorg makes the service prove another block, never change a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import select

from ledger.core.hashing import to_hex
from ledger.storage.engine import repository
from ledger.storage.models import ChainProofRow
from ledger.storage.table_store import TableStore


@dataclass(frozen=True)
class BlockProofRows:
    """A block's header, the registry's account proof at it, and the storage proof of
    each anchor root asked for."""

    block_number: int
    header: bytes
    account_proof: tuple[bytes, ...]
    storage_proofs: dict[bytes, tuple[bytes, ...]]


@repository
class ChainProofStore(TableStore):
    """Reads and writes the `chain_proofs` table."""

    async def get(self, block_hash: bytes, roots: Sequence[bytes]) -> BlockProofRows | None:
        """The proofs of every one of `roots` at block `block_hash`; None unless all are
        cached."""
        stmt = select(ChainProofRow).where(ChainProofRow.block_hash == block_hash,
                                           ChainProofRow.root.in_(list(roots)))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        found = {bytes(row.root): row for row in rows}
        if not rows or set(found) != set(roots):
            return None
        first = rows[0]
        return BlockProofRows(
            block_number=first.block_number,
            header=bytes(first.header),
            account_proof=_nodes(first.account_proof),
            storage_proofs={root: _nodes(row.storage_proof) for root, row in found.items()},
        )

    async def put(self, block_hash: bytes, proofs: BlockProofRows) -> None:
        """Keep `proofs` of block `block_hash`; rows cached already stay as they are."""
        account = _blob(proofs.account_proof)
        values = [
            {"block_hash": block_hash, "root": root, "block_number": proofs.block_number,
             "header": proofs.header, "account_proof": account, "storage_proof": _blob(nodes)}
            for root, nodes in proofs.storage_proofs.items()
        ]
        if values:
            stmt = self._insert(ChainProofRow).values(values).on_conflict_do_nothing()
            await self._write(stmt, "the chain proof cache")


def _blob(nodes: Sequence[bytes]) -> bytes:
    return orjson.dumps([to_hex(node) for node in nodes])


def _nodes(blob: bytes) -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(node[2:]) for node in orjson.loads(blob))
