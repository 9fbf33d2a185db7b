"""The batch lookup's request: hashes in order, bare or "sha256:", the member at fault
named."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.core.lookups import MAX_LOOKUP, lookup_hashes
from ledger.errors import ValidationError


def test_hashes_are_read_in_order_either_spelling() -> None:
    assert lookup_hashes({"hashes": ["ab" * 32, "sha256:" + "cd" * 32, "ab" * 32]}) == (
        bytes.fromhex("ab" * 32), bytes.fromhex("cd" * 32), bytes.fromhex("ab" * 32))
    assert len(lookup_hashes({"hashes": ["00" * 32] * MAX_LOOKUP})) == MAX_LOOKUP


@pytest.mark.parametrize(("obj", "field"), [
    ([], None), ({}, "hashes"), ({"hashes": []}, "hashes"), ({"hashes": "ab" * 32}, "hashes"),
    ({"hashes": ["ab" * 32] * (MAX_LOOKUP + 1)}, "hashes"),
    ({"hashes": ["ab" * 32, "AB" * 32]}, "hashes[1]"),
    ({"hashes": ["0x" + "ab" * 32]}, "hashes[0]"),
    ({"hashes": ["ab" * 32], "at": 1}, "at")])
def test_a_bad_request_names_the_member(obj: Any, field: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        lookup_hashes(obj)
    assert caught.value.field == field
