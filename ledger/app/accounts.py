"""What buyers and creators read and sign about royalties: a buyer's account and
the settlements awaiting its co-signature, a creator's statement, and split terms
relayed for their owners. Each joins the database's record of usage and settlements
with the splitter's state on chain, to the wei."""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.app.clock import now_ms
from ledger.app.terms import TermsBook
from ledger.chain.contracts.eip712 import recover_signer
from ledger.chain.contracts.splitter import RoyaltySplitter, UsageItem, token_arg
from ledger.core.hashing import to_hex
from ledger.core.royalty.requests import CosignRequest, SplitSignatureRequest, asset_query
from ledger.core.royalty.settlement import SETTLED, ItemLine, Proposal, ProposalStatus, entitlement
from ledger.core.royalty.terms import AssetTerms, SplitSignature
from ledger.errors import LedgerError, NotFound, SignatureError, Unavailable, ValidationError
from ledger.storage.usage import UsageStore


class RoyaltyAccounts:
    """Buyer views, co-signing, creator statements and split requests."""

    def __init__(self, store: UsageStore, terms_book: TermsBook, *, chain_id: int,
                 splitter: RoyaltySplitter | None) -> None:
        self.store = store
        self.terms_book = terms_book
        self.splitter = splitter
        self._chain_id = chain_id

    # -- splits relayed for their owners ---------------------------------------------------

    async def split_request(self, digest_hex: str, asset_id: str) -> dict[str, Any]:
        """The EIP-712 typed data an asset's split owner signs for the service to register
        its next split version (``setSplitWithSig``), with a deadline a day away."""
        splitter = self._require_splitter()
        terms = await self._terms(*asset_query(digest_hex, asset_id))
        version = await splitter.latest_version(terms.asset_key) + 1
        deadline = int(time.time()) + _SPLIT_DEADLINE_S
        typed = splitter.split_terms_typed_data(self._chain_id, terms.owner, terms.split,
                                                version, deadline)
        return {"owner": terms.owner, "assetKey": to_hex(terms.asset_key), "version": version,
                "deadline": deadline, "typedData": _jsonable(typed)}

    async def add_split_signature(self, obj: Any) -> dict[str, Any]:
        """Keep an owner's signature of split terms; the settler relays it once the
        manifest is anchored. ValidationError or SignatureError names the member."""
        splitter = self._require_splitter()
        request = SplitSignatureRequest.from_obj(obj)
        terms = await self._terms(request.manifest_digest, request.asset_id)
        if request.deadline <= time.time():
            raise ValidationError("has passed", field="deadline")
        typed = splitter.split_terms_typed_data(self._chain_id, terms.owner, terms.split,
                                                request.version, request.deadline)
        try:
            signer = recover_signer(typed, request.signature)
        except LedgerError as exc:
            raise SignatureError(exc.message, field="signature") from exc
        if signer != terms.owner:
            raise SignatureError(f"signed by {signer}, not the split owner {terms.owner}",
                                 field="signature")
        await self.store.add_split_signature(
            SplitSignature(terms.manifest_digest, terms.asset_id, request.version,
                           request.deadline, request.signature, "waiting", None), now_ms())
        return {"assetKey": to_hex(terms.asset_key), "owner": terms.owner,
                "version": request.version, "status": "waiting"}

    async def _terms(self, digest: bytes, asset_id: str) -> AssetTerms:
        manifest = await self.terms_book.manifest(digest)
        if manifest is None:
            raise NotFound("no manifest with this digest", field="manifestDigest")
        return await self.terms_book.asset_terms(digest, asset_id, "")

    def _require_splitter(self) -> RoyaltySplitter:
        if self.splitter is None:
            raise Unavailable("this deployment has no RoyaltySplitter")
        return self.splitter

    # -- buyers -------------------------------------------------------------------------

    async def buyer_view(self, buyer: str) -> dict[str, Any]:
        """A buyer's deposit and limits per token (chain) beside its usage (ledger)."""
        tokens: dict[str, dict[str, Any]] = defaultdict(_buyer_token)
        for total in await self.store.usage_totals(buyer=buyer):
            entry = tokens[total.token]
            entry[_UNITS_BY_STATE[total.state]] += total.units
            entry["events"] += total.events
        for line in await self.store.item_lines(buyer=buyer):
            entry = tokens[line.token]
            if line.status.value in SETTLED:
                entry["settled"] += line.item.amount
            else:
                entry["settling"] += line.item.amount
        for hold in await self.store.holds(buyer=buyer):
            tokens[hold.token]["held"].append({
                "batchNumber": hold.batch_number, "assetKey": to_hex(hold.asset_key),
                "creatorId": hold.creator_id, "units": hold.units, "reason": hold.reason,
            })
            tokens[hold.token]["unitsHeld"] += hold.units
        out = []
        for token, entry in sorted(tokens.items()):
            account = None
            if self.splitter is not None:
                account = (await self.splitter.account(buyer, token)).to_obj()
            out.append({"token": token, "account": account, **_stringify(entry)})
        return {"buyer": buyer, "tokens": out}

    # -- co-signing buyers ----------------------------------------------------------------

    async def proposals(self, buyer: str) -> dict[str, Any]:
        """The settlements awaiting ``buyer``'s co-signature, each with the EIP-712 typed
        data to sign (``settleCosigned``)."""
        splitter = self._require_splitter()
        now = time.time()
        out = []
        for proposal in await self.store.proposals((ProposalStatus.OPEN,), buyer=buyer):
            if proposal.deadline <= now:
                continue  # proposed again by the settler's next step
            out.append({
                "usageRoot": to_hex(proposal.usage_root), "token": proposal.token,
                "batchNumber": proposal.batch_number, "part": proposal.part,
                "items": [{"assetKey": to_hex(i.asset_key), "version": i.version,
                           "units": i.units, "assetId": i.asset_id, "creatorId": i.creator_id,
                           "pricePerUnit": str(i.price), "amount": str(i.amount)}
                          for i in proposal.items],
                "units": proposal.units, "events": proposal.events, "total": str(proposal.total),
                "deadline": proposal.deadline,
                "typedData": _json_safe(_jsonable(self._settlement_typed(splitter, proposal))),
            })
        return {"buyer": buyer, "proposals": out}

    async def cosign(self, buyer: str, obj: Any) -> tuple[dict[str, Any], bool]:
        """Keep ``buyer``'s signature of its open proposal after checking it recovers to
        the buyer over the proposal's typed data; returns (answer, stored). A proposal
        already signed or settled changes nothing. SignatureError (422) for a wrong
        signer, a high-s or malformed signature, or one over other items or total."""
        splitter = self._require_splitter()
        request = CosignRequest.from_obj(obj)
        found = await self.store.proposals(buyer=buyer, token=token_arg(request.token),
                                           usage_root=request.usage_root)
        live = [p for p in found if p.status is not ProposalStatus.EXPIRED]
        if not live:
            raise NotFound("no live proposal of this usage root", field="usageRoot")
        proposal = live[-1]
        answer = {"usageRoot": to_hex(request.usage_root), "token": proposal.token,
                  "total": str(proposal.total), "deadline": proposal.deadline}
        if proposal.status is not ProposalStatus.OPEN:
            return {**answer, "status": proposal.status.value}, False
        if proposal.deadline <= time.time():
            raise ValidationError("the proposal expired; fetch its new proposal",
                                  field="usageRoot")
        raw = request.signature
        try:
            signer = recover_signer(self._settlement_typed(splitter, proposal), raw)
        except LedgerError as exc:
            raise SignatureError(exc.message, field="signature") from exc
        if signer != buyer:
            raise SignatureError(f"recovers to {signer}, not the buyer {buyer}, over the "
                                 "proposed settlement", field="signature")
        stored = await self.store.sign_proposal(proposal.id, raw)
        status = ProposalStatus.SIGNED.value if stored else "already signed"
        return {**answer, "status": status}, stored

    def _settlement_typed(self, splitter: RoyaltySplitter, proposal: Proposal
                          ) -> dict[str, Any]:
        return splitter.settlement_typed_data(
            self._chain_id, proposal.buyer, proposal.token, proposal.usage_root,
            [UsageItem(i.asset_key, i.version, i.units) for i in proposal.items],
            proposal.total, proposal.deadline,
        )

    # -- creators -----------------------------------------------------------------------

    async def statement(self, creator_id: str) -> dict[str, Any]:
        """Per asset and buyer: units used, held, settled (with tx hashes); per split
        version and payee: earned, withdrawn, withdrawable, read from the chain."""
        usage: dict[tuple[bytes, str], dict[str, Any]] = {}
        for total in await self.store.usage_totals(creator_id=creator_id):
            row = usage.setdefault((total.asset_key, total.buyer),
                                   _usage_row(total.asset_id, total.asset_key, total.buyer,
                                              total.token))
            row[_UNITS_BY_STATE[total.state]] += total.units
            row["unitsUsed"] += total.units
        for hold in await self.store.holds(creator_id=creator_id):
            held = usage.get((hold.asset_key, hold.buyer))
            if held is not None:
                held["unitsHeld"] += hold.units
                held["holdReasons"].append(hold.reason)
        lines = await self.store.item_lines(creator_id=creator_id)
        for line in lines:
            charged = usage.get((line.item.asset_key, line.buyer))
            if charged is None:
                continue
            if line.status.value in SETTLED:
                charged["settled"] += line.item.amount
            charged["settlements"].append(_settlement_line(line))
        return {
            "creatorId": creator_id,
            "generatedAt": now_ms(),
            "chainId": self._chain_id,
            "splitter": self.splitter.address if self.splitter else None,
            "usage": [_stringify(r) for _, r in sorted(usage.items(),
                                                        key=lambda kv: (kv[1]["assetId"],
                                                                        kv[1]["buyer"]))],
            "splits": await self._splits(lines),
        }

    async def _splits(self, lines: Sequence[ItemLine]) -> list[dict[str, Any]]:
        settled: dict[tuple[bytes, int], int] = defaultdict(int)
        first: dict[tuple[bytes, int], ItemLine] = {}
        for line in lines:
            ref = (line.item.asset_key, line.item.version)
            first.setdefault(ref, line)
            if line.status.value in SETTLED:
                settled[ref] += line.item.amount
        out = []
        for ref, line in first.items():
            entry: dict[str, Any] = {
                "assetId": line.item.asset_id, "assetKey": to_hex(ref[0]), "version": ref[1],
                "manifestDigest": to_hex(line.item.manifest_digest), "token": line.token,
                "pricePerUnit": str(line.item.price), "settled": str(settled[ref]),
            }
            if self.splitter is not None:
                entry.update(await self._chain_split(ref[0], ref[1]))
            out.append(entry)
        return out

    async def _chain_split(self, asset_key: bytes, version: int) -> dict[str, Any]:
        assert self.splitter is not None
        info = await self.splitter.split_version(asset_key, version)
        payees = []
        for account, share in zip(info.payees, info.shares, strict=True):
            withdrawn = await self.splitter.released(asset_key, version, account)
            withdrawable = await self.splitter.releasable(asset_key, version, account)
            payees.append({
                "account": account, "shareBps": share,
                "earned": str(entitlement(info.total_received, share)),
                "withdrawn": str(withdrawn), "withdrawable": str(withdrawable),
            })
        return {"totalReceived": str(info.total_received), "superseded": info.superseded,
                "payees": payees}


