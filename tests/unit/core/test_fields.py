"""The one JSON field reader (ledger.core.fields): paths, messages, error classes."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.core.fields import ADDRESS, Fields, json_type, path, show
from ledger.errors import LedgerError, ProofError, ValidationError

CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _error(read: Any) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        read()
    return caught.value


@pytest.mark.parametrize(
    ("where", "name", "expected"),
    [("", "a", "a"), ("a", "b", "a.b"), ("a", 2, "a[2]"), ("a[2]", None, "a[2]"), ("", None, "")],
)
def test_path_joins_members_and_indexes(where: str, name: str | int | None, expected: str) -> None:
    assert path(where, name) == expected


def test_object_checks_unknown_members_before_missing_ones() -> None:
    error = _error(lambda: Fields.of_object({"x": 1}, "top", allowed={"a"}, required=("a",)))
    assert (type(error), error.field, error.message) == (ValidationError, "top.x", "unknown member")
    error = _error(lambda: Fields.of_object({}, "top", allowed={"a"}, required=("a",)))
    assert (error.field, error.message) == ("top.a", "is required")


def test_not_an_object_names_the_value_itself() -> None:
    error = _error(lambda: Fields.of_object([], "", allowed=()))
    assert (error.field, error.message) == (None, "must be a JSON object")


def test_nested_readers_inherit_error_class_and_messages() -> None:
    top = Fields.of_object({"a": {"b": [1, "x"]}}, allowed={"a"}, error=ProofError,
                           missing="missing", got=True)
    items = top.object("a", {"b"}, ("b",)).array("b")
    assert items.integer(0, 0) == 1
    error = _error(lambda: items.integer(1, 0))
    assert (type(error), error.field, error.message) == (
        ProofError, "a.b[1]", "must be an integer, got a string"
    )
    error = _error(lambda: top.object("a", {"b", "c"}, ("c",)))
    assert (error.field, error.message) == ("a.c", "missing")


def test_got_mode_shows_what_was_found() -> None:
    fields = Fields({"n": 7, "h": "nope"}, "x", got=True)
    assert _error(lambda: fields.integer("n", 8, 9)).message == "must be between 8 and 9, got 7"
    assert _error(lambda: fields.hex_bytes("h")).message == (
        "must be 0x and 64 lower-case hex digits, got 'nope'"
    )


def test_expected_replaces_both_integer_messages() -> None:
    fields = Fields({"t": True, "n": -1})
    assert _error(lambda: fields.timestamp_ms("t")).message == "must be a non-negative integer (ms)"
    assert _error(lambda: fields.timestamp_ms("n")).message == "must be a non-negative integer (ms)"


def test_addresses_keep_their_spelling_or_are_checksummed() -> None:
    lower = CHECKSUMMED.lower()
    fields = Fields({"lower": lower, "mixed": CHECKSUMMED, "bad": CHECKSUMMED.replace("a", "A")})
    assert fields.address("lower") == lower
    assert fields.checksummed_address("lower") == CHECKSUMMED
    assert fields.address("mixed") == CHECKSUMMED
    assert _error(lambda: fields.address("bad")).message == (
        f"has a wrong EIP-55 checksum (expected {CHECKSUMMED})"
    )
    assert ADDRESS.fullmatch(CHECKSUMMED)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2024-02-30T00:00:00Z", "2024-02-30T00:00:00Z is not a real date"),
        ("2023-02-29T00:00:00Z", "2023-02-29T00:00:00Z is not a real date"),
        ("2024-02-29", "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ"),
    ],
)
def test_timestamps_must_be_real_dates(value: str, message: str) -> None:
    assert _error(lambda: Fields({"t": value}).timestamp("t")).message == message


def test_leap_day_is_a_real_date() -> None:
    assert Fields({"t": "2024-02-29T12:00:00Z"}).timestamp("t") == "2024-02-29T12:00:00Z"


def test_optional_reads_only_present_members() -> None:
    fields = Fields({"a": "x"})
    assert fields.optional("a", fields.text) == "x"
    assert fields.optional("b", fields.text) is None


def test_show_and_json_type_describe_values() -> None:
    values: list[Any] = [None, True, 3, "s", [], {}]
    assert [json_type(v) for v in values] == [
        "null", "a boolean", "the number 3", "a string", "an array", "an object"
    ]
    assert show("x" * 80) == repr("x" * 67 + "...")
