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

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import BlockIdentifier, FilterParams, TxParams

from ledger.chain.contracts.artifacts import Artifact
from ledger.chain.rpc import (
    TRANSIENT_ERRORS,
    ChainRevertError,
    ChainUnavailableError,
    RevertDecoder,
    Web3Client,
    revert_data,
    rpc_message,
)
from ledger.core.usage import ETH_TOKEN, SplitTerms
from ledger.errors import ChainError

_TERMS = "(bytes32,uint32,bytes32,address,uint96,address[],uint16[])"
_ITEM = "(bytes32,uint32,uint256)"
_REF = "(bytes32,uint32)"
_VERSION_INFO = "(bytes32,address,uint256,uint256,bool,address[],uint16[])"
_ACCOUNT = "(uint256,uint256,uint256,uint256,uint64,uint256,uint64,bool,uint64)"

SPLIT_CREATED_TOPIC = keccak(
    text="SplitVersionCreated(bytes32,uint32,address,bytes32,bytes32,address,uint256,address[],uint16[])"
)
WITHDRAWAL_REQUESTED_TOPIC = keccak(text="WithdrawalRequested(address,address,uint256,uint64)")
DEPOSIT_WITHDRAWN_TOPIC = keccak(text="DepositWithdrawn(address,address,address,uint256)")
ITEM_SKIPPED_TOPIC = keccak(text="UsageItemSkipped(address,address,bytes32,uint256,bytes32,uint32)")

NO_CAP = 2**128 - 1
"""A spending cap this high (or higher) means no cap."""
ANY_PRICE = 2**96 - 1
"""A maximum price this high (or higher) accepts any price."""

SPLIT_TERMS_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "SplitTerms": [
        {"name": "owner", "type": "address"},
        {"name": "assetId", "type": "bytes32"},
        {"name": "version", "type": "uint32"},
        {"name": "manifestDigest", "type": "bytes32"},
        {"name": "token", "type": "address"},
        {"name": "pricePerUnit", "type": "uint96"},
        {"name": "payees", "type": "address[]"},
        {"name": "shares", "type": "uint16[]"},
        {"name": "deadline", "type": "uint256"},
    ],
}

