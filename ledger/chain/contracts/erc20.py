"""The few ERC-20 calls buyers and tests need, bound from OpenZeppelin's ``IERC20`` ABI."""

from __future__ import annotations

from functools import cache

from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import TxParams

from ledger.chain.contracts.artifacts import load_abi
from ledger.chain.contracts.binding import ContractBinding
from ledger.chain.rpc import TRANSIENT_ERRORS, ChainUnavailableError, Web3Client
from ledger.errors import ChainError


@cache
def ierc20() -> ContractBinding:
    """The ``IERC20`` binding from forge's build (read once: it is the standard's ABI)."""
    return ContractBinding("IERC20", load_abi("IERC20"))


class ERC20:
    """The token at ``address``, by default bound from the built ``IERC20`` ABI."""

    def __init__(self, w3: Web3Client, address: str, binding: ContractBinding | None = None
                 ) -> None:
        self.w3 = w3
        self.address = str(AsyncWeb3.to_checksum_address(address))
        self.binding = binding or ierc20()

    def approve_data(self, spender: str, amount: int) -> bytes:
        """``approve(spender, amount)``."""
        return self.binding.encode_call("approve", AsyncWeb3.to_checksum_address(spender),
                                        amount)

    def transfer_data(self, to: str, amount: int) -> bytes:
        """``transfer(to, amount)``."""
        return self.binding.encode_call("transfer", AsyncWeb3.to_checksum_address(to), amount)

    async def balance_of(self, account: str) -> int:
        """``balanceOf(account)``."""
        params: TxParams = {"to": self.address, "data": self.binding.encode_call(
            "balanceOf", AsyncWeb3.to_checksum_address(account))}
        try:
            raw = await self.w3.eth.call(params)
        except TRANSIENT_ERRORS as exc:
            raise ChainUnavailableError(f"the chain node is unreachable: {exc}") from exc
        except (ContractLogicError, Web3RPCError) as exc:
            raise ChainError(f"balanceOf failed on {self.address}: {exc}") from exc
        (value,) = self.binding.decode_return("balanceOf", bytes(raw))
        return int(value)
