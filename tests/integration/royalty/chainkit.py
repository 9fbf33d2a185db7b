"""Small helpers for royalty tests on anvil: one sender per account, a test ERC-20."""

from __future__ import annotations

import itertools
import json
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_typing import HexAddress, HexStr
from eth_utils.abi import function_signature_to_4byte_selector
from web3.types import Nonce
from web3.utils.address import get_create_address

from ledger.chain.anvil import repo_root
from ledger.chain.contracts.artifacts import Artifact
from ledger.chain.rpc import RevertDecoder, Web3Client
from ledger.chain.tx.journal import MemoryJournal
from ledger.chain.tx.sender import Sender
from ledger.chain.tx.state import SendPolicy, SentTx

POLICY = SendPolicy(confirmations=1, reorg_window=8, poll_interval=0.02, max_backoff=0.2)
_counter = itertools.count()


class Wallets:
    """One `Sender` per private key (two would hand out the same nonces)."""

    def __init__(self, w3: Web3Client, abis: list[Any] | None = None) -> None:
        self.w3 = w3
        self._senders: dict[str, Sender] = {}
        self._decoder = RevertDecoder(abis or [])

    def sender(self, key: str) -> Sender:
        """The sender of ``key``."""
        if key not in self._senders:
            self._senders[key] = Sender(self.w3, Account.from_key(key), MemoryJournal(),
                                        policy=POLICY, decoder=self._decoder)
        return self._senders[key]

    async def send(self, key: str, to: str | None, data: bytes, *, value: int = 0,
                   gas_limit: int | None = None) -> SentTx:
        """Send and wait for confirmation; raises if it reverted."""
        return await self.sender(key).transact(f"t{next(_counter)}", to, data, value=value,
                                               gas_limit=gas_limit, timeout=30)


def mock_erc20() -> Artifact:
    """The plain mintable ERC-20 of contracts/test/splitter/SplitterMocks.sol."""
    path = repo_root() / "contracts" / "out" / "SplitterMocks.sol" / "MockERC20.json"
    return Artifact.from_forge_json("MockERC20", json.loads(path.read_text()))


async def deploy_erc20(wallets: Wallets, key: str, name: str = "Test") -> str:
    """Deploy a MockERC20; returns its address."""
    art = mock_erc20()
    tx = await wallets.send(key, None, art.bytecode + abi_encode(["string"], [name]))
    return str(get_create_address(HexAddress(HexStr(tx.sender)), Nonce(tx.nonce)))


def mint_data(to: str, amount: int) -> bytes:
    """``mint(to, amount)`` of the MockERC20."""
    return function_signature_to_4byte_selector("mint(address,uint256)") + abi_encode(
        ["address", "uint256"], [to, amount])
