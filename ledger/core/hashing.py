"""The two hash functions ledger uses, defined once.

SHA-256 hashes manifests and asset content; Keccak-256 is Ethereum's hash
(Merkle tree, EIP-712, addresses). Keccak comes from safe-pysha3, which is
several times faster than pycryptodome's and matters in the hot loops.
"""

from __future__ import annotations

import hashlib

import sha3


def sha256(data: bytes) -> bytes:
    """The 32-byte SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def keccak256(data: bytes) -> bytes:
    """The 32-byte Keccak-256 digest of ``data`` (Ethereum's hash, not SHA3-256)."""
    digest: bytes = sha3.keccak_256(data).digest()
    return digest


def to_hex(data: bytes) -> str:
    """``data`` as ``0x`` followed by lowercase hex, the form ledger writes hashes in."""
    return "0x" + data.hex()


def checksum_address(address: str) -> str:
    """The EIP-55 mixed-case form of ``0x`` + 40 hex digits (any case in)."""
    lower = address[2:].lower()
    nibbles = sha3.keccak_256(lower.encode("ascii")).hexdigest()
    return "0x" + "".join(
        char.upper() if nibble in "89abcdef" else char
        for char, nibble in zip(lower, nibbles, strict=False)
    )
