"""Writes tests/vectors/canonical.json; run on purpose only, never from a test:

    .venv/bin/python -m tests.vectors.generate_canonical

Expected outputs are not taken from ledger's own code: numbers come from the
table in RFC 8785 appendix B, documents from the RFC's examples or from the
independent ``rfc8785`` package, and this script refuses to write if
``ledger.core.canonical`` disagrees with them.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import rfc8785

from ledger.core.canonical import canonicalize, parse_strict
from ledger.errors import CanonicalJSONError

OUT = Path(__file__).with_name("canonical.json")

DESCRIPTION = [
    "Canonical JSON (RFC 8785) vectors for ledger.core.canonical.",
    "numbers: an IEEE-754 double (big-endian hex) and how RFC 8785 writes it (RFC 8785",
    "appendix B), or error when it is not a JSON number.",
    "documents: input (text, or inputBase64 for raw bytes) is parsed with parse_strict;",
    "canonical is the RFC 8785 serialisation, or error names the type and the JSON path",
    "(field; null when the problem has no path, e.g. bad UTF-8 or a syntax error).",
]

# RFC 8785, appendix B.
NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("7fffffffffffffff", None),
    ("7ff0000000000000", None),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]

RFC_SORTING = (
    '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With '
    'Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", '
    '"\\u00f6": "Latin Small Letter O With Diaeresis"}'
)
RFC_STRINGS = '{"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/"}'
RFC_EXAMPLE_EXACT = (
    '{"numbers": [333333333.3333333, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
    '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", '
    '"literals": [null, true, false]}'
)

GOOD = [
    ("rfc8785-sorting", "RFC 8785 3.2.3: members sorted by UTF-16 code units", RFC_SORTING),
    ("rfc8785-strings", "RFC 8785 3.2.2.2: minimal string escaping", RFC_STRINGS),
    (
        "rfc8785-example",
        "RFC 8785 3.2.4 example, with 333333333.3333333 written exactly (the RFC's "
        "333333333.33333329 loses precision: see number-precision-loss-rfc)",
        RFC_EXAMPLE_EXACT,
    ),
    (
        "non-bmp-keys",
        "U+1F600 (surrogates D83D DE00) sorts before U+FB33 and U+E000 in UTF-16 order",
        '{"\\ue000": 1, "😀": 2, "\\ufb33": 3, "z": 4, "\\ud800\\udc00": 5}',
    ),
    ("nested", "objects sorted at every depth", '{"b": {"z": 1, "a": [{"y": 2, "x": 3}]}, "a": 0}'),
    (
        "numbers-exact",
        "numbers whose double prints back as the same decimal value",
        "[1.0, 100, 1e2, -0, 0.1, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 9007199254740992,"
        " 1152921504606847000, 1.5e300, 2.5E-5, 12345e-3]",
    ),
    (
        "whitespace-and-escapes",
        "pretty-printed input with escapes; control characters written minimally",
        '{\n  "tab\\t": "\\u0000\\u001f\\b\\f\\n\\r\\t\\u007f\\u2028",\n  "slash": "\\/"\n}',
    ),
    ("empty", "empty containers and literals", '[{}, [], "", null, true, false]'),
]

BAD = [
    ("duplicate-key", '{"a": 1, "b": {"c": 1, "c": 2}}', "b.c"),
    ("duplicate-key-escaped", '{"a": 1, "\\u0061": 2}', "a"),
    ("lone-surrogate", '{"a": ["ok", "\\ud800"]}', "a[1]"),
    ("lone-low-surrogate-key", '{"\\udc00x": 1}', '["\\udc00x"]'),
    ("reversed-surrogates", '["\\ude00\\ud83d"]', "[0]"),
    ("number-precision-loss", '{"n": 0.30000000000000000001}', "n"),
    ("number-precision-loss-rfc", '{"numbers": [333333333.33333329]}', "numbers[0]"),
    ("integer-precision-loss", '{"n": [9007199254740993]}', "n[0]"),
    ("integer-exact-but-noncanonical", '{"n": 1152921504606846976}', "n"),
    ("number-overflow", '{"n": 1e400}', "n"),
    ("number-underflow", '{"n": 1e-400}', "n"),
    ("nan", '{"n": NaN}', "n"),
    ("infinity", '{"n": [-Infinity]}', "n[0]"),
    ("too-deep", '{"a": ' + "[" * 64 + "]" * 64 + "}", "a" + "[0]" * 63),
    ("trailing-garbage", '{"a": 1} {}', None),
    ("truncated", '{"a": [1, 2', None),
    ("single-quotes", "{'a': 1}", None),
    ("leading-zero", '{"a": 01}', None),
    ("raw-control-character", '{"a": "x\ny"}', None),
]

BAD_BYTES = [
    ("bom", b'\xef\xbb\xbf{"a": 1}'),
    ("invalid-utf8", b'{"a": "\xff"}'),
    ("overlong-utf8", b'{"a": "\xc0\xaf"}'),
    ("encoded-surrogate", b'{"a": "\xed\xa0\x80"}'),
    ("utf16", '{"a": 1}'.encode("utf-16")),
]


def _numbers() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for ieee, expected in NUMBERS:
        value = struct.unpack(">d", bytes.fromhex(ieee))[0]
        try:
            got: str | None = canonicalize(value).decode()
        except CanonicalJSONError:
            got = None
        if got != expected:
            raise SystemExit(f"canonical disagrees with RFC 8785 on {ieee}: {got} != {expected}")
        case: dict[str, Any] = {"ieee": ieee}
        if expected is None:
            case["error"] = {"type": "CanonicalJSONError"}
        else:
            case["canonical"] = expected
        cases.append(case)
    return cases


def _documents() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for name, description, text in GOOD:
        expected = rfc8785.dumps(json.loads(text, parse_int=float)).decode()
        got = canonicalize(parse_strict(text)).decode()
        if got != expected:
            raise SystemExit(f"{name}: ledger gives {got}, rfc8785 {expected}")
        cases.append({"name": name, "description": description, "input": text, "canonical": got})
    for name, text, field in BAD:
        cases.append(_bad(name, text, text, field))
    for name, raw in BAD_BYTES:
        encoded = base64.b64encode(raw).decode()
        cases.append(_bad(name, raw, None, None, encoded))
    return cases


def _bad(
    name: str, data: bytes | str, text: str | None, field: str | None, encoded: str | None = None
) -> dict[str, Any]:
    try:
        parse_strict(data)
    except CanonicalJSONError as exc:
        if exc.field != field:
            raise SystemExit(f"{name}: error names {exc.field!r}, want {field!r}") from None
        case: dict[str, Any] = {"name": name, "description": exc.message}
        if text is not None:
            case["input"] = text
        else:
            case["inputBase64"] = encoded
        case["error"] = {"type": "CanonicalJSONError", "field": field}
        return case
    raise SystemExit(f"{name}: parse_strict accepted it")


def main() -> None:
    """Check the vectors against ledger and write them."""
    vectors = {"description": DESCRIPTION, "numbers": _numbers(), "documents": _documents()}
    OUT.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
