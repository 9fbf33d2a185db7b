"""The RoyaltySplitter's rules, in Python, for the fake chain of `tests.fakes.node`.

It answers the contract's ABI (read from forge's artifact, so selectors, argument
and return types and custom errors are the real ones) for what the service calls:
``settle``, ``settleCosigned``, ``setSplitWithSig`` (trusted: the signature is not
checked) and the views. It charges as the contract does (see
``contracts/src/RoyaltySplitter.sol``): an item of a superseded version is skipped
with ``UsageItemSkipped``; a (root, buyer, token) is settled once; the spending cap
and the deposit are checked on the total. Tests set accounts, limits and splits
directly, as an owner's or buyer's own transactions would have.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import (
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
)
from eth_utils.address import to_checksum_address

from ledger.chain.contracts.artifacts import load_artifact
from ledger.core.royalty.terms import SplitTerms, asset_key_of

NOTICE_PERIOD_S = 7 * 24 * 3600


class Revert(Exception):
    """A call reverted with the ABI-encoded custom error ``data``."""

    def __init__(self, data: bytes) -> None:
        super().__init__("0x" + data.hex())
        self.data = data


@dataclass
class Version:
    """One split version as the contract stores it."""

    manifest_digest: bytes
    token: str
    price: int
    payees: tuple[str, ...]
    shares: tuple[int, ...]
    received: int = 0
    superseded: bool = False


@dataclass
class Account:
    """A buyer's account in one token."""

    deposit: int = 0
    spent: int = 0
    cap: int = 0
    cosigning: bool = False
    pending_withdrawal: int = 0
    withdrawable_at: int = 0


@dataclass
class Log:
    """An event log, before a block gives it its number."""

    topics: list[bytes]
    data: bytes


@dataclass
class SplitterState:
    """Everything the contract stores; copied whole for a reorg."""

    versions: dict[bytes, list[Version]] = field(default_factory=dict)
    accounts: dict[tuple[str, str], Account] = field(default_factory=dict)
    max_prices: dict[tuple[str, str, bytes], int] = field(default_factory=dict)
    settled: set[tuple[bytes, str, str]] = field(default_factory=set)


def _addr(value: str) -> str:
    return str(to_checksum_address(value))


