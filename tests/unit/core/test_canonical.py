"""Strict parsing and RFC 8785 canonicalisation (ledger.core.canonical)."""

from __future__ import annotations

import base64
import json
import math
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.canonical import MAX_DEPTH, canonicalize, format_number, json_path, parse_strict
from ledger.errors import CanonicalJSONError

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "canonical.json").read_text(encoding="utf-8")
)

# -- vectors ----------------------------------------------------------------------


@pytest.mark.parametrize("case", VECTORS["numbers"], ids=lambda case: case["ieee"])
def test_number_vectors(case: dict[str, Any]) -> None:
    value = struct.unpack(">d", bytes.fromhex(case["ieee"]))[0]
    if "error" in case:
        with pytest.raises(CanonicalJSONError):
            canonicalize(value)
    else:
        assert canonicalize(value).decode() == case["canonical"]
        assert format_number(value) == case["canonical"]


@pytest.mark.parametrize("case", VECTORS["documents"], ids=lambda case: case["name"])
def test_document_vectors(case: dict[str, Any]) -> None:
    data = case["input"] if "input" in case else base64.b64decode(case["inputBase64"])
    if "error" in case:
        with pytest.raises(CanonicalJSONError) as caught:
            parse_strict(data)
        assert caught.value.field == case["error"]["field"]
        if isinstance(data, str):  # the same document as UTF-8 bytes fails the same way
            with pytest.raises(CanonicalJSONError) as caught_bytes:
                parse_strict(data.encode("utf-8", "surrogatepass"))
            assert caught_bytes.value.field == case["error"]["field"]
    else:
        assert canonicalize(parse_strict(data)).decode() == case["canonical"]
        assert canonicalize(parse_strict(data.encode())).decode() == case["canonical"]


def test_rfc8785_example_as_written_loses_precision() -> None:
    """The RFC's own example writes 333333333.33333329, which no double holds exactly."""
    text = '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]}'
    with pytest.raises(CanonicalJSONError, match=r"333333333\.3333333\b"):
        parse_strict(text)
    assert (
        canonicalize(json.loads(text)) == b'{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}'
    )


# -- parsing -------------------------------------------------------------------------


def test_parse_keeps_integer_and_fraction_types() -> None:
    assert parse_strict("[1, -0, 1.0, 9007199254740992, 9007199254740994]") == [
        1,
        0,
        1.0,
        2**53,
        2**53 + 2,
    ]
    parsed = parse_strict("[1, 1.0, 9007199254740994]")
    assert [type(value) for value in parsed] == [int, float, float]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"a": 1, "a": 1}', 'duplicate member name "a"'),
        ('["\\udfff"]', "lone UTF-16 surrogate"),
        ("[1e309]", "it would be infinity"),
        ("[Infinity]", "Infinity is not allowed"),
        ('{"a": [1, }', "line 1 column 11"),
    ],
)
def test_parse_error_messages(text: str, fragment: str) -> None:
    with pytest.raises(CanonicalJSONError, match=fragment):
        parse_strict(text)


def test_syntax_error_gives_byte_offset_for_bytes() -> None:
    with pytest.raises(CanonicalJSONError, match=r"\(byte 9\)"):
        parse_strict('{"é": 1 x}'.encode())
    with pytest.raises(CanonicalJSONError, match=r"\(character 8\)"):
        parse_strict('{"é": 1 x}')


def test_raw_surrogate_in_str_input_rejected() -> None:
    with pytest.raises(CanonicalJSONError, match="character 2"):
        parse_strict('["\ud800"]')