_SPLIT_DEADLINE_S = 24 * 3600


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return to_hex(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _json_safe(typed: dict[str, Any]) -> dict[str, Any]:
    # EIP-712 takes uint256 values as decimal strings too: amounts pass 2^53, which
    # JSON readers in JavaScript would round.
    message = typed["message"]
    message["total"] = str(message["total"])
    for item in message["items"]:
        item["units"] = str(item["units"])
    return typed


_UNITS_BY_STATE = {"pending": "unitsPending", "unsettled": "unitsUnsettled",
                   "settling": "unitsSettling", "settled": "unitsSettled",
                   "refused": "unitsRefused"}


def _buyer_token() -> dict[str, Any]:
    return {"events": 0, "unitsPending": 0, "unitsUnsettled": 0, "unitsSettling": 0,
            "unitsSettled": 0, "unitsHeld": 0, "unitsRefused": 0, "settling": 0, "settled": 0,
            "held": []}


def _usage_row(asset_id: str, asset_key: bytes, buyer: str, token: str) -> dict[str, Any]:
    return {"assetId": asset_id, "assetKey": to_hex(asset_key), "buyer": buyer, "token": token,
            "unitsUsed": 0, "unitsPending": 0, "unitsUnsettled": 0, "unitsSettling": 0,
            "unitsSettled": 0, "unitsHeld": 0, "unitsRefused": 0, "holdReasons": [],
            "settled": 0, "settlements": []}


def _settlement_line(line: ItemLine) -> dict[str, Any]:
    return {"settlementId": line.settlement_id, "status": line.status.value,
            "txHash": to_hex(line.tx_hash) if line.tx_hash else None,
            "usageRoot": to_hex(line.usage_root), "version": line.item.version,
            "units": line.item.units, "amount": str(line.item.amount)}


def _stringify(entry: dict[str, Any]) -> dict[str, Any]:
    # Amounts in wei can pass 2^53: JSON carries them as decimal strings.
    return {k: str(v) if k in ("settled", "settling") else v for k, v in entry.items()}


CSV_COLUMNS = ("kind", "asset_id", "asset_key", "version", "buyer", "payee", "token",
               "units_used", "units_settled", "units_held", "settled_wei", "earned_wei",
               "withdrawn_wei", "withdrawable_wei", "tx_hashes")


def statement_csv(statement: Mapping[str, Any]) -> str:
    """The statement as CSV: a ``usage`` row per asset and buyer, a ``payee`` row per
    split version and payee; amounts in base units (wei)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in statement["usage"]:
        hashes = sorted({s["txHash"] for s in row["settlements"] if s["txHash"]})
        writer.writerow(["usage", row["assetId"], row["assetKey"], "", row["buyer"], "",
                         row["token"], row["unitsUsed"], row["unitsSettled"], row["unitsHeld"],
                         row["settled"], "", "", "", " ".join(hashes)])
    for split in statement["splits"]:
        for payee in split.get("payees", []):
            writer.writerow(["payee", split["assetId"], split["assetKey"], split["version"], "",
                             payee["account"], split["token"], "", "", "", split["settled"],
                             payee["earned"], payee["withdrawn"], payee["withdrawable"], ""])
    return out.getvalue()


