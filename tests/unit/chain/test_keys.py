"""Typed transaction keys: byte-identical to the strings journals already hold."""

from __future__ import annotations

import pytest

from ledger.chain.tx.keys import TxKey, TxKind
from ledger.errors import ChainError

SCOPE = "1a2b3c4d5e6f7a8b"  # 16 hex digits of a deployment's first block hash
DIGEST = bytes(range(32))

#: Keys as the anchorer, the settler and the settlement store wrote them before
#: they were typed (f-strings), and as stored journals hold them.
STORED = [
    ("anchor:1a2b3c4d5e6f7a8b:12#1", TxKey.anchor(SCOPE, 12, 1)),
    ("anchor:1a2b3c4d5e6f7a8b:7#3", TxKey.anchor(SCOPE, 7, 3)),
    ("settle:1a2b3c4d5e6f7a8b:42", TxKey.settlement(SCOPE, 42)),
    ("split:1a2b3c4d5e6f7a8b:31e6c50afe4ffc08f7bbd4b0:2",
     TxKey.split(SCOPE, DIGEST, "photo-1", 2)),
    ("anchor:t:5#1", TxKey.anchor("t", 5, 1)),
]


@pytest.mark.parametrize(("text", "key"), STORED)
def test_encode_writes_todays_strings(text: str, key: TxKey) -> None:
    assert key.encode() == text


@pytest.mark.parametrize(("text", "key"), STORED)
def test_parse_reads_todays_strings(text: str, key: TxKey) -> None:
    assert TxKey.parse(text) == key
    assert TxKey.parse(text).encode() == text


def test_the_store_prefix_plus_its_id_is_the_settlement_key() -> None:
    assert TxKey.settlement_prefix(SCOPE) + "42" == TxKey.settlement(SCOPE, 42).encode()


def test_numbers_of_anchor_and_settle_keys() -> None:
    assert TxKey.parse("anchor:t:5#2").number == 5
    assert TxKey.parse("settle:t:9").number == 9
    with pytest.raises(ChainError):
        _ = TxKey.split("t", DIGEST, "a", 1).number


@pytest.mark.parametrize("text", [
    "cli:0011223344556677",          # a one-shot command's key: another format
    "deploy:registry",
    "anchor:t:",                     # no batch number
    "anchor:t:x#1",                  # batch number not a number
    "anchor:t:5#",                   # empty attempt
    "settle::5",                     # no scope
    "split:t:31e6c50afe4ffc08f7bbd4b0",  # no version
    "split:t:nothex:1",
    "refund:t:5",                    # unknown kind
])
def test_other_strings_are_not_keys(text: str) -> None:
    with pytest.raises(ChainError):
        TxKey.parse(text)
    assert TxKey.parse_or_none(text) is None


def test_kinds_are_the_stored_words() -> None:
    assert [k.value for k in TxKind] == ["anchor", "settle", "split"]
