"""Buyers' and payees' own transactions on the RoyaltySplitter (issue 5).

Each acts with its own key through a private `Sender` (an in-memory journal:
these are one-shot commands); the service never holds their keys. Used by
``ledger buyer …``/``ledger creator withdraw|split``, the demo and the tests.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account import Account

from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.erc20 import ERC20
from ledger.chain.contracts.splitter import BuyerAccount, RoyaltySplitter, token_arg
from ledger.chain.deploy import Deployment
from ledger.chain.rpc import Web3Client
from ledger.chain.tx.journal import MemoryJournal
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SendPolicy
from ledger.core.manifest import Manifest
from ledger.core.royalty.terms import ETH_TOKEN, amended_metered_terms, metered_terms
from ledger.errors import ConfigError, ValidationError


@dataclass
class Chain:
    """A connection to the chain and the splitter, with one sender per key."""

    w3: Web3Client
    splitter: RoyaltySplitter
    deploy_block: int
    policy: SendPolicy

    def __post_init__(self) -> None:
        self._senders: dict[str, Sender] = {}

    def sender(self, key: str) -> Sender:
        """The one sender of private key ``key`` (hex)."""
        if key not in self._senders:
            self._senders[key] = Sender(self.w3, Account.from_key(key), MemoryJournal(),
                                        policy=self.policy,
                                        decoder=self.splitter.decoder)
        return self._senders[key]

    async def send(self, key: str, to: str, data: bytes, *, value: int = 0) -> str:
        """Send a transaction from ``key`` and wait for it; returns its hash."""
        tx = await self.sender(key).transact(f"cli:{secrets.token_hex(8)}", to, data,
                                             value=value, timeout=120)
        assert tx.inclusion is not None
        return tx.inclusion.tx_hash

    @classmethod
    def open(cls, w3: Web3Client, deployment: Deployment, policy: SendPolicy | None = None
             ) -> Chain:
        """The splitter of ``deployment`` over ``w3``."""
        if deployment.splitter is None:
            raise ConfigError("the deployment has no RoyaltySplitter", field="deployment_file")
        splitter = RoyaltySplitter(w3, deployment.splitter.address,
                                   load_artifact("RoyaltySplitter"))
        return cls(w3, splitter, deployment.deploy_block,
                   policy or SendPolicy(confirmations=1, poll_interval=0.1))


def address_of(key: str) -> str:
    """The address of private key ``key`` (hex)."""
    return str(Account.from_key(key).address)


# -- buyers ------------------------------------------------------------------------


async def deposit(chain: Chain, key: str, token: str, amount: int) -> BuyerAccount:
    """Deposit ``amount`` of ``token`` ("ETH" or an ERC-20, approved first)."""
    splitter = chain.splitter
    if token.upper() == "ETH":
        await chain.send(key, splitter.address, splitter.deposit_data("ETH", amount), value=amount)
    else:
        await chain.send(key, token, ERC20(chain.w3, token).approve_data(splitter.address, amount))
        await chain.send(key, splitter.address, splitter.deposit_data(token, amount))
    return await splitter.account(address_of(key), token)


async def set_limits(
    chain: Chain, key: str, token: str, *, spending_cap: int | None = None,
    max_prices: Mapping[bytes, int] | None = None, cosigning: bool | None = None,
) -> BuyerAccount:
    """Set the spending cap, per-asset maximum prices and/or co-signing in ``token``.

    Turning co-signing on (a limit on the meter) takes effect after the notice period.
    """
    splitter = chain.splitter
    if cosigning is not None:
        await chain.send(key, splitter.address, splitter.set_cosigning_data(token, cosigning))
    if max_prices:
        keys = list(max_prices)
        await chain.send(key, splitter.address,
                         splitter.set_max_prices_data(token, keys, [max_prices[k] for k in keys]))
    if spending_cap is not None:
        await chain.send(key, splitter.address, splitter.set_spending_cap_data(token, spending_cap))
    return await splitter.account(address_of(key), token)


async def withdraw(chain: Chain, key: str, token: str, amount: int | None, to: str | None
                   ) -> tuple[str, BuyerAccount]:
    """With ``amount``: ask to withdraw it (the notice period starts). Without: pay out
    a request whose notice period has passed. Returns what happened and the account."""
    splitter = chain.splitter
    buyer = address_of(key)
    if amount is not None:
        await chain.send(key, splitter.address, splitter.request_withdrawal_data(token, amount))
        account = await splitter.account(buyer, token)
        if account.withdrawable_at == 0:
            return "no deposit to withdraw: no request is pending", account
        lapses = account.withdrawable_at + await splitter.notice_period()
        # The contract fixes the amount at the deposit now; later deposits stay.
        return (f"withdrawal of {account.pending_withdrawal} requested; payable from "
                f"{account.withdrawable_at} until {lapses}"), account
    account = await splitter.account(buyer, token)
    if account.withdrawable_at == 0:
        raise ValidationError("no withdrawal is pending (none was requested, or it lapsed): "
                              "pass --amount first", field="amount")
    now = int(time.time())
    if now < account.withdrawable_at:
        raise ValidationError(
            f"the notice period runs until {account.withdrawable_at} "
            f"({account.withdrawable_at - now} s from now)", field="amount")
    await chain.send(key, splitter.address, splitter.withdraw_deposit_data(token, to or buyer))
    return "withdrawn", await splitter.account(buyer, token)


# -- creators and payees -------------------------------------------------------------------


async def register_splits(chain: Chain, key: str, manifest: Manifest,
                          amended: tuple[bytes, Mapping[str, Mapping[str, Any]]] | None = None
                          ) -> list[dict[str, Any]]:
    """Create, from the owner's own account, the split of each per-use asset of
    ``manifest`` (skipping those whose latest version already carries it).

    With ``amended`` (an amend statement's digest, and per asset id the amended members
    in force from its effective time: `History.terms_at`), the splits of the amended
    terms instead, each version naming the statement as the source of its terms.
    """
    splitter = chain.splitter
    if amended is None:
        source = manifest.digest()
        metered = metered_terms(manifest, source)
    else:
        source = amended[0]
        metered = amended_metered_terms(manifest, source, amended[1])
    owner = address_of(key)
    done = []
    for terms in metered:
        if terms.owner != owner:
            raise ValidationError(
                f"the split owner of {terms.asset_id} is {terms.owner}, not {owner}", field="key")
        latest = await splitter.latest_version(terms.asset_key)
        if latest and (await splitter.split_version(terms.asset_key, latest)).manifest_digest \
                == source:
            done.append({"assetId": terms.asset_id, "assetKey": "0x" + terms.asset_key.hex(),
                         "version": latest, "txHash": None})
            continue
        tx = await chain.send(key, splitter.address,
                              splitter.set_split_data(terms.split, latest + 1))
        done.append({"assetId": terms.asset_id, "assetKey": "0x" + terms.asset_key.hex(),
                     "version": latest + 1, "txHash": tx})
    return done


async def release_all(chain: Chain, key: str, token: str | None = None) -> dict[str, int]:
    """Pay the key's account everything due to it from every split version it is a payee
    of (one ``releaseBatch`` per token); returns the amounts per token."""
    splitter = chain.splitter
    payee = address_of(key)
    refs: dict[str, list[tuple[bytes, int]]] = defaultdict(list)
    for asset_key, version, event in await splitter.split_versions(chain.deploy_block, payee):
        if token is not None and event.terms.token != token_arg(token):
            continue
        if await splitter.releasable(asset_key, version, payee):
            refs[event.terms.token].append((asset_key, version))
    paid = {}
    for split_token, versions in refs.items():
        before = sum([await splitter.releasable(k, v, payee) for k, v in versions])
        await chain.send(key, splitter.address,
                         splitter.release_batch_data(payee, split_token, versions))
        paid["ETH" if split_token == ETH_TOKEN else split_token] = before
    return paid