def test_depth_limit_is_exact() -> None:
    assert parse_strict("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(CanonicalJSONError, match="deeper than 64"):
        parse_strict("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(CanonicalJSONError, match="deeper than 64"):
        parse_strict("[" * 100_000 + "]" * 100_000)
    assert parse_strict("[" * 3 + "]" * 3, max_depth=3) == [[[]]]


def test_deep_input_never_reaches_the_c_scanner() -> None:
    """With a raised recursion limit, deep input would overflow the C stack."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)
    try:
        for text in ("[" * 500_000, '{"a":' * 300_000, "[" * 300_000 + "]" * 300_000):
            with pytest.raises(CanonicalJSONError, match="deeper than 64"):
                parse_strict(text)
    finally:
        sys.setrecursionlimit(old)


def test_too_deep_path_follows_keys_and_indexes() -> None:
    text = '{"x": [1, "]", {"k,": 0, "b": [' + "[" * 70 + "]" * 70 + "]}]}"
    with pytest.raises(CanonicalJSONError) as caught:
        parse_strict(text)
    assert caught.value.field == "x[2].b" + "[0]" * 61


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    text = '["' + "[{" * 100 + '"]'
    assert parse_strict(text) == ["[{" * 100]


def test_escaped_backslash_u_is_not_a_surrogate() -> None:
    assert parse_strict('["\\\\ud800"]') == ["\\ud800"]
    assert parse_strict('"\\ud83d\\ude00"') == "\U0001f600"


@pytest.mark.parametrize("data", [b"", b" ", b"nul", b"[", b"\x00", b'"\\x"', b"[1,]", b"01"])
def test_garbage_raises_only_canonical_json_error(data: bytes) -> None:
    with pytest.raises(CanonicalJSONError):
        parse_strict(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    try:
        value = parse_strict(data)
    except CanonicalJSONError:
        return
    canonicalize(value)


# -- canonicalisation ----------------------------------------------------------------


def test_canonicalize_refuses_what_json_cannot_hold() -> None:
    for value in (math.nan, math.inf, {1: "a"}, {"a": object()}, b"x", ["\udc00"], 2**53 + 1):
        with pytest.raises(CanonicalJSONError):
            canonicalize(value)


def test_canonicalize_lone_surrogate_names_path() -> None:
    with pytest.raises(CanonicalJSONError) as caught:
        canonicalize({"a": [{"b": "x\ud800"}]})
    assert caught.value.field == "a[0].b"


def test_large_integers_that_print_exactly_are_allowed() -> None:
    assert canonicalize(1152921504606847000) == b"1152921504606847000"
    assert canonicalize(10**21) == b"1e+21"
    with pytest.raises(CanonicalJSONError):
        canonicalize(2**60)


def test_tuples_encode_as_arrays() -> None:
    assert canonicalize({"a": (1, "x")}) == b'{"a":[1,"x"]}'


def test_json_path_rendering() -> None:
    assert json_path(("assets", 2, "priceModel", "rate")) == "assets[2].priceModel.rate"
    assert json_path((0, "a b", "ok")) == '[0]["a b"].ok'
    assert json_path(()) == ""


# -- properties --------------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_TEXT, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(_JSON)
def test_round_trip_and_idempotent(value: Any) -> None:
    canonical = canonicalize(value)
    assert parse_strict(canonical) == value
    assert canonicalize(parse_strict(canonical)) == canonical


@settings(max_examples=200, deadline=None)
@given(_JSON)
def test_agrees_with_rfc8785_package(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(_ints_as_floats(value))


@settings(max_examples=200, deadline=None)
@given(_JSON)
def test_pretty_printed_python_json_parses_back_exactly(value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    assert canonicalize(parse_strict(text)) == canonicalize(value)


@settings(max_examples=1000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_double_round_trips(number: float) -> None:
    text = canonicalize(number)
    assert float(text) == number
    assert parse_strict(text) == number


def _ints_as_floats(value: Any) -> Any:
    # rfc8785 refuses integers of magnitude 2**53; the same number as a float is fine.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {key: _ints_as_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_ints_as_floats(item) for item in value]
    return value


@pytest.mark.node
@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_numbers_match_javascript() -> None:
    """ECMAScript's Number toString is the reference RFC 8785 defers to."""
    rng = random.Random(8785)
    doubles = [struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0] for _ in range(3000)]
    doubles = [value for value in doubles if math.isfinite(value)]
    doubles += [1e21, 1e-7, 1e-6, 1e16, 123e-20, 0.1, 2.0**60]
    hexes = [struct.pack(">d", value).hex() for value in doubles]
    script = (
        "const hexes = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const show = h => String(Buffer.from(h, 'hex').readDoubleBE(0));"
        "console.log(JSON.stringify(hexes.map(show)));"
    )
    result = subprocess.run(
        ["node", "-e", script], input=json.dumps(hexes), capture_output=True, text=True, check=True
    )
    assert [format_number(value) for value in doubles] == json.loads(result.stdout)