SETTLEMENT_TYPES = {
    "EIP712Domain": SPLIT_TERMS_TYPES["EIP712Domain"],
    "Settlement": [
        {"name": "buyer", "type": "address"},
        {"name": "token", "type": "address"},
        {"name": "usageRoot", "type": "bytes32"},
        {"name": "items", "type": "UsageItem[]"},
        {"name": "total", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "UsageItem": [
        {"name": "assetKey", "type": "bytes32"},
        {"name": "version", "type": "uint32"},
        {"name": "units", "type": "uint256"},
    ],
}


_SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def recover_signer(typed_data: dict[str, Any], signature: bytes) -> str:
    """The address whose 65-byte ``r ‖ s ‖ v`` signature of EIP-712 ``typed_data`` this is.

    ChainError for what the contract would refuse: a wrong length, v not 27/28, high s.
    """
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise ChainError("a signature is 65 bytes r ‖ s ‖ v with v 27 or 28", field="signature")
    if int.from_bytes(signature[32:64], "big") > _SECP256K1_HALF_N:
        raise ChainError("high-s signature: s must be at most n/2", field="signature")
    try:
        signer = Account.recover_message(encode_typed_data(full_message=typed_data),
                                         signature=signature)
    except (ValueError, TypeError) as exc:
        raise ChainError(f"the signature does not recover: {exc}", field="signature") from exc
    return _checksum(signer)


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


def _call_data(signature: str, types: list[str], args: list[Any]) -> bytes:
    return function_signature_to_4byte_selector(signature) + abi_encode(types, args)


def _checksum(address: str) -> str:
    return str(AsyncWeb3.to_checksum_address(address))


def _terms_abi(terms: SplitTerms, version: int) -> tuple[Any, ...]:
    return (terms.asset_id, version, terms.manifest_digest, _checksum(terms.token),
            terms.price_per_unit, [_checksum(p) for p in terms.payees], list(terms.shares))


def token_arg(token: str) -> str:
    """The contract's token argument: ``address(0)`` for "ETH", else the address."""
    return ETH_TOKEN if token.upper() == "ETH" else _checksum(token)


class RoyaltySplitter:
    """The splitter at ``address``, described by its forge ``artifact``."""

    def __init__(self, w3: Web3Client, address: str, artifact: Artifact) -> None:
        self.w3 = w3
        self.address = _checksum(address)
        self.artifact = artifact
        self.decoder = RevertDecoder([artifact.abi])
        self._errors = {
            function_signature_to_4byte_selector(
                f"{item['name']}({','.join(str(i['type']) for i in item.get('inputs', []))})"
            ): (str(item["name"]), [str(i["type"]) for i in item.get("inputs", [])],
                [str(i["name"]) for i in item.get("inputs", [])])
            for item in artifact.abi if item.get("type") == "error"
        }

    # -- call data: split owners -----------------------------------------------------

    @staticmethod
    def set_split_data(terms: SplitTerms, version: int) -> bytes:
        """``setSplit(terms)``: the owner sends it from its own account."""
        return _call_data(f"setSplit({_TERMS})", [_TERMS], [_terms_abi(terms, version)])

    @staticmethod
    def set_split_with_sig_data(
        owner: str, terms: SplitTerms, version: int, deadline: int, signature: bytes
    ) -> bytes:
        """``setSplitWithSig(owner, terms, deadline, signature)``: anyone relays it."""
        return _call_data(
            f"setSplitWithSig(address,{_TERMS},uint256,bytes)",
            ["address", _TERMS, "uint256", "bytes"],
            [_checksum(owner), _terms_abi(terms, version), deadline, signature],
        )

    # -- call data: buyers -----------------------------------------------------------

    @staticmethod
    def deposit_data(token: str, amount: int) -> bytes:
        """``deposit(token, amount)``; for ETH send ``amount`` as the value too."""
        return _call_data("deposit(address,uint256)", ["address", "uint256"],
                          [token_arg(token), amount])

    @staticmethod
    def set_max_prices_data(token: str, asset_keys: Sequence[bytes], prices: Sequence[int]
                            ) -> bytes:
        """``setMaxPrices(token, assetKeys, maxPrices)``."""
        return _call_data("setMaxPrices(address,bytes32[],uint256[])",
                          ["address", "bytes32[]", "uint256[]"],
                          [token_arg(token), list(asset_keys), list(prices)])

    @staticmethod
    def set_spending_cap_data(token: str, cap: int) -> bytes:
        """``setSpendingCap(token, cap)``."""
        return _call_data("setSpendingCap(address,uint256)", ["address", "uint256"],
                          [token_arg(token), cap])

    @staticmethod
    def set_cosigning_data(token: str, required: bool) -> bytes:
        """``setCosigning(token, required)``: turning it on waits for the notice period
        unless the buyer has no deposit in ``token``."""
        return _call_data("setCosigning(address,bool)", ["address", "bool"],
                          [token_arg(token), required])

    @staticmethod
    def request_withdrawal_data(token: str, amount: int) -> bytes:
        """``requestWithdrawal(token, amount)``: at most the deposit now; 0 cancels."""
        return _call_data("requestWithdrawal(address,uint256)", ["address", "uint256"],
                          [token_arg(token), amount])

    @staticmethod
    def cancel_split_terms_data(digest: bytes) -> bytes:
        """``cancelSplitTerms(digest)``: the owner makes its signature of ``digest`` unusable."""
        return _call_data("cancelSplitTerms(bytes32)", ["bytes32"], [digest])

    @staticmethod
    def withdraw_deposit_data(token: str, to: str) -> bytes:
        """``withdrawDeposit(token, to)`` once the notice period has passed."""
        return _call_data("withdrawDeposit(address,address)", ["address", "address"],
                          [token_arg(token), _checksum(to)])

    # -- call data: meter and payees ----------------------------------------------------

    @staticmethod
    def settle_data(buyer: str, token: str, usage_root: bytes, items: Sequence[UsageItem]
                    ) -> bytes:
        """``settle(buyer, token, usageRoot, items)`` (METER_ROLE)."""
        return _call_data(
            f"settle(address,address,bytes32,{_ITEM}[])",
            ["address", "address", "bytes32", f"{_ITEM}[]"],
            [_checksum(buyer), token_arg(token), usage_root, [i.to_abi() for i in items]],
        )

    @staticmethod
    def settle_cosigned_data(buyer: str, token: str, usage_root: bytes,
                             items: Sequence[UsageItem], deadline: int, signature: bytes
                             ) -> bytes:
        """``settleCosigned(buyer, token, usageRoot, items, deadline, signature)`` (METER_ROLE)."""
        return _call_data(
            f"settleCosigned(address,address,bytes32,{_ITEM}[],uint256,bytes)",
            ["address", "address", "bytes32", f"{_ITEM}[]", "uint256", "bytes"],
            [_checksum(buyer), token_arg(token), usage_root, [i.to_abi() for i in items],
             deadline, signature],
        )

    @staticmethod
    def release_data(asset_key: bytes, version: int, payee: str) -> bytes:
        """``release(assetKey, version, payee)``: anyone may send it."""
        return _call_data("release(bytes32,uint32,address)", ["bytes32", "uint32", "address"],
                          [asset_key, version, _checksum(payee)])

    @staticmethod
    def release_batch_data(payee: str, token: str, refs: Sequence[tuple[bytes, int]]) -> bytes:
        """``releaseBatch(payee, token, refs)``: one transfer from many split versions."""
        return _call_data(f"releaseBatch(address,address,{_REF}[])",
                          ["address", "address", f"{_REF}[]"],
                          [_checksum(payee), token_arg(token), list(refs)])

    # -- EIP-712 ---------------------------------------------------------------------

    def split_terms_typed_data(
        self, chain_id: int, owner: str, terms: SplitTerms, version: int, deadline: int
    ) -> dict[str, Any]:
        """The typed data a split owner signs for `set_split_with_sig_data`."""
        return {
            "types": SPLIT_TERMS_TYPES,
            "primaryType": "SplitTerms",
            "domain": {"name": "RoyaltySplitter", "version": "1", "chainId": chain_id,
                       "verifyingContract": self.address},
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
            "domain": {"name": "RoyaltySplitter", "version": "1", "chainId": chain_id,
                       "verifyingContract": self.address},
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
        (key,) = await self._call("assetKeyOf(address,bytes32)", ["address", "bytes32"],
                                  [_checksum(owner), asset_id], ["bytes32"])
        return bytes(key)

    async def latest_version(self, asset_key: bytes) -> int:
        """``latestVersion(assetKey)`` (0: no split)."""
        (version,) = await self._call("latestVersion(bytes32)", ["bytes32"], [asset_key],
                                      ["uint32"])
        return int(version)

    async def split_owner(self, asset_key: bytes) -> str:
        """``splitOwner(assetKey)`` (the zero address: none)."""
        (owner,) = await self._call("splitOwner(bytes32)", ["bytes32"], [asset_key], ["address"])
        return _checksum(owner)

    async def split_version(self, asset_key: bytes, version: int) -> SplitVersion:
        """``splitVersion(assetKey, version)``; SplitterRevert if it does not exist."""
        (info,) = await self._call("splitVersion(bytes32,uint32)", ["bytes32", "uint32"],
                                   [asset_key, version], [_VERSION_INFO])
        digest, token, price, total, superseded, payees, shares = info
        return SplitVersion(bytes(digest), _checksum(token), int(price), int(total),
                            bool(superseded), tuple(_checksum(p) for p in payees),
                            tuple(int(s) for s in shares))

    async def released(self, asset_key: bytes, version: int, payee: str) -> int:
        """``released(assetKey, version, payee)``."""
        (value,) = await self._call("released(bytes32,uint32,address)",
                                    ["bytes32", "uint32", "address"],
                                    [asset_key, version, _checksum(payee)], ["uint256"])
        return int(value)

    async def releasable(self, asset_key: bytes, version: int, payee: str) -> int:
        """``releasable(assetKey, version, payee)``."""
        (value,) = await self._call("releasable(bytes32,uint32,address)",
                                    ["bytes32", "uint32", "address"],
                                    [asset_key, version, _checksum(payee)], ["uint256"])
        return int(value)

    async def account(self, buyer: str, token: str) -> BuyerAccount:
        """``account(buyer, token)``."""
        (info,) = await self._call("account(address,address)", ["address", "address"],
                                   [_checksum(buyer), token_arg(token)], [_ACCOUNT])
        deposit, spent, cap, pending_cap, pending_from, pending_out, at, cosign, cosign_from = info
        return BuyerAccount(int(deposit), int(spent), int(cap), int(pending_cap), int(pending_from),
                            int(pending_out), int(at), bool(cosign), int(cosign_from))

    async def max_price_per_unit(self, buyer: str, token: str, asset_key: bytes) -> int:
        """``maxPricePerUnit(buyer, token, assetKey)``."""
        (value,) = await self._call("maxPricePerUnit(address,address,bytes32)",
                                    ["address", "address", "bytes32"],
                                    [_checksum(buyer), token_arg(token), asset_key], ["uint256"])
        return int(value)

    async def cosigning(self, buyer: str, token: str) -> bool:
        """``cosigning(buyer, token)``."""
        (value,) = await self._call("cosigning(address,address)", ["address", "address"],
                                    [_checksum(buyer), token_arg(token)], ["bool"])
        return bool(value)

    async def is_settled(self, usage_root: bytes, buyer: str, token: str) -> bool:
        """``isSettled(usageRoot, buyer, token)``."""
        (value,) = await self._call("isSettled(bytes32,address,address)",
                                    ["bytes32", "address", "address"],
                                    [usage_root, _checksum(buyer), token_arg(token)], ["bool"])
        return bool(value)

    async def quote(self, buyer: str, token: str, usage_root: bytes,
                    items: Sequence[UsageItem]) -> int:
        """What ``settle`` would charge now; SplitterRevert with the error it would raise."""
        (total,) = await self._call(
            f"quote(address,address,bytes32,{_ITEM}[])",
            ["address", "address", "bytes32", f"{_ITEM}[]"],
            [_checksum(buyer), token_arg(token), usage_root, [i.to_abi() for i in items]],
            ["uint256"],
        )
        return int(total)

    async def split_terms_digest(self, owner: str, terms: SplitTerms, version: int,
                                 deadline: int) -> bytes:
        """``splitTermsDigest(owner, terms, deadline)``: the EIP-712 digest to sign."""
        (digest,) = await self._call(
            f"splitTermsDigest(address,{_TERMS},uint256)", ["address", _TERMS, "uint256"],
            [_checksum(owner), _terms_abi(terms, version), deadline], ["bytes32"],
        )
        return bytes(digest)

    async def settlement_digest(self, buyer: str, token: str, usage_root: bytes,
                                items: Sequence[UsageItem], total: int, deadline: int) -> bytes:
        """``settlementDigest(buyer, token, usageRoot, items, total, deadline)``."""
        (digest,) = await self._call(
            f"settlementDigest(address,address,bytes32,{_ITEM}[],uint256,uint256)",
            ["address", "address", "bytes32", f"{_ITEM}[]", "uint256", "uint256"],
            [_checksum(buyer), token_arg(token), usage_root, [i.to_abi() for i in items], total,
             deadline], ["bytes32"],
        )
        return bytes(digest)

    async def notice_period(self) -> int:
        """``noticePeriod()`` in seconds."""
        (value,) = await self._call("noticePeriod()", [], [], ["uint64"])
        return int(value)

    async def split_terms_cancelled(self, owner: str, digest: bytes) -> bool:
        """``splitTermsCancelled(owner, digest)``."""
        (value,) = await self._call("splitTermsCancelled(address,bytes32)", ["address", "bytes32"],
                                    [_checksum(owner), digest], ["bool"])
        return bool(value)

    # -- events ----------------------------------------------------------------------

    async def withdrawal_notices(self, from_block: int, to_block: int) -> list[WithdrawalNotice]:
        """Every ``WithdrawalRequested`` and ``DepositWithdrawn`` in the blocks
        ``from_block``..``to_block``, in chain order; a withdrawal reads as amount 0."""
        params: FilterParams = {
            "address": AsyncWeb3.to_checksum_address(self.address), "fromBlock": from_block,
            "toBlock": to_block,
            "topics": [[HexBytes(WITHDRAWAL_REQUESTED_TOPIC), HexBytes(DEPOSIT_WITHDRAWN_TOPIC)]],
        }
        out = []
        for log in await self._logs(params):
            topics = log["topics"]
            buyer = _checksum("0x" + bytes(topics[1])[12:].hex())
            token = _checksum("0x" + bytes(topics[2])[12:].hex())
            amount, at = 0, 0
            if bytes(topics[0]) == WITHDRAWAL_REQUESTED_TOPIC:
                amount, at = abi_decode(["uint256", "uint64"], bytes(log["data"]))
            out.append(WithdrawalNotice(buyer, token, int(amount), int(at),
                                        int(log["blockNumber"])))
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
        out = []
        for log in receipt["logs"]:
            if (_checksum(log["address"]) == self.address and log["topics"]
                    and bytes(log["topics"][0]) == ITEM_SKIPPED_TOPIC):
                index, key, version = abi_decode(["uint256", "bytes32", "uint32"],
                                                 bytes(log["data"]))
                out.append((int(index), bytes(key), int(version)))
        return out

    async def split_versions(self, from_block: int, payee: str | None = None
                             ) -> list[tuple[bytes, int, SplitVersionCreated]]:
        """Every ``SplitVersionCreated`` since ``from_block`` (naming ``payee`` if given),
        as (asset key, version, event)."""
        params: FilterParams = {"address": AsyncWeb3.to_checksum_address(self.address),
                                "fromBlock": from_block,
                                "toBlock": "latest", "topics": [HexBytes(SPLIT_CREATED_TOPIC)]}
        out = []
        for log in await self._logs(params):
            topics = log["topics"]
            asset_id, digest, token, price, payees, shares = abi_decode(
                ["bytes32", "bytes32", "address", "uint256", "address[]", "uint16[]"],
                bytes(log["data"]),
            )
            event = SplitVersionCreated(
                owner=_checksum("0x" + bytes(topics[3])[12:].hex()),
                terms=SplitTerms(bytes(asset_id), bytes(digest), _checksum(token), int(price),
                                 tuple(_checksum(p) for p in payees),
                                 tuple(int(x) for x in shares)),
            )
            if payee is None or _checksum(payee) in event.terms.payees:
                out.append((bytes(topics[1]), int.from_bytes(bytes(topics[2]), "big"), event))
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
        entry = self._errors.get(data[:4])
        if entry is None:
            return "", {}
        name, types, names = entry
        try:
            values = abi_decode(types, data[4:])
        except (DecodingError, OverflowError, ValueError):
            return "", {}
        return name, dict(zip(names, values, strict=True))

    async def _call(self, signature: str, arg_types: list[str], args: list[Any],
                    out_types: list[str], block: BlockIdentifier = "latest") -> tuple[Any, ...]:
        params: TxParams = {"to": self.address, "data": _call_data(signature, arg_types, args)}
        try:
            raw = await self.w3.eth.call(params, block_identifier=block)
        except TRANSIENT_ERRORS as exc:
            raise ChainUnavailableError(f"the chain node is unreachable: {exc}") from exc
        except ContractLogicError as exc:
            reason = self.decoder.from_exception(exc)
            name, named = self.decode_revert(revert_data(exc))
            raise SplitterRevert(f"{signature.split('(')[0]} reverted: {reason}", reason=reason,
                                 error=name, args=named) from exc
        except Web3RPCError as exc:
            raise ChainError(f"{signature} failed: {rpc_message(exc)}") from exc
        if not raw:
            raise ChainError(f"no contract answered {signature} at {self.address}")
        return tuple(abi_decode(out_types, bytes(raw)))


class ERC20:
    """The few ERC-20 calls buyers and tests need."""

    def __init__(self, w3: Web3Client, address: str) -> None:
        self.w3 = w3
        self.address = _checksum(address)

    @staticmethod
    def approve_data(spender: str, amount: int) -> bytes:
        """``approve(spender, amount)``."""
        return _call_data("approve(address,uint256)", ["address", "uint256"],
                          [_checksum(spender), amount])

    @staticmethod
    def transfer_data(to: str, amount: int) -> bytes:
        """``transfer(to, amount)``."""
        return _call_data("transfer(address,uint256)", ["address", "uint256"],
                          [_checksum(to), amount])

    async def balance_of(self, account: str) -> int:
        """``balanceOf(account)``."""
        params: TxParams = {"to": self.address, "data": _call_data(
            "balanceOf(address)", ["address"], [_checksum(account)])}
        try:
            raw = await self.w3.eth.call(params)
        except TRANSIENT_ERRORS as exc:
            raise ChainUnavailableError(f"the chain node is unreachable: {exc}") from exc
        except (ContractLogicError, Web3RPCError) as exc:
            raise ChainError(f"balanceOf failed on {self.address}: {exc}") from exc
        (value,) = abi_decode(["uint256"], bytes(raw))
        return int(value)
