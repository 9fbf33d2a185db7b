"""The RoyaltySplitter's EIP-712 typed data: what split owners and co-signing buyers sign.

These type lists are a signing format, not an ABI: the contract hashes the same
structs (``splitTermsDigest``, ``settlementDigest``), and the integration tests check
that both sides agree. They are defined here once.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import AsyncWeb3

from ledger.errors import ChainError

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
    return str(AsyncWeb3.to_checksum_address(signer))


def splitter_domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The EIP-712 domain of the splitter at ``verifying_contract`` on ``chain_id``."""
    return {"name": "RoyaltySplitter", "version": "1", "chainId": chain_id,
            "verifyingContract": verifying_contract}
