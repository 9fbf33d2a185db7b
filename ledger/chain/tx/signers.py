"""Who signs the service's transactions: a local key, or a KMS/HSM behind one interface.

The sender needs only an address and a way to sign an EIP-1559 transaction; the
private key never has to be in the service's memory. `eth_account`'s LocalAccount
is one `TxSigner`; a KMS client is another, loaded by `load_signer` from the
``anchorer_signer`` setting (``"package.module:factory"``, the factory called with
no arguments; it reads its own configuration, e.g. a key id from the environment).
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

from eth_account.datastructures import SignedTransaction
from eth_typing import ChecksumAddress

from ledger.errors import ConfigError


@runtime_checkable
class TxSigner(Protocol):
    """Signs transactions for one account."""

    @property
    def address(self) -> ChecksumAddress:
        """The checksummed address the signatures recover to."""
        ...

    def sign_transaction(self, transaction_dict: Any) -> SignedTransaction:
        """Sign a typed-2 transaction dict (chainId, nonce, gas, fees, to, value, data)."""
        ...


def load_signer(spec: str) -> TxSigner:
    """The signer made by factory ``"package.module:factory"``; ConfigError if unusable."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError("must look like package.module:factory", field="anchorer_signer")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load {spec}: {exc}", field="anchorer_signer") from exc
    signer = factory()
    if not isinstance(signer, TxSigner):
        raise ConfigError(
            f"{spec} returned {type(signer).__name__}, which has no address and "
            "sign_transaction", field="anchorer_signer",
        )
    return signer
