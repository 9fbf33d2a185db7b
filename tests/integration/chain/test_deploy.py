"""deploy_contracts and the deployment record, on a real anvil."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.abi import function_signature_to_4byte_selector

from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.registry import ANCHORER_ROLE, DEFAULT_ADMIN_ROLE, AnchorRegistry
from ledger.chain.deploy import METER_ROLE, Deployment, deploy_contracts
from ledger.chain.rpc import Web3Client
from ledger.errors import ChainError, ConfigError
from tests.integration.chain.conftest import FAST_POLICY, rpc

pytestmark = pytest.mark.chain


async def test_deploy_grants_roles_and_records_the_deployment(
    w3: Web3Client, deployment: Deployment, deployer: LocalAccount, anchorer: LocalAccount
) -> None:
    registry = AnchorRegistry(w3, deployment.registry.address, load_artifact("AnchorRegistry"))
    assert deployment.chain_id == 31337
    assert deployment.registry.abi_hash == load_artifact("AnchorRegistry").abi_hash
    assert deployment.admin == deployment.deployer == deployer.address
    assert deployment.pending_admin is None
    assert deployment.anchorers == (anchorer.address,)
    assert await registry.has_role(ANCHORER_ROLE, anchorer.address)
    assert await registry.has_role(DEFAULT_ADMIN_ROLE, deployer.address)
    assert not await registry.has_role(ANCHORER_ROLE, deployer.address)
    assert await registry.next_batch_number() == 1
    block = await w3.eth.get_block(deployment.deploy_block)
    assert "0x" + bytes(block["hash"]).hex() == deployment.block_hash
    await deployment.check(w3)
    deployment.check_abi()
    changed = replace(deployment, registry=replace(deployment.registry, abi_hash="0x" + "0" * 64))
    with pytest.raises(ChainError, match="redeploy"):
        changed.check_abi()


async def test_record_round_trips_through_json_and_a_file(
    deployment: Deployment, tmp_path: Path
) -> None:
    doc = deployment.to_json()
    assert Deployment.from_json(json.loads(json.dumps(doc))) == deployment
    assert Deployment.from_json(doc).to_json() == doc
    path = tmp_path / "deployment.json"
    deployment.write(path)
    assert Deployment.read(path) == deployment
    assert json.loads(path.read_text()) == doc


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        ("unknown-member", "extra"),
        ("wrong-version", "version"),
        ("chain-id-string", "chainId"),
        ("registry-address-short", "registry.address"),
        ("block-hash-not-hex", "blockHash"),
        ("anchorer-not-address", "anchorers[0]"),
    ],
)
def test_malformed_record_names_the_field(
    deployment: Deployment, mutation: str, field: str
) -> None:
    doc: dict[str, Any] = deployment.to_json()
    if mutation == "unknown-member":
        doc["extra"] = 1
    elif mutation == "wrong-version":
        doc["version"] = "ledger-deployment/0"
    elif mutation == "chain-id-string":
        doc["chainId"] = "31337"
    elif mutation == "registry-address-short":
        doc["registry"]["address"] = doc["registry"]["address"][:-2]
    elif mutation == "block-hash-not-hex":
        doc["blockHash"] = "0x" + "zz" * 32
    elif mutation == "anchorer-not-address":
        doc["anchorers"] = ["me"]
    with pytest.raises(ConfigError) as info:
        Deployment.from_json(doc)
    assert info.value.field == field


def test_missing_record_file_says_deploy_first(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="deploy first"):
        Deployment.read(tmp_path / "none.json")


async def test_check_detects_a_reset_chain_and_a_wrong_chain(
    w3: Web3Client, deployment: Deployment
) -> None:
    with pytest.raises(ChainError, match="chain 31337, the deployment chain 1"):
        await replace(deployment, chain_id=1).check(w3)
    await rpc(w3, "anvil_reset")  # the node forgets everything, e.g. restarted without --state
    with pytest.raises(ChainError, match="deploy again"):
        await deployment.check(w3)


async def test_splitter_is_deployed_with_meters_and_recorded(
    w3: Web3Client, deployer: LocalAccount, anchorer: LocalAccount, tmp_path: Path
) -> None:
    meter = Account.from_key(DEV_KEYS[4]).address
    deployment = await deploy_contracts(
        w3, deployer.key.hex(), anchorers=[anchorer.address], meters=[meter],
        with_splitter=True, policy=FAST_POLICY,
    )
    splitter = deployment.splitter
    assert splitter is not None and splitter.abi_hash == load_artifact("RoyaltySplitter").abi_hash
    assert deployment.meters == (meter,)
    assert await _has_role(w3, splitter.address, METER_ROLE, meter)
    assert await _has_role(w3, splitter.address, DEFAULT_ADMIN_ROLE, deployer.address)
    await deployment.check(w3)
    deployment.write(tmp_path / "d.json")
    assert Deployment.read(tmp_path / "d.json") == deployment


async def test_other_admin_gets_a_pending_two_step_transfer(
    w3: Web3Client, deployer: LocalAccount
) -> None:
    admin = Account.from_key(DEV_KEYS[3]).address
    deployment = await deploy_contracts(
        w3, deployer.key.hex(), anchorers=[], admin=admin, with_splitter=True,
        policy=FAST_POLICY,
    )
    assert deployment.pending_admin == admin and deployment.admin == deployer.address
    (pending, _schedule) = await _pending_admin(w3, deployment.registry.address)
    assert pending == admin
    assert deployment.splitter is not None
    splitter = deployment.splitter.address
    assert await _has_role(w3, splitter, DEFAULT_ADMIN_ROLE, admin)
    assert not await _has_role(w3, splitter, DEFAULT_ADMIN_ROLE, deployer.address)


async def _has_role(w3: Web3Client, address: str, role: bytes, account: str) -> bool:
    raw = await w3.eth.call({
        "to": w3.to_checksum_address(address),
        "data": function_signature_to_4byte_selector("hasRole(bytes32,address)")
        + encode(["bytes32", "address"], [role, account]),
    })
    return bool(decode(["bool"], bytes(raw))[0])


async def _pending_admin(w3: Web3Client, address: str) -> tuple[str, int]:
    raw = await w3.eth.call({
        "to": w3.to_checksum_address(address),
        "data": function_signature_to_4byte_selector("pendingDefaultAdmin()"),
    })
    account, schedule = decode(["address", "uint48"], bytes(raw))
    return w3.to_checksum_address(account), int(schedule)
