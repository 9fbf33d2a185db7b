"""``ledger buyer …`` and ``ledger creator split|withdraw`` against a deployed splitter."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ledger.app.payments import Chain, address_of
from ledger.chain.anvil import DEV_KEYS, AnvilProcess
from ledger.chain.contracts.splitter import UsageItem
from ledger.chain.deploy import Deployment
from ledger.chain.rpc import Web3Client
from ledger.cli.main import main
from ledger.core.manifest import Manifest
from ledger.core.royalty.terms import asset_terms
from ledger.core.signing import EthSigningKey, sign_manifest
from ledger.keyfile import write_key
from tests.integration.chain.conftest import FAST_POLICY

pytestmark = pytest.mark.chain

BUYER, OWNER, METER = DEV_KEYS[6], DEV_KEYS[5], DEV_KEYS[4]


async def ledger(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return status, out, err


async def test_buyer_and_creator_commands(
    tmp_path: Path, anvil: AnvilProcess, w3: Web3Client, deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment.write(tmp_path / "deployment.json")
    chain_args = ["--rpc-url", anvil.rpc_url,
                  "--deployment-file", str(tmp_path / "deployment.json")]
    buyer_key, owner_key = tmp_path / "buyer.json", tmp_path / "owner.json"
    write_key(buyer_key, EthSigningKey.from_hex(BUYER))
    write_key(owner_key, EthSigningKey.from_hex(OWNER))
    owner = address_of(OWNER)
    manifest_doc = sign_manifest({
        "manifestVersion": "1.0", "creator": {"id": "creator:owner", "wallet": owner},
        "assets": [{"id": "asset:song", "type": "audio/flac", "hash": "sha256:" + "11" * 32,
                    "licenses": ["x"],
                    "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                                   "unit": "epoch", "amount": "250"}}],
    }, EthSigningKey.from_hex(OWNER))
    manifest_path = tmp_path / "manifest.json"
    manifest_path.write_text(json.dumps(manifest_doc))
    manifest = Manifest.from_obj(manifest_doc)
    asset_key = asset_terms(manifest, manifest.digest(), "asset:song").asset_key

    status, out, err = await ledger(capsys, "creator", "split", "creator:owner", "--key",
                                    str(owner_key), "--manifest", str(manifest_path), *chain_args)
    assert status == 0, err
    assert json.loads(out)[0]["version"] == 1

    buyer = ["--key", str(buyer_key), *chain_args]
    status, out, err = await ledger(capsys, "buyer", "deposit", "--amount", "10000", *buyer)
    assert status == 0, err
    assert json.loads(out)["deposit"] == "10000"
    status, out, err = await ledger(capsys, "buyer", "caps", "--spending-cap", "5000",
                                    "--max-price", f"{manifest_path}#asset:song=any", *buyer)
    assert status == 0, err
    assert json.loads(out)["spendingCap"] == "5000"
    status, out, _ = await ledger(capsys, "buyer", "balance", "--address", address_of(BUYER),
                                  *chain_args)
    assert json.loads(out)["deposit"] == "10000"

    chain = Chain.open(w3, deployment, FAST_POLICY)
    splitter = chain.splitter
    await chain.send(METER, splitter.address, splitter.settle_data(
        address_of(BUYER), "ETH", b"\x01" * 32, [UsageItem(asset_key, 1, 8)]))
    status, out, err = await ledger(capsys, "creator", "withdraw", "creator:owner", "--key",
                                    str(owner_key), *chain_args)
    assert status == 0, err
    assert "released 2000 wei" in out
    assert await splitter.released(asset_key, 1, owner) == 2_000
    status, out, _ = await ledger(capsys, "creator", "withdraw", "creator:owner", "--key",
                                  str(owner_key), *chain_args)
    assert "nothing is due" in out

    status, out, err = await ledger(capsys, "buyer", "withdraw", "--amount", "all", *buyer)
    assert status == 0, err
    assert "requested" in out
    status, _, err = await ledger(capsys, "buyer", "withdraw", *buyer)
    assert status == 2 and "notice period runs until" in err
