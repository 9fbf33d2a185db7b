"""The RoyaltySplitter client against the fake node: call data the contract's ABI
decodes, views decoded back, reverts carried as the custom error's name and arguments."""

from __future__ import annotations

import pytest
from eth_account import Account

from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.splitter import RoyaltySplitter, SplitterRevert, UsageItem
from ledger.chain.rpc import ChainUnavailableError
from ledger.chain.tx.journal import MemoryJournal
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SendPolicy
from ledger.core.royalty.terms import ETH_TOKEN, AssetTerms, asset_terms
from ledger.errors import ChainError
from tests.fakes.node import SPLITTER, FakeNode, FakeWeb3
from tests.fakes.world import BUYER, METER_KEY, priced_manifest

ROOT = b"\x07" * 32


def _client(node: FakeNode, address: str = SPLITTER) -> RoyaltySplitter:
    return RoyaltySplitter(FakeWeb3(node), address,  # type: ignore[arg-type]
                           load_artifact("RoyaltySplitter"))


def _terms() -> list[AssetTerms]:
    manifest = priced_manifest([1_000, 2**96 - 1])
    return [asset_terms(manifest, manifest.digest(), a.id) for a in manifest.assets]


@pytest.fixture
def node() -> FakeNode:
    node = FakeNode()
    for t in _terms():
        node.splitter.set_split(t.owner, t.split)
    acct = node.splitter.account(BUYER, ETH_TOKEN)
    acct.deposit, acct.cap = 5_000, 4_000
    return node


async def test_split_versions_read_back_as_set(node: FakeNode) -> None:
    client = _client(node)
    for t in _terms():
        assert await client.latest_version(t.asset_key) == 1
        version = await client.split_version(t.asset_key, 1)
        assert version.carries(t.split)
        assert (version.total_received, version.superseded) == (0, False)
    assert await client.latest_version(b"\x01" * 32) == 0


async def test_quote_prices_to_the_wei_and_reverts_by_name(node: FakeNode) -> None:
    client = _client(node)
    cheap, dear = _terms()
    node.splitter.set_max_price(BUYER, ETH_TOKEN, cheap.asset_key, 1_000)
    assert await client.quote(BUYER, "ETH", ROOT, [UsageItem(cheap.asset_key, 1, 4)]) == 4_000
    with pytest.raises(SplitterRevert) as cap:
        await client.quote(BUYER, "ETH", ROOT, [UsageItem(cheap.asset_key, 1, 5)])
    assert cap.value.error == "RoyaltySplitterSpendingCapExceeded"
    assert cap.value.args_by_name == {"spentAfter": 5_000, "spendingCap": 4_000}
    with pytest.raises(SplitterRevert) as price:
        await client.quote(BUYER, "ETH", ROOT, [UsageItem(cheap.asset_key, 1, 1),
                                                UsageItem(dear.asset_key, 1, 1)])
    assert price.value.error == "RoyaltySplitterPriceAboveCap"
    assert price.value.args_by_name == {"index": 1, "price": 2**96 - 1, "maxPrice": 0}
    assert "RoyaltySplitterPriceAboveCap" in price.value.reason


async def test_a_settlement_sent_is_settled_once_and_its_skips_are_read(node: FakeNode) -> None:
    client = _client(node)
    cheap, dear = _terms()
    node.splitter.set_max_price(BUYER, ETH_TOKEN, cheap.asset_key, 1_000)
    node.splitter.set_max_price(BUYER, ETH_TOKEN, dear.asset_key, 2**96 - 1)
    node.splitter.account(BUYER, ETH_TOKEN).cap = 10**40
    node.splitter.account(BUYER, ETH_TOKEN).deposit = 10**40
    items = [UsageItem(cheap.asset_key, 1, 3), UsageItem(dear.asset_key, 1, 2)]
    sender = Sender(FakeWeb3(node), Account.from_key(METER_KEY),  # type: ignore[arg-type]
                    MemoryJournal(), policy=SendPolicy())
    await sender.submit("settle:t:1", client.address, client.settle_data(BUYER, "ETH", ROOT,
                                                                         items))
    node.splitter.set_split(cheap.owner, cheap.split)  # version 2 supersedes what was priced
    node.mine()
    await sender.poll()
    tx = await sender.get("settle:t:1")
    assert tx is not None and tx.inclusion is not None and tx.inclusion.succeeded
    assert await client.is_settled(ROOT, BUYER, "ETH")
    assert await client.skipped_items(bytes.fromhex(tx.inclusion.tx_hash[2:])) == [
        (0, cheap.asset_key, 1)]
    account = await client.account(BUYER, "ETH")
    assert account.spent == 2 * (2**96 - 1)
    assert (await client.split_version(dear.asset_key, 1)).total_received == 2 * (2**96 - 1)
    with pytest.raises(SplitterRevert) as again:
        await client.quote(BUYER, "ETH", ROOT, items[1:])
    assert again.value.error == "RoyaltySplitterAlreadySettled"


async def test_no_contract_and_no_node_are_errors_of_their_own(node: FakeNode) -> None:
    with pytest.raises(ChainError, match="no contract answered"):
        await _client(node, "0x" + "44" * 20).latest_version(b"\x01" * 32)
    node.down = True
    with pytest.raises(ChainUnavailableError):
        await _client(node).cosigning(BUYER, "ETH")
