"""`ledger submit --wait` progress (ledger.cli.wait) against a scripted service, no chain."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.cli.dev import parse_amount
from ledger.cli.wait import ProofWaiter
from ledger.errors import LedgerError, ValidationError

DIGEST = "0x" + "ab" * 32


class ScriptedService:
    """Answers the proof of DIGEST with `answers` in turn, then the last one for ever."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self._answers = list(answers)

    async def service(self) -> dict[str, Any]:
        return {"registry": "0x" + "11" * 20, "confirmations": 2, "rpcUrl": None}

    async def proof(self, digest: str) -> tuple[int, Any]:
        return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]


BATCHED = (202, {"status": "batched", "batchNumber": 4})
SUBMITTED = (202, {"status": "submitted", "batchNumber": 4})
READY = (200, {"anchor": {"batchNumber": 4, "blockNumber": 9}})


async def test_progress_lines_from_batched_to_ready() -> None:
    said: list[str] = []
    waiter = ProofWaiter(ScriptedService(BATCHED, SUBMITTED, READY), said.append,
                         timeout=30, interval=0)
    assert await waiter.wait([DIGEST]) == {DIGEST: READY[1]}
    assert said == ["batch 4: batched", "batch 4: submitted to the chain",
                    "batch 4: anchored in block 9, confirmed 2/2: proofs ready"]


async def test_no_progress_is_said_once_and_the_wait_is_bounded() -> None:
    said: list[str] = []
    waiter = ProofWaiter(ScriptedService(SUBMITTED), said.append,
                         timeout=0.5, stall_after=0.1, interval=0.02)
    with pytest.raises(LedgerError, match=r"1 manifest\(s\) without a proof after 0.5 s "
                                          r"\(submitted to the chain\)"):
        await waiter.wait([DIGEST])
    assert [line for line in said if line.startswith("no progress")] == [said[-1]]
    assert "ledger status" in said[-1]


@pytest.mark.parametrize(("text", "wei"), [("10ETH", 10 * 10**18), ("0.5 eth", 5 * 10**17),
                                           ("12345", 12345), ("1e", None), ("-1", None),
                                           ("1.0000000000000000001ETH", None)])
def test_parse_amount(text: str, wei: int | None) -> None:
    if wei is None:
        with pytest.raises(ValidationError):
            parse_amount(text)
    else:
        assert parse_amount(text) == wei
