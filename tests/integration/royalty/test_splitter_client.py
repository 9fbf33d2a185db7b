"""The splitter client against the deployed contract: keys, EIP-712, views, settlement."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.erc20 import ERC20
from ledger.chain.contracts.splitter import (
    ANY_PRICE,
    NO_CAP,
    RoyaltySplitter,
    SplitterRevert,
    UsageItem,
)
from ledger.chain.deploy import Deployment
from ledger.chain.rpc import ChainRevertError, Web3Client
from ledger.core.royalty.settlement import usage_root_of
from ledger.core.royalty.terms import ETH_TOKEN, SplitTerms, asset_id_of, asset_key_of
from ledger.core.signing import EthSigningKey
from tests.integration.royalty.chainkit import Wallets, deploy_erc20, mint_data

pytestmark = pytest.mark.chain

CREATOR, BUYER, MARKET = DEV_KEYS[5], DEV_KEYS[6], DEV_KEYS[7]
METER = DEV_KEYS[4]


def _addr(key: str) -> str:
    return str(Account.from_key(key).address)


def _terms(token: str = ETH_TOKEN, price: int = 1_000) -> SplitTerms:
    return SplitTerms(
        asset_id=asset_id_of("asset:sunset"),
        manifest_digest=bytes(range(1, 33)),
        token=token,
        price_per_unit=price,
        payees=(_addr(CREATOR), _addr(MARKET)),
        shares=(9_000, 1_000),
    )


@pytest.fixture
def splitter(w3: Web3Client, deployment: Deployment) -> RoyaltySplitter:
    assert deployment.splitter is not None
    return RoyaltySplitter(w3, deployment.splitter.address, load_artifact("RoyaltySplitter"))


async def test_asset_key_and_split_terms_digest_match_the_contract(
    w3: Web3Client, splitter: RoyaltySplitter
) -> None:
    owner = _addr(CREATOR)
    for name in ("asset:sunset", "asset:a", "asset:" + "x" * 100):
        aid = asset_id_of(name)
        assert await splitter.asset_key_of(owner, aid) == asset_key_of(owner, aid)
    terms = _terms()
    typed = splitter.split_terms_typed_data(await w3.eth.chain_id, owner, terms, 1, 2**40)
    key = EthSigningKey.from_hex(CREATOR)
    signable = encode_typed_data(full_message=typed)
    ours = keccak(b"\x19\x01" + signable.header + signable.body)
    assert await splitter.split_terms_digest(owner, terms, 1, 2**40) == ours
    assert key.sign_typed_data(typed).startswith("eip712:0x")


async def test_relayed_split_settle_release(w3: Web3Client, splitter: RoyaltySplitter) -> None:
    wallets = Wallets(w3, [splitter.artifact.abi])
    owner, buyer = _addr(CREATOR), _addr(BUYER)
    terms = _terms()
    typed = splitter.split_terms_typed_data(await w3.eth.chain_id, owner, terms, 1, 2**40)
    signature = bytes.fromhex(EthSigningKey.from_hex(CREATOR).sign_typed_data(typed)[9:])
    # The meter relays the creator's signed terms: the creator pays no gas.
    await wallets.send(METER, splitter.address,
                       splitter.set_split_with_sig_data(owner, terms, 1, 2**40, signature))
    key = asset_key_of(owner, terms.asset_id)
    assert await splitter.latest_version(key) == 1
    assert await splitter.split_owner(key) == owner
    info = await splitter.split_version(key, 1)
    assert (info.price_per_unit, info.payees, info.shares) == (1_000, terms.payees, terms.shares)
    assert info.carries(terms) and not info.carries(replace(terms, price_per_unit=999))
    ((event_key, version, event),) = await splitter.split_versions(0, payee=terms.payees[0])
    assert (event_key, version, event.owner, event.terms) == (key, 1, owner, terms)
    assert await splitter.split_versions(0, payee=_addr(BUYER)) == []

    root = bytes(range(32))
    items = [UsageItem(key, 1, 7)]
    with pytest.raises(SplitterRevert) as refused:
        await splitter.quote(buyer, "ETH", root, items)
    assert refused.value.error == "RoyaltySplitterPriceAboveCap"
    assert refused.value.args_by_name["index"] == 0
    await wallets.send(BUYER, splitter.address, splitter.deposit_data("ETH", 5_000), value=5_000)
    await wallets.send(BUYER, splitter.address,
                       splitter.set_max_prices_data("ETH", [key], [ANY_PRICE]))
    with pytest.raises(SplitterRevert) as refused:
        await splitter.quote(buyer, "ETH", root, items)
    assert refused.value.error == "RoyaltySplitterSpendingCapExceeded"
    await wallets.send(BUYER, splitter.address, splitter.set_spending_cap_data("ETH", NO_CAP))
    with pytest.raises(SplitterRevert) as refused:
        await splitter.quote(buyer, "ETH", root, items)
    assert refused.value.error == "RoyaltySplitterInsufficientDeposit"
    items = [UsageItem(key, 1, 3)]
    assert await splitter.quote(buyer, "ETH", root, items) == 3_000
    await wallets.send(METER, splitter.address, splitter.settle_data(buyer, "ETH", root, items))
    assert await splitter.is_settled(root, buyer, ETH_TOKEN)
    assert not await splitter.is_settled(usage_root_of(root, 1), buyer, ETH_TOKEN)
    account = await splitter.account(buyer, "ETH")
    assert (account.deposit, account.spent) == (2_000, 3_000)
    assert await splitter.releasable(key, 1, _addr(MARKET)) == 300
    await wallets.send(MARKET, splitter.address, splitter.release_data(key, 1, _addr(MARKET)))
    assert await splitter.released(key, 1, _addr(MARKET)) == 300
    assert await splitter.releasable(key, 1, owner) == 2_700


async def test_erc20_deposit(w3: Web3Client, splitter: RoyaltySplitter) -> None:
    wallets = Wallets(w3, [splitter.artifact.abi])
    token = await deploy_erc20(wallets, BUYER)
    erc20 = ERC20(w3, token)
    buyer = _addr(BUYER)
    await wallets.send(BUYER, token, mint_data(buyer, 10**21))
    await wallets.send(BUYER, token, erc20.approve_data(splitter.address, 10**20))
    await wallets.send(BUYER, splitter.address, splitter.deposit_data(token, 10**20))
    assert (await splitter.account(buyer, token)).deposit == 10**20
    assert await erc20.balance_of(buyer) == 10**21 - 10**20


async def test_cancelled_split_terms_cannot_be_relayed(w3: Web3Client,
                                                       splitter: RoyaltySplitter) -> None:
    wallets = Wallets(w3, [splitter.artifact.abi])
    owner = _addr(CREATOR)
    wrong = replace(_terms(), asset_id=asset_id_of("asset:typo"), price_per_unit=10**18)
    typed = splitter.split_terms_typed_data(await w3.eth.chain_id, owner, wrong, 1, 2**40)
    signature = bytes.fromhex(EthSigningKey.from_hex(CREATOR).sign_typed_data(typed)[9:])
    digest = await splitter.split_terms_digest(owner, wrong, 1, 2**40)
    assert not await splitter.split_terms_cancelled(owner, digest)
    await wallets.send(CREATOR, splitter.address, splitter.cancel_split_terms_data(digest))
    assert await splitter.split_terms_cancelled(owner, digest)
    with pytest.raises(ChainRevertError) as refused:
        await wallets.send(METER, splitter.address,
                           splitter.set_split_with_sig_data(owner, wrong, 1, 2**40, signature))
    assert "RoyaltySplitterSplitTermsCancelled" in refused.value.reason
    assert await splitter.latest_version(asset_key_of(owner, wrong.asset_id)) == 0


async def test_withdrawal_notices_follow_requests_and_payouts(
    w3: Web3Client, splitter: RoyaltySplitter
) -> None:
    wallets = Wallets(w3, [splitter.artifact.abi])
    buyer, start = _addr(MARKET), await w3.eth.block_number
    await wallets.send(MARKET, splitter.address, splitter.request_withdrawal_data("ETH", 5))
    await wallets.send(MARKET, splitter.address, splitter.deposit_data("ETH", 700), value=700)
    await wallets.send(MARKET, splitter.address, splitter.request_withdrawal_data("ETH", 10**30))
    head = await w3.eth.block_number
    notices = await splitter.withdrawal_notices(start, head)
    # Over an empty deposit a request cancels; then it is fixed at the deposit.
    assert [(n.buyer, n.token, n.amount) for n in notices] == \
        [(buyer, ETH_TOKEN, 0), (buyer, ETH_TOKEN, 700)]
    assert notices[1].withdrawable_at == (await splitter.account(buyer, "ETH")).withdrawable_at
