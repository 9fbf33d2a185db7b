"""What every client of one of our deployed contracts shares: its binding from the
forge ABI, and read-only calls whose failures come back as our chain errors."""

from __future__ import annotations

from typing import Any

from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import BlockIdentifier, TxParams

from ledger.chain.contracts.artifacts import Artifact
from ledger.chain.contracts.binding import ContractBinding
from ledger.chain.rpc import (
    TRANSIENT_ERRORS,
    ChainRevertError,
    ChainUnavailableError,
    RevertDecoder,
    Web3Client,
    rpc_message,
)
from ledger.errors import ChainError


class ContractClient:
    """The contract at ``address``, described by its forge ``artifact``."""

    def __init__(self, w3: Web3Client, address: str, artifact: Artifact) -> None:
        self.w3 = w3
        self.address = AsyncWeb3.to_checksum_address(address)
        self.artifact = artifact
        self.binding = ContractBinding(artifact.name, artifact.abi)
        self.decoder = RevertDecoder([artifact.abi])

    async def _call(self, function: str, *args: Any, block: BlockIdentifier = "latest"
                    ) -> tuple[Any, ...]:
        """``function(*args)`` read at ``block``, its return values decoded.

        ChainUnavailableError when the node cannot be reached, `_reverted`'s error on a
        revert, ChainError when the node refuses the call or no contract answers.
        """
        signature = self.binding.signature(function)
        params: TxParams = {"to": self.address,
                            "data": self.binding.encode_call(function, *args)}
        try:
            raw = await self.w3.eth.call(params, block_identifier=block)
        except TRANSIENT_ERRORS as exc:
            raise ChainUnavailableError(f"the chain node is unreachable: {exc}") from exc
        except ContractLogicError as exc:
            raise self._reverted(function, exc) from exc
        except Web3RPCError as exc:
            raise ChainError(f"{signature} failed: {rpc_message(exc)}") from exc
        if not raw:
            raise ChainError(f"no contract answered {signature} at {self.address}")
        return self.binding.decode_return(function, bytes(raw))

    def _reverted(self, function: str, exc: ContractLogicError) -> ChainError:
        """The error a revert of ``function`` is raised as."""
        reason = self.decoder.from_exception(exc)
        return ChainRevertError(f"{self.binding.signature(function)} reverted: {reason}",
                                reason=reason)
