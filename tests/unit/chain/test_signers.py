"""Loading a KMS-style transaction signer from the `anchorer_signer` setting."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain.tx.signers import TxSigner, load_signer
from ledger.errors import ConfigError

KEY = "0x" + "11" * 32


def local_signer() -> LocalAccount:
    account: LocalAccount = Account.from_key(KEY)
    return account


def not_a_signer() -> object:
    return object()


def test_a_local_account_is_a_signer() -> None:
    signer = load_signer(f"{__name__}:local_signer")
    assert isinstance(signer, TxSigner)
    assert signer.address == Account.from_key(KEY).address


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "must look like package.module:factory"),
        (":factory", "must look like"),
        ("ledger.nowhere:factory", "cannot load"),
        (f"{__name__}:missing", "cannot load"),
        (f"{__name__}:not_a_signer", "has no address and sign_transaction"),
    ],
)
def test_an_unusable_spec_is_one_clear_config_error(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_signer(spec)
    assert caught.value.field == "anchorer_signer"
