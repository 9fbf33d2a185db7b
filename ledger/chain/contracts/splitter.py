"""A typed client of the RoyaltySplitter contract (contracts/src/interfaces/IRoyaltySplitter.sol).

Like `AnchorRegistry`, writes are call data that the caller's `Sender` signs and
sends (``*_data`` functions); reads are ``eth_call``s. A view that reverts raises
`SplitterRevert`, which carries the custom error's name and arguments, so the
settler can tell "deposit too small" from "price above the buyer's cap".

EIP-712: `split_terms_typed_data` is what a split owner signs for
`setSplitWithSig` (the contract's `splitTermsDigest` returns the same digest), and
`settlement_typed_data` what a co-signing buyer signs for `settleCosigned`
(`settlementDigest`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import FilterParams

from ledger.chain.contracts.client import ContractClient
from ledger.chain.contracts.eip712 import SETTLEMENT_TYPES, SPLIT_TERMS_TYPES, splitter_domain
from ledger.chain.rpc import (
    TRANSIENT_ERRORS,
    ChainRevertError,
    ChainUnavailableError,
    revert_data,
    rpc_message,
)
from ledger.core.royalty.terms import ETH_TOKEN, SplitTerms
from ledger.errors import ChainError

NO_CAP = 2**128 - 1
"""A spending cap this high (or higher) means no cap."""
ANY_PRICE = 2**96 - 1
"""A maximum price this high (or higher) accepts any price."""


class SplitterRevert(ChainRevertError):
    """A splitter call reverted with custom error ``error`` and its ``args`` by name."""

    def __init__(self, message: str, *, reason: str, error: str, args: dict[str, Any]) -> None:
        super().__init__(message, reason=reason)
        self.error = error
        self.args_by_name = args


@dataclass(frozen=True)
class UsageItem:
    """`IRoyaltySplitter.UsageItem`: ``units`` of ``asset_key`` at split ``version``."""

    asset_key: bytes
    version: int
    units: int

    def to_abi(self) -> tuple[bytes, int, int]:
        """The ABI tuple."""
        return (self.asset_key, self.version, self.units)


@dataclass(frozen=True)
class SplitVersion:
    """`IRoyaltySplitter.SplitVersionInfo`."""

    manifest_digest: bytes
    token: str
    price_per_unit: int
    total_received: int
    superseded: bool
    payees: tuple[str, ...]
    shares: tuple[int, ...]

    def carries(self, terms: SplitTerms) -> bool:
        """Whether this version holds ``terms`` (the view names no asset: the key it was
        read under does)."""
        return ((self.manifest_digest, self.token, self.price_per_unit, self.payees, self.shares)
                == (terms.manifest_digest, terms.token, terms.price_per_unit, terms.payees,
                    terms.shares))


@dataclass(frozen=True)
class SplitVersionCreated:
    """The data of a ``SplitVersionCreated`` event: the terms set and the owner who set them."""

    owner: str
    terms: SplitTerms


@dataclass(frozen=True)
class WithdrawalNotice:
    """A buyer's withdrawal request in ``token`` as an event left it: ``amount`` payable from
    ``withdrawable_at`` (both 0 once cancelled or paid out, by ``DepositWithdrawn``)."""

    buyer: str
    token: str
    amount: int
    withdrawable_at: int
    block_number: int


@dataclass(frozen=True)
class BuyerAccount:
    """`IRoyaltySplitter.BuyerAccount`: a buyer's state in one token."""

    deposit: int
    spent: int
    spending_cap: int
    pending_spending_cap: int
    pending_spending_cap_from: int
    pending_withdrawal: int
    withdrawable_at: int
    cosigning: bool
    cosigning_from: int

    def to_obj(self) -> dict[str, Any]:
        """JSON view; amounts as decimal strings (they exceed 2^53)."""
        return {
            "deposit": str(self.deposit),
            "spent": str(self.spent),
            "spendingCap": str(self.spending_cap),
            "pendingSpendingCap": str(self.pending_spending_cap),
            "pendingSpendingCapFrom": self.pending_spending_cap_from,
            "pendingWithdrawal": str(self.pending_withdrawal),
            "withdrawableAt": self.withdrawable_at,
            "cosigning": self.cosigning,
            "cosigningFrom": self.cosigning_from,
        }


def _checksum(address: str) -> str:
    return str(AsyncWeb3.to_checksum_address(address))


def _terms_abi(terms: SplitTerms, version: int) -> tuple[Any, ...]:
    return (terms.asset_id, version, terms.manifest_digest, _checksum(terms.token),
            terms.price_per_unit, [_checksum(p) for p in terms.payees], list(terms.shares))


def _items_abi(items: Sequence[UsageItem]) -> list[tuple[bytes, int, int]]:
    return [i.to_abi() for i in items]


