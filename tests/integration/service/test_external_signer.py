"""`anchorer_signer`: the service anchors through a KMS-style signer it never sees the key of."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.cli.client import LedgerClient
from ledger.run.serve import running
from tests.integration.faults.conftest import ANCHORER_KEY, new_creator, running_chain
from tests.integration.service.conftest import FAST, manifest, wait_for_proof

SIGNED: list[int] = []


class RemoteSigner:
    """Stands in for a KMS client: holds the key elsewhere, counts what it signs."""

    def __init__(self) -> None:
        self._account: LocalAccount = Account.from_key(ANCHORER_KEY)

    @property
    def address(self) -> ChecksumAddress:
        return self._account.address

    def sign_transaction(self, transaction_dict: Any) -> SignedTransaction:
        SIGNED.append(transaction_dict["nonce"])
        return self._account.sign_transaction(transaction_dict)


async def test_the_service_anchors_through_an_external_signer(tmp_path: Path) -> None:
    async with running_chain(tmp_path) as chain:
        settings = replace(
            FAST, data_dir=tmp_path / "data", rpc_url=chain.anvil.rpc_url,
            deployment_file=chain.deployment_file,
            anchorer_signer=f"{__name__}:RemoteSigner",
        )
        async with running(settings) as (_, url), LedgerClient(url) as client:
            key = await new_creator(client, "creator:kms")  # its record anchored: batch 1
            status, body = await client.submit(manifest("creator:kms", key, 1))
            assert status == 202
            bundle = await wait_for_proof(client, body["manifestDigest"])
    assert bundle["anchor"]["batchNumber"] == 2
    assert SIGNED == [0, 1]
