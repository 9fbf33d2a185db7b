"""docs/royalty-splitter.md's table of return values matches the forge ABI, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ledger.chain.contracts.artifacts import load_artifact

DOC = Path(__file__).resolve().parents[3] / "docs" / "royalty-splitter.md"


def _rows() -> list[tuple[str, str, list[tuple[str, str]]]]:
    section = DOC.read_text("utf-8").split("## Return values, in order", 1)[1]
    rows = []
    for contract, function, returns in re.findall(
        r"^\| `(\w+)\.(\w+)\([^)]*\)` \| (.+) \|$", section, flags=re.M
    ):
        rows.append((contract, function, re.findall(r"`(\w+)` (\w+(?:\[\])?)", returns)))
    return rows


def _outputs(contract: str, function: str) -> list[tuple[str, str]]:
    (item,) = [i for i in load_artifact(contract).abi
               if i.get("type") == "function" and i["name"] == function]
    outputs = item["outputs"]
    if len(outputs) == 1 and outputs[0].get("components"):
        outputs = outputs[0]["components"]
    return [(o["name"], o["type"]) for o in outputs]


def test_the_table_lists_the_calls_that_return_several_values() -> None:
    assert {(c, f) for c, f, _ in _rows()} == {
        ("RoyaltySplitter", "account"), ("RoyaltySplitter", "splitVersion"),
        ("RoyaltySplitter", "pendingMaxPrice"), ("AnchorRegistry", "anchoredAt"),
        ("AnchorRegistry", "verifyInclusion"),
    }


@pytest.mark.parametrize(("contract", "function", "returns"), _rows())
def test_documented_order_is_the_abi_order(
    contract: str, function: str, returns: list[tuple[str, str]]
) -> None:
    assert returns == _outputs(contract, function)