def token_arg(token: str) -> str:
    """The contract's token argument: ``address(0)`` for "ETH", else the address."""
    return ETH_TOKEN if token.upper() == "ETH" else _checksum(token)


class RoyaltySplitter(ContractClient):
    """The splitter at ``address``, described by its forge ``artifact``."""

    # -- call data: split owners -----------------------------------------------------

    def set_split_data(self, terms: SplitTerms, version: int) -> bytes:
        """``setSplit(terms)``: the owner sends it from its own account."""
        return self.binding.encode_call("setSplit", _terms_abi(terms, version))

    def set_split_with_sig_data(
        self, owner: str, terms: SplitTerms, version: int, deadline: int, signature: bytes
    ) -> bytes:
        """``setSplitWithSig(owner, terms, deadline, signature)``: anyone relays it."""
        return self.binding.encode_call("setSplitWithSig", _checksum(owner),
                                        _terms_abi(terms, version), deadline, signature)

    # -- call data: buyers -----------------------------------------------------------

    def deposit_data(self, token: str, amount: int) -> bytes:
        """``deposit(token, amount)``; for ETH send ``amount`` as the value too."""
        return self.binding.encode_call("deposit", token_arg(token), amount)

    def set_max_prices_data(self, token: str, asset_keys: Sequence[bytes],
                            prices: Sequence[int]) -> bytes:
        """``setMaxPrices(token, assetKeys, maxPrices)``."""
        return self.binding.encode_call("setMaxPrices", token_arg(token), list(asset_keys),
                                        list(prices))

    def set_spending_cap_data(self, token: str, cap: int) -> bytes:
        """``setSpendingCap(token, cap)``."""
        return self.binding.encode_call("setSpendingCap", token_arg(token), cap)

    def set_cosigning_data(self, token: str, required: bool) -> bytes:
        """``setCosigning(token, required)``: turning it on waits for the notice period
        unless the buyer has no deposit in ``token``."""
        return self.binding.encode_call("setCosigning", token_arg(token), required)

    def request_withdrawal_data(self, token: str, amount: int) -> bytes:
        """``requestWithdrawal(token, amount)``: at most the deposit now; 0 cancels."""
        return self.binding.encode_call("requestWithdrawal", token_arg(token), amount)

    def cancel_split_terms_data(self, digest: bytes) -> bytes:
        """``cancelSplitTerms(digest)``: the owner makes its signature of ``digest`` unusable."""
        return self.binding.encode_call("cancelSplitTerms", digest)

    def withdraw_deposit_data(self, token: str, to: str) -> bytes:
        """``withdrawDeposit(token, to)`` once the notice period has passed."""
        return self.binding.encode_call("withdrawDeposit", token_arg(token), _checksum(to))

    # -- call data: meter and payees ----------------------------------------------------

    def settle_data(self, buyer: str, token: str, usage_root: bytes,
                    items: Sequence[UsageItem]) -> bytes:
        """``settle(buyer, token, usageRoot, items)`` (METER_ROLE)."""
        return self.binding.encode_call("settle", _checksum(buyer), token_arg(token),
                                        usage_root, _items_abi(items))

    def settle_cosigned_data(self, buyer: str, token: str, usage_root: bytes,
                             items: Sequence[UsageItem], deadline: int, signature: bytes
                             ) -> bytes:
        """``settleCosigned(buyer, token, usageRoot, items, deadline, signature)`` (METER_ROLE)."""
        return self.binding.encode_call("settleCosigned", _checksum(buyer), token_arg(token),
                                        usage_root, _items_abi(items), deadline, signature)

    def release_data(self, asset_key: bytes, version: int, payee: str) -> bytes:
        """``release(assetKey, version, payee)``: anyone may send it."""
        return self.binding.encode_call("release", asset_key, version, _checksum(payee))

    def release_batch_data(self, payee: str, token: str, refs: Sequence[tuple[bytes, int]]
                           ) -> bytes:
        """``releaseBatch(payee, token, refs)``: one transfer from many split versions."""
        return self.binding.encode_call("releaseBatch", _checksum(payee), token_arg(token),
                                        list(refs))

    # -- EIP-712 ---------------------------------------------------------------------

    def split_terms_typed_data(
        self, chain_id: int, owner: str, terms: SplitTerms, version: int, deadline: int
    ) -> dict[str, Any]:
        """The typed data a split owner signs for `set_split_with_sig_data`."""
        return {
            "types": SPLIT_TERMS_TYPES,
            "primaryType": "SplitTerms",
            "domain": splitter_domain(chain_id, self.address),
            "message": {
                "owner": _checksum(owner), "assetId": terms.asset_id, "version": version,
                "manifestDigest": terms.manifest_digest, "token": _checksum(terms.token),
                "pricePerUnit": terms.price_per_unit,
                "payees": [_checksum(p) for p in terms.payees], "shares": list(terms.shares),
                "deadline": deadline,
            },
        }

    def settlement_typed_data(
        self, chain_id: int, buyer: str, token: str, usage_root: bytes,
        items: Sequence[UsageItem], total: int, deadline: int,
    ) -> dict[str, Any]:
        """The typed data a co-signing buyer signs for `settle_cosigned_data`."""
        return {
            "types": SETTLEMENT_TYPES,
            "primaryType": "Settlement",
            "domain": splitter_domain(chain_id, self.address),
            "message": {
                "buyer": _checksum(buyer), "token": token_arg(token), "usageRoot": usage_root,
                "items": [{"assetKey": i.asset_key, "version": i.version, "units": i.units}
                          for i in items],
                "total": total, "deadline": deadline,
            },
        }

    # -- views -----------------------------------------------------------------------

    async def asset_key_of(self, owner: str, asset_id: bytes) -> bytes:
        """``assetKeyOf(owner, assetId)``."""
        (key,) = await self._call("assetKeyOf", _checksum(owner), asset_id)
        return bytes(key)

    async def latest_version(self, asset_key: bytes) -> int:
        """``latestVersion(assetKey)`` (0: no split)."""
        (version,) = await self._call("latestVersion", asset_key)
        return int(version)

    async def split_owner(self, asset_key: bytes) -> str:
        """``splitOwner(assetKey)`` (the zero address: none)."""
        (owner,) = await self._call("splitOwner", asset_key)
        return _checksum(owner)

    async def split_version(self, asset_key: bytes, version: int) -> SplitVersion:
        """``splitVersion(assetKey, version)``; SplitterRevert if it does not exist."""
        (info,) = await self._call("splitVersion", asset_key, version)
        digest, token, price, total, superseded, payees, shares = info
        return SplitVersion(bytes(digest), _checksum(token), int(price), int(total),
                            bool(superseded), tuple(_checksum(p) for p in payees),
                            tuple(int(s) for s in shares))

    async def released(self, asset_key: bytes, version: int, payee: str) -> int:
        """``released(assetKey, version, payee)``."""
        (value,) = await self._call("released", asset_key, version, _checksum(payee))
        return int(value)

    async def releasable(self, asset_key: bytes, version: int, payee: str) -> int:
        """``releasable(assetKey, version, payee)``."""
        (value,) = await self._call("releasable", asset_key, version, _checksum(payee))
        return int(value)

    async def account(self, buyer: str, token: str) -> BuyerAccount:
        """``account(buyer, token)``."""
        (info,) = await self._call("account", _checksum(buyer), token_arg(token))
        deposit, spent, cap, pending_cap, pending_from, pending_out, at, cosign, cosign_from = info
        return BuyerAccount(int(deposit), int(spent), int(cap), int(pending_cap), int(pending_from),
                            int(pending_out), int(at), bool(cosign), int(cosign_from))

    async def max_price_per_unit(self, buyer: str, token: str, asset_key: bytes) -> int:
        """``maxPricePerUnit(buyer, token, assetKey)``."""
        (value,) = await self._call("maxPricePerUnit", _checksum(buyer), token_arg(token),
                                    asset_key)
        return int(value)

    async def cosigning(self, buyer: str, token: str) -> bool:
        """``cosigning(buyer, token)``."""
        (value,) = await self._call("cosigning", _checksum(buyer), token_arg(token))
        return bool(value)

    async def is_settled(self, usage_root: bytes, buyer: str, token: str) -> bool:
        """``isSettled(usageRoot, buyer, token)``."""
        (value,) = await self._call("isSettled", usage_root, _checksum(buyer), token_arg(token))
        return bool(value)

    async def quote(self, buyer: str, token: str, usage_root: bytes,
                    items: Sequence[UsageItem]) -> int:
        """What ``settle`` would charge now; SplitterRevert with the error it would raise."""
        (total,) = await self._call("quote", _checksum(buyer), token_arg(token), usage_root,
                                    _items_abi(items))
        return int(total)

    async def split_terms_digest(self, owner: str, terms: SplitTerms, version: int,
                                 deadline: int) -> bytes:
        """``splitTermsDigest(owner, terms, deadline)``: the EIP-712 digest to sign."""
        (digest,) = await self._call("splitTermsDigest", _checksum(owner),
                                     _terms_abi(terms, version), deadline)
        return bytes(digest)

    async def settlement_digest(self, buyer: str, token: str, usage_root: bytes,
                                items: Sequence[UsageItem], total: int, deadline: int) -> bytes:
        """``settlementDigest(buyer, token, usageRoot, items, total, deadline)``."""
        (digest,) = await self._call("settlementDigest", _checksum(buyer), token_arg(token),
                                     usage_root, _items_abi(items), total, deadline)
        return bytes(digest)

    async def notice_period(self) -> int:
        """``noticePeriod()`` in seconds."""
        (value,) = await self._call("noticePeriod")
        return int(value)

    async def split_terms_cancelled(self, owner: str, digest: bytes) -> bool:
        """``splitTermsCancelled(owner, digest)``."""
        (value,) = await self._call("splitTermsCancelled", _checksum(owner), digest)
        return bool(value)

    # -- events ----------------------------------------------------------------------

    async def withdrawal_notices(self, from_block: int, to_block: int) -> list[WithdrawalNotice]:
        """Every ``WithdrawalRequested`` and ``DepositWithdrawn`` in the blocks
        ``from_block``..``to_block``, in chain order; a withdrawal reads as amount 0."""
        requested = self.binding.topic("WithdrawalRequested")
        params: FilterParams = {
            "address": AsyncWeb3.to_checksum_address(self.address), "fromBlock": from_block,
            "toBlock": to_block,
            "topics": [[HexBytes(requested), HexBytes(self.binding.topic("DepositWithdrawn"))]],
        }
        out = []
        for log in await self._logs(params):
            if bytes(log["topics"][0]) == requested:
                args = self.binding.decode_log("WithdrawalRequested", log)
                amount, at = int(args["amount"]), int(args["withdrawableAt"])
            else:
                args, amount, at = self.binding.decode_log("DepositWithdrawn", log), 0, 0
            out.append(WithdrawalNotice(_checksum(args["buyer"]), _checksum(args["token"]),
                                        amount, at, int(log["blockNumber"])))
        return out

    async def skipped_items(self, tx_hash: bytes) -> list[tuple[int, bytes, int]]:
        """(index, asset key, version) of each item the settlement in transaction
        ``tx_hash`` skipped (``UsageItemSkipped``: its split version was superseded), so
        did not charge."""
        try:
            receipt = await self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TRANSIENT_ERRORS as exc:
            raise ChainUnavailableError(f"the chain node is unreachable: {exc}") from exc
        except Web3RPCError as exc:
            raise ChainError(f"eth_getTransactionReceipt failed: {rpc_message(exc)}") from exc
        skipped = self.binding.topic("UsageItemSkipped")
        out = []
        for log in receipt["logs"]:
            if (_checksum(log["address"]) == self.address and log["topics"]
                    and bytes(log["topics"][0]) == skipped):
                args = self.binding.decode_log("UsageItemSkipped", log)
                out.append((int(args["index"]), bytes(args["assetKey"]), int(args["version"])))
        return out

    async def split_versions(self, from_block: int, payee: str | None = None
                             ) -> list[tuple[bytes, int, SplitVersionCreated]]:
        """Every ``SplitVersionCreated`` since ``from_block`` (naming ``payee`` if given),
        as (asset key, version, event)."""
        params: FilterParams = {
            "address": AsyncWeb3.to_checksum_address(self.address), "fromBlock": from_block,
            "toBlock": "latest",
            "topics": [HexBytes(self.binding.topic("SplitVersionCreated"))],
        }
        out = []
        for log in await self._logs(params):
            args = self.binding.decode_log("SplitVersionCreated", log)
            event = SplitVersionCreated(
                owner=_checksum(args["owner"]),
                terms=SplitTerms(bytes(args["assetId"]), bytes(args["manifestDigest"]),
                                 _checksum(args["token"]), int(args["pricePerUnit"]),
                                 tuple(_checksum(p) for p in args["payees"]),
                                 tuple(int(x) for x in args["shares"])),
            )
            if payee is None or _checksum(payee) in event.terms.payees:
                out.append((bytes(args["assetKey"]), int(args["version"]), event))
        return out

    # -- plumbing --------------------------------------------------------------------

    async def _logs(self, params: FilterParams) -> list[Any]:
        try:
            return list(await self.w3.eth.get_logs(params))
        except TRANSIENT_ERRORS as exc:
            raise ChainUnavailableError(f"the chain node is unreachable: {exc}") from exc
        except Web3RPCError as exc:
            raise ChainError(f"eth_getLogs failed: {rpc_message(exc)}") from exc

    def decode_revert(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """A custom error's name and arguments (``("", {})`` when not one of ours)."""
        return self.binding.decode_error(data)

    def _reverted(self, function: str, exc: ContractLogicError) -> ChainError:
        reason = self.decoder.from_exception(exc)
        name, named = self.decode_revert(revert_data(exc))
        return SplitterRevert(f"{function} reverted: {reason}", reason=reason,
                              error=name, args=named)
