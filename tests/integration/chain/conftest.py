"""Fixtures for tests on a real anvil: a node, a client, funded keys, a deployed registry.

Other test folders reuse them by importing into their own conftest::

    from tests.integration.chain.conftest import anvil, w3, deployment, registry  # noqa: F401

Every fixture is function-scoped: anvil starts in well under a second, and a fresh
chain per test keeps nonces, blocks and snapshots independent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain.anvil import DEV_KEYS, AnvilProcess
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.chain.deploy import Deployment, deploy_contracts
from ledger.chain.rpc import Web3Client, connect
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SendPolicy, TxEvent, TxEventKind

#: Polls fast and never waits long: tests drive time with `FakeClock` instead.
FAST_POLICY = SendPolicy(confirmations=1, reorg_window=8, poll_interval=0.02, max_backoff=0.2)


class FakeClock:
    """A wall clock the test moves by hand (``clock.advance(40)``)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def rpc(w3: Web3Client, method: str, *params: Any) -> Any:
    """A raw JSON-RPC call (anvil_*, evm_*), failing the test on an error answer."""
    response = await w3.provider.make_request(method, list(params))
    assert "error" not in response, response
    return response.get("result")


async def poll_until(
    sender: Sender, kind: TxEventKind, key: str, *, timeout: float = 5.0
) -> list[TxEvent]:
    """Poll until ``sender`` reports ``kind`` for ``key``; every event seen meanwhile.

    Automining anvil answers a broadcast before it has mined the block, so a poll
    right after a submit may not see the receipt yet.
    """
    events: list[TxEvent] = []
    deadline = time.monotonic() + timeout
    while not any(e.kind is kind and e.key == key for e in events):
        assert time.monotonic() < deadline, f"no {kind.value} event for {key}: {events}"
        events += await sender.poll()
        await asyncio.sleep(0.01)
    return events


@pytest.fixture
async def anvil() -> AsyncIterator[AnvilProcess]:
    """A fresh automining anvil on a free port."""
    async with AnvilProcess() as node:
        yield node


@pytest.fixture
async def w3(anvil: AnvilProcess) -> AsyncIterator[Web3Client]:
    """An AsyncWeb3 connected to `anvil`, closed afterwards."""
    client = connect(anvil.rpc_url, timeout=5.0, attempts=1)
    yield client
    await client.provider.disconnect()


@pytest.fixture
def deployer() -> LocalAccount:
    """Dev account 0 (a public anvil test key): deploys and administers."""
    account: LocalAccount = Account.from_key(DEV_KEYS[0])
    return account


@pytest.fixture
def anchorer() -> LocalAccount:
    """Dev account 1 (a public anvil test key): holds ANCHORER_ROLE."""
    account: LocalAccount = Account.from_key(DEV_KEYS[1])
    return account


@pytest.fixture
def meter() -> LocalAccount:
    """Dev account 4 (a public anvil test key): holds the splitter's METER_ROLE."""
    account: LocalAccount = Account.from_key(DEV_KEYS[4])
    return account


@pytest.fixture
async def deployment(
    w3: Web3Client, deployer: LocalAccount, anchorer: LocalAccount, meter: LocalAccount
) -> Deployment:
    """AnchorRegistry (and RoyaltySplitter, once built) deployed by `deployer`;
    `anchorer` holds ANCHORER_ROLE, `meter` the splitter's METER_ROLE."""
    return await deploy_contracts(
        w3, deployer.key.hex(), anchorers=[anchorer.address], meters=[meter.address],
        policy=FAST_POLICY,
    )


@pytest.fixture
def registry(w3: Web3Client, deployment: Deployment) -> AnchorRegistry:
    """A client of the deployed registry."""
    return deployment.registry_client(w3)
