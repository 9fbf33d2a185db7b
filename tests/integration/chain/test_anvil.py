"""AnvilProcess: start, stop, restart on the same port, state across SIGTERM and SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.chain.anvil import AnvilProcess, find_anvil
from ledger.chain.rpc import connect
from ledger.errors import ChainError
from tests.integration.chain.conftest import rpc

pytestmark = pytest.mark.chain


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sync_start_answers_and_stop_leaves_no_process() -> None:
    with AnvilProcess(chain_id=4242) as node:
        pid = node.pid
        assert pid is not None and _alive(pid)
        assert node.rpc_url.startswith("http://127.0.0.1:")
    assert not node.running
    assert not _alive(pid)


async def test_two_nodes_get_distinct_free_ports() -> None:
    async with AnvilProcess() as one, AnvilProcess() as two:
        assert one.port != two.port


async def test_state_survives_sigterm_but_sigkill_loses_what_was_not_dumped(
    tmp_path: Path,
) -> None:
    node = AnvilProcess(state=tmp_path / "chain.json")
    await node.start()
    w3 = connect(node.rpc_url, timeout=2.0, attempts=1)
    try:
        await rpc(w3, "evm_mine")
        await rpc(w3, "evm_mine")
        assert await node.stop() == 0  # SIGTERM: anvil dumps its state, then exits
        await node.start()  # same port, so the client keeps working
        assert await w3.eth.block_number == 2
        await rpc(w3, "evm_mine")
        node.kill()  # SIGKILL: nothing dumped, block 3 is lost
        await node.start()
        assert await w3.eth.block_number == 2
    finally:
        await w3.provider.disconnect()
        await node.stop()


async def test_bad_argument_fails_start_with_anvil_message() -> None:
    node = AnvilProcess(extra_args=["--no-such-flag"])
    with pytest.raises(ChainError, match="anvil exited"):
        await node.start()
    assert not node.running


def test_missing_binary_is_a_chain_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_ANVIL", str(tmp_path / "nope"))
    with pytest.raises(ChainError, match="LEDGER_ANVIL"):
        find_anvil()


def test_block_time_and_no_mining_exclude_each_other() -> None:
    with pytest.raises(ChainError, match="exclude"):
        AnvilProcess(block_time=1, no_mining=True)


_ORPHAN_SCRIPT = """
import sys, time
from ledger.chain.anvil import AnvilProcess
node = AnvilProcess(state=sys.argv[1])
node.start_sync()
print(node.pid, node.rpc_url, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_sigkill_of_the_owner_stops_anvil_which_dumps_its_state(tmp_path: Path) -> None:
    state = tmp_path / "chain.json"
    owner = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(state)], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert owner.stdout is not None
        pid_text, _url = owner.stdout.readline().split()
        anvil_pid = int(pid_text)
        assert _alive(anvil_pid)
        owner.kill()  # the service dies without running any cleanup
        owner.wait()
        deadline = time.monotonic() + 10
        while _alive(anvil_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(anvil_pid)
        assert state.exists()  # the kernel sent SIGTERM, so anvil dumped its chain
    finally:
        owner.kill()
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()


async def test_a_node_already_answering_on_the_port_is_not_taken_for_ours() -> None:
    async with AnvilProcess() as other:
        squatter = AnvilProcess(port=other.port)
        with pytest.raises(ChainError, match="in use"):
            await squatter.start()
        assert not squatter.running
        assert await _block_number(other.rpc_url) == 0


async def _block_number(url: str) -> int:
    w3 = connect(url, timeout=2.0, attempts=1)
    try:
        return await w3.eth.block_number
    finally:
        await w3.provider.disconnect()
