"""Co-signed settlement proposals and the split owners' signatures the service relays."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, insert, select, update

from ledger.core.royalty.settlement import (
    LIVE_PROPOSALS,
    Proposal,
    ProposalStatus,
    SettlementDraft,
    SettlementItem,
)
from ledger.core.royalty.terms import SplitSignature
from ledger.storage.engine import repository, storage_errors
from ledger.storage.models import SplitSignatureRow, UsageProposalRow
from ledger.storage.table_store import TableStore


@repository
class ProposalStore(TableStore):
    """Repository of settlement proposals to co-signing buyers."""

    async def add_proposal(self, draft: SettlementDraft, *, deadline: int, now: int) -> Proposal:
        """Record an open proposal of ``draft``, signable until ``deadline``; claims nothing."""
        d = draft
        with storage_errors("could not record a proposal"):
            async with self._engine.begin() as conn:
                result = await conn.execute(insert(UsageProposalRow).values(
                    batch_number=d.batch_number, buyer=d.buyer, token=d.token, part=d.part,
                    usage_root=d.usage_root, items=_items_json(d.items), units=d.units,
                    events=d.events, total=str(d.total), deadline=deadline, signature=None,
                    status=ProposalStatus.OPEN.value, settlement_id=None, created_at=now,
                ).returning(UsageProposalRow.id))
                pid = int(result.scalar_one())
        return Proposal(pid, d.batch_number, d.buyer, d.token, d.part, d.usage_root, d.items,
                        d.units, d.events, d.total, deadline, None, ProposalStatus.OPEN, None,
                        now)

    async def proposals(
        self, statuses: Sequence[ProposalStatus] = (), *, buyer: str | None = None,
        token: str | None = None, usage_root: bytes | None = None,
        batch_number: int | None = None,
    ) -> list[Proposal]:
        """Proposals in ``statuses`` (all if empty), filtered by the other arguments given."""
        p = UsageProposalRow
        stmt = select(p).order_by(p.id)
        if statuses:
            stmt = stmt.where(p.status.in_([s.value for s in statuses]))
        for column, value in ((p.buyer, buyer), (p.token, token), (p.usage_root, usage_root),
                              (p.batch_number, batch_number)):
            if value is not None:
                stmt = stmt.where(column == value)
        async with self._engine.connect() as conn:
            return [_proposal(r) for r in await conn.execute(stmt)]

    async def sign_proposal(self, proposal_id: int, signature: bytes) -> bool:
        """Keep the buyer's signature of an open proposal; False (nothing stored) if the
        proposal is no longer open."""
        p = UsageProposalRow
        with storage_errors("could not keep a signature"):
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    update(p).where(p.id == proposal_id, p.status == ProposalStatus.OPEN.value)
                    .values(signature=signature, status=ProposalStatus.SIGNED.value)
                )
        return bool(result.rowcount == 1)

    async def mark_proposal(self, proposal_id: int, status: ProposalStatus,
                            settlement_id: int | None = None) -> None:
        """Set a proposal's status (and the settlement made from it)."""
        await self._write(
            update(UsageProposalRow).where(UsageProposalRow.id == proposal_id)
            .values(status=status.value, settlement_id=settlement_id),
            f"proposal {proposal_id}",
        )

    async def live_parts(self, batch_number: int, buyer: str, token: str) -> set[int]:
        """The part numbers of (batch, buyer, token) that open or signed proposals hold."""
        p = UsageProposalRow
        stmt = select(p.part).where(p.batch_number == batch_number, p.buyer == buyer,
                                    p.token == token,
                                    p.status.in_([s.value for s in LIVE_PROPOSALS]))
        async with self._engine.connect() as conn:
            return set((await conn.execute(stmt)).scalars())


@repository
class SplitSignatureStore(TableStore):
    """Repository of split owners' signatures waiting to be relayed (``setSplitWithSig``)."""

    async def add_split_signature(self, sig: SplitSignature, now: int) -> None:
        """Keep a split owner's signature to relay (a newer one for the same asset replaces it)."""
        stmt = self._insert(SplitSignatureRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["manifest_digest", "asset_id"],
            set_={"version": stmt.excluded.version, "deadline": stmt.excluded.deadline,
                  "signature": stmt.excluded.signature, "status": stmt.excluded.status,
                  "tx_key": None, "received_at": stmt.excluded.received_at},
        )
        await self._write(stmt, "split signature", [{
            "manifest_digest": sig.manifest_digest, "asset_id": sig.asset_id,
            "version": sig.version, "deadline": sig.deadline, "signature": sig.signature,
            "status": sig.status, "tx_key": None, "received_at": now,
        }])

    async def split_signatures(self, status: str) -> list[SplitSignature]:
        """Signatures in ``status`` ("waiting", "sent", "done", "failed")."""
        stmt = select(SplitSignatureRow).where(SplitSignatureRow.status == status)
        async with self._engine.connect() as conn:
            return [SplitSignature(r.manifest_digest, r.asset_id, r.version, r.deadline,
                                   r.signature, r.status, r.tx_key)
                    for r in await conn.execute(stmt)]

    async def mark_split_signature(self, manifest_digest: bytes, asset_id: str, status: str,
                                   tx_key: str | None) -> None:
        """Record what became of a relayed signature."""
        await self._write(
            update(SplitSignatureRow)
            .where(SplitSignatureRow.manifest_digest == manifest_digest,
                   SplitSignatureRow.asset_id == asset_id)
            .values(status=status, tx_key=tx_key),
            "split signature",
        )


def _items_json(items: Sequence[SettlementItem]) -> str:
    return json.dumps([{"assetKey": i.asset_key.hex(), "version": i.version,
                        "creatorId": i.creator_id, "assetId": i.asset_id,
                        "manifestDigest": i.manifest_digest.hex(), "units": i.units,
                        "price": str(i.price)} for i in items])


def _items_from_json(text: str) -> tuple[SettlementItem, ...]:
    return tuple(SettlementItem(bytes.fromhex(o["assetKey"]), o["version"], o["creatorId"],
                                o["assetId"], bytes.fromhex(o["manifestDigest"]), o["units"],
                                int(o["price"])) for o in json.loads(text))


def _proposal(r: Row[*tuple[Any, ...]]) -> Proposal:
    return Proposal(
        id=r.id, batch_number=r.batch_number, buyer=r.buyer, token=r.token, part=r.part,
        usage_root=r.usage_root, items=_items_from_json(r.items), units=int(r.units),
        events=int(r.events), total=int(r.total), deadline=int(r.deadline),
        signature=r.signature, status=ProposalStatus(r.status), settlement_id=r.settlement_id,
        created_at=r.created_at,
    )
