"""Helpers for local development chains (issue 12): the depth miner that lets the embedded
default reach its confirmations, and funding accounts (`ledger dev fund`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ledger.chain.anvil import AnvilProcess, DepthMiner, fund, json_rpc
from ledger.cli.main import main
from ledger.errors import ChainError

pytestmark = pytest.mark.chain

BUYER = "0x" + "b0" * 20


def _head(url: str) -> int:
    return int(json_rpc(url, "eth_blockNumber", []), 16)


def _balance(url: str, address: str) -> int:
    return int(json_rpc(url, "eth_getBalance", [address, "latest"]), 16)


def _send(url: str) -> int:
    """A transfer from dev account 0 (anvil signs it); the block it was mined in."""
    sender = json_rpc(url, "eth_accounts", [])[0]
    tx = json_rpc(url, "eth_sendTransaction", [{"from": sender, "to": BUYER, "value": "0x1"}])
    deadline = time.monotonic() + 30
    while (receipt := json_rpc(url, "eth_getTransactionReceipt", [tx])) is None:
        assert time.monotonic() < deadline, "the transfer was not mined"
        time.sleep(0.02)
    return int(receipt["blockNumber"], 16)


def test_depth_miner_mines_only_the_blocks_the_last_transaction_needs(anvil: AnvilProcess) -> None:
    """Before: automine left the last anchor 1 deep for ever, so with confirmations = 2
    `ledger submit --wait` on the embedded default printed nothing for 600 s."""
    miner = DepthMiner(anvil.rpc_url, 3)
    assert not miner.step()  # an idle chain gets no blocks
    mined_in = _send(anvil.rpc_url)
    assert miner.step() and miner.step()
    assert not miner.step()
    assert _head(anvil.rpc_url) - mined_in + 1 == 3


def test_fund_adds_to_a_local_balance(anvil: AnvilProcess) -> None:
    assert fund(anvil.rpc_url, BUYER, 5) == 5
    assert fund(anvil.rpc_url, BUYER, 10**18) == 10**18 + 5
    assert _balance(anvil.rpc_url, BUYER) == 10**18 + 5


def _endpoint(data_dir: Path, rpc_url: str) -> Path:
    data_dir.mkdir()
    (data_dir / "endpoint.json").write_text(json.dumps({"url": "http://x", "rpcUrl": rpc_url}))
    return data_dir


def test_ledger_dev_fund_finds_the_local_service_chain(
    anvil: AnvilProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = _endpoint(tmp_path / "data", anvil.rpc_url)
    assert main(["dev", "fund", BUYER, "--amount", "1.5ETH", "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().out == f"{BUYER} now holds 1.5 ETH ({15 * 10**17} wei)\n"
    assert _balance(anvil.rpc_url, BUYER) == 15 * 10**17


def test_ledger_dev_fund_takes_a_key_file(
    anvil: AnvilProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "buyer.json"
    assert main(["keygen", "--type", "eth", "-o", str(key)]) == 0
    address = capsys.readouterr().out.strip().removeprefix("eth:")
    assert main(["dev", "fund", str(key), "--amount", "7", "--rpc-url", anvil.rpc_url]) == 0
    assert _balance(anvil.rpc_url, address) == 7


async def test_ledger_dev_fund_refuses_a_chain_that_is_not_local(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with AnvilProcess(chain_id=4242) as node:
        code = main(["dev", "fund", BUYER, "--rpc-url", node.rpc_url])
        with pytest.raises(ChainError, match="refusing"):
            fund(node.rpc_url, BUYER, 1)
        assert _balance(node.rpc_url, BUYER) == 0
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("ledger: error: ") and "chain 4242, not a local" in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(["--amount", "1.5"], "amount"), (["--amount", "0.0000000000000000001ETH"], "18 decimals"),
     (["--data-dir", "nowhere"], "no chain")],
)
def test_ledger_dev_fund_bad_input_is_one_line(
    argv: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["dev", "fund", BUYER, *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("ledger: error: ") and err.count("\n") == 1, err
    assert fragment in err