class FakeSplitter:
    """The contract at ``address``; `execute` and `view` take ABI call data."""

    def __init__(self, address: str) -> None:
        self.address = _addr(address)
        self.state = SplitterState()
        abi: Sequence[Mapping[str, Any]] = load_artifact("RoyaltySplitter").abi
        self._functions = {function_abi_to_4byte_selector(i): i for i in abi  # type: ignore[arg-type]
                           if i.get("type") == "function"}
        self._errors = {str(i["name"]): i for i in abi if i.get("type") == "error"}
        self._events = {str(i["name"]): i for i in abi if i.get("type") == "event"}
        self._handlers: dict[str, Callable[..., tuple[Any, ...]]] = {
            "settle": self._settle, "settleCosigned": self._settle_cosigned,
            "setSplitWithSig": self._set_split_with_sig, "quote": self._quote,
            "latestVersion": self._latest_version, "splitVersion": self._split_version,
            "cosigning": self._cosigning, "isSettled": self._is_settled,
            "account": self._account, "noticePeriod": lambda: (NOTICE_PERIOD_S,),
        }
        self.calls: list[str] = []
        self._pending_logs: list[Log] = []

    # -- set up by tests (what owners' and buyers' own transactions would do) ----------

    def set_split(self, owner: str, terms: SplitTerms) -> bytes:
        """Publish the next version of the owner's split; returns the asset key."""
        key = asset_key_of(_addr(owner), terms.asset_id)
        versions = self.state.versions.setdefault(key, [])
        if versions:
            versions[-1].superseded = True
        versions.append(Version(terms.manifest_digest, _addr(terms.token), terms.price_per_unit,
                                tuple(_addr(p) for p in terms.payees), tuple(terms.shares)))
        return key

    def account(self, buyer: str, token: str) -> Account:
        """The buyer's account in ``token`` (created empty)."""
        return self.state.accounts.setdefault((_addr(buyer), _addr(token)), Account())

    def set_max_price(self, buyer: str, token: str, asset_key: bytes, price: int) -> None:
        """The highest price per unit the buyer pays for ``asset_key``."""
        self.state.max_prices[(_addr(buyer), _addr(token), asset_key)] = price

    def received(self, asset_key: bytes, version: int) -> int:
        """What split ``version`` of ``asset_key`` was paid."""
        return self.state.versions[asset_key][version - 1].received

    def withdrawal_log(self, buyer: str, token: str, amount: int, at: int) -> Log:
        """The ``WithdrawalRequested`` log of a buyer's request (the request is noted)."""
        acct = self.account(buyer, token)
        acct.pending_withdrawal, acct.withdrawable_at = amount, at
        return Log([self.topic("WithdrawalRequested"), _word(buyer), _word(token)],
                   abi_encode(["uint256", "uint64"], [amount, at]))

    def topic(self, event: str) -> bytes:
        """The first topic of ``event``'s logs."""
        return bytes(event_abi_to_log_topic(self._events[event]))  # type: ignore[arg-type]

    # -- the ABI ---------------------------------------------------------------------

    def execute(self, data: bytes, logs: list[Log]) -> bytes:
        """Run a transaction's call; Revert leaves the state as it was."""
        return self._run(data, logs, write=True)

    def view(self, data: bytes) -> bytes:
        """Answer an ``eth_call`` (writes are simulated and thrown away)."""
        return self._run(data, [], write=False)

    def _run(self, data: bytes, logs: list[Log], *, write: bool) -> bytes:
        item = self._functions.get(data[:4])
        if item is None:
            raise Revert(b"")
        name = str(item["name"])
        args = abi_decode(list(get_abi_input_types(item)), data[4:])  # type: ignore[arg-type]
        if name not in self._handlers:
            raise NotImplementedError(f"the fake splitter does not model {name}")
        saved = snapshot(self.state)
        try:
            out = self._handlers[name](*args)
        except Revert:
            self.state = saved
            raise
        if not write:
            self.state = saved
        else:
            self.calls.append(name)
            logs.extend(self._pending_logs)
        self._pending_logs = []
        return abi_encode(list(get_abi_output_types(item)), list(out))  # type: ignore[arg-type]

    def _error(self, name: str, *args: Any) -> Revert:
        item = self._errors[name]
        selector = function_abi_to_4byte_selector(item)  # type: ignore[arg-type]
        return Revert(selector + abi_encode(list(get_abi_input_types(item)),  # type: ignore[arg-type]
                                            list(args)))

    # -- functions -------------------------------------------------------------------

    def _settle(self, buyer: str, token: str, root: bytes, items: Sequence[Any]) -> tuple[int]:
        if self.account(buyer, token).cosigning:
            raise self._error("RoyaltySplitterCosignatureRequired", buyer)
        total, _ = self._charge(_addr(buyer), _addr(token), root, items)
        return (total,)

    def _settle_cosigned(self, buyer: str, token: str, root: bytes, items: Sequence[Any],
                         deadline: int, signature: bytes) -> tuple[int]:
        total, _ = self._charge(_addr(buyer), _addr(token), root, items)
        return (total,)

    def _set_split_with_sig(self, owner: str, terms: tuple[Any, ...], deadline: int,
                            signature: bytes) -> tuple[bytes]:
        asset_id, _, digest, token, price, payees, shares = terms
        return (self.set_split(owner, SplitTerms(asset_id, digest, token, price, tuple(payees),
                                                 tuple(shares))),)

    def _quote(self, buyer: str, token: str, root: bytes, items: Sequence[Any]) -> tuple[int]:
        buyer, token = _addr(buyer), _addr(token)
        self._unsettled(root, buyer, token, len(items))
        total = sum(amount for amount, superseded in self._priced(buyer, token, items)
                    if not superseded)
        self._check_charge(self.account(buyer, token), total)
        return (total,)

    def _charge(self, buyer: str, token: str, root: bytes, items: Sequence[Any]
                ) -> tuple[int, int]:
        self._unsettled(root, buyer, token, len(items))
        self._pending_logs = []
        total = priced = 0
        for index, ((amount, superseded), item) in enumerate(
                zip(self._priced(buyer, token, items), items, strict=True)):
            priced += amount
            if superseded:
                self._pending_logs.append(Log(
                    [self.topic("UsageItemSkipped"), _word(buyer), _word(token), root],
                    abi_encode(["uint256", "bytes32", "uint32"], [index, item[0], item[1]])))
                continue
            self.state.versions[item[0]][item[1] - 1].received += amount
            total += amount
        acct = self.account(buyer, token)
        self._check_charge(acct, total)
        acct.deposit -= total
        acct.spent += total
        self.state.settled.add((root, buyer, token))
        return total, priced

    def _unsettled(self, root: bytes, buyer: str, token: str, count: int) -> None:
        if count == 0:
            raise self._error("RoyaltySplitterEmptySettlement")
        if (root, buyer, token) in self.state.settled:
            raise self._error("RoyaltySplitterAlreadySettled", root, buyer, token)

    def _priced(self, buyer: str, token: str, items: Sequence[Any]
                ) -> list[tuple[int, bool]]:
        out = []
        for index, (key, version, units) in enumerate(items):
            versions = self.state.versions.get(key, [])
            if not 1 <= version <= len(versions):
                raise self._error("RoyaltySplitterUnknownVersion", index, key, version)
            v = versions[version - 1]
            max_price = self.state.max_prices.get((buyer, token, key), 0)
            if v.token != token:
                raise self._error("RoyaltySplitterTokenMismatch", index, v.token)
            if units == 0:
                raise self._error("RoyaltySplitterZeroUnits", index)
            if not v.superseded and v.price > max_price:
                raise self._error("RoyaltySplitterPriceAboveCap", index, v.price, max_price)
            out.append((units * v.price, v.superseded))
        return out

    def _check_charge(self, acct: Account, total: int) -> None:
        if acct.spent + total > acct.cap:
            raise self._error("RoyaltySplitterSpendingCapExceeded", acct.spent + total, acct.cap)
        if total > acct.deposit:
            raise self._error("RoyaltySplitterInsufficientDeposit", total, acct.deposit)

    # -- views -----------------------------------------------------------------------

    def _latest_version(self, key: bytes) -> tuple[int]:
        return (len(self.state.versions.get(key, [])),)

    def _split_version(self, key: bytes, version: int) -> tuple[tuple[Any, ...]]:
        versions = self.state.versions.get(key, [])
        if not 1 <= version <= len(versions):
            return ((bytes(32), _addr("0x" + "00" * 20), 0, 0, False, [], []),)
        v = versions[version - 1]
        return ((v.manifest_digest, v.token, v.price, v.received, v.superseded, list(v.payees),
                 list(v.shares)),)

    def _cosigning(self, buyer: str, token: str) -> tuple[bool]:
        return (self.account(buyer, token).cosigning,)

    def _is_settled(self, root: bytes, buyer: str, token: str) -> tuple[bool]:
        return ((root, _addr(buyer), _addr(token)) in self.state.settled,)

    def _account(self, buyer: str, token: str) -> tuple[tuple[Any, ...]]:
        a = self.account(buyer, token)
        return ((a.deposit, a.spent, a.cap, 0, 0, a.pending_withdrawal, a.withdrawable_at,
                 a.cosigning, 0),)


def _word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(_addr(address)[2:])


def snapshot(state: SplitterState) -> SplitterState:
    """A copy of ``state`` that later writes do not touch."""
    return SplitterState(
        {k: [Version(**vars(v)) for v in vs] for k, vs in state.versions.items()},
        {k: Account(**vars(a)) for k, a in state.accounts.items()},
        dict(state.max_prices), set(state.settled),
    )
