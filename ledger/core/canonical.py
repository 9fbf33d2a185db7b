"""Strict JSON parsing and RFC 8785 (JCS) canonical serialisation.

Consensus-critical: ``canonicalize`` defines the bytes every manifest digest
and signature covers. ``parse_strict`` accepts only input whose meaning is
unambiguous, so that parsing and canonicalising never changes what the author
wrote: UTF-8 without BOM, no duplicate member names, no lone surrogates, no
NaN/Infinity, no number whose IEEE-754 double prints as a different decimal,
and at most ``MAX_DEPTH`` levels of nesting.

The common case runs on the C JSON scanner with small hooks; only a rejected
document is parsed a second time, to name the JSON path of the problem.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from decimal import Decimal
from itertools import accumulate
from json.encoder import encode_basestring as _quote
from typing import Any, NoReturn

from ledger.errors import CanonicalJSONError

MAX_DEPTH = 64
"""Deepest nesting ``parse_strict`` accepts; ``{}`` and ``[]`` are depth 1."""

_SAFE_INT = 2**53
# Any integer literal this long overflows a double (DBL_MAX has 309 digits).
_MAX_INT_LITERAL = 311
_INF = math.inf

_RAW_SURROGATE = re.compile("[\ud800-\udfff]")
# May match an escaped backslash followed by "u"; a false alarm only costs a walk.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]', re.DOTALL)
_BRACKET_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Rejected(Exception):
    """Raised by a parse hook; the slow pass then finds where the problem is."""


def parse_strict(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON that has exactly one canonical form, or raise CanonicalJSONError.

    ``data`` as bytes must be UTF-8 without a byte order mark. The error names
    the JSON path of the offending value where there is one, else the offset.
    Integers within ±2**53 come back as ``int``; other numbers as ``float``.
    """
    text = _decode(data)
    # Depth is checked before the C scanner runs: its recursion is bounded by
    # the interpreter's recursion limit, which a host (or hypothesis) may raise
    # far enough for deep input to overflow the C stack.
    if _too_deep(text, max_depth):
        raise CanonicalJSONError(
            f"nesting is deeper than {max_depth} levels", field=_deep_path(text, max_depth)
        )
    try:
        value = _STRICT.decode(text)
    except json.JSONDecodeError as exc:
        raise CanonicalJSONError(_syntax_message(exc, data)) from None
    except RecursionError:
        raise CanonicalJSONError(f"nesting is deeper than {max_depth} levels") from None
    except _Rejected:
        raise _locate(text) from None
    if _SURROGATE_ESCAPE.search(text):
        _raise_problem(value)
    return value


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    Accepts dict (str keys), list, tuple, str, int, float, bool and None.
    Raises CanonicalJSONError for NaN, infinities, integers a double cannot
    hold exactly, lone surrogates and any other type.
    """
    out: list[str] = []
    try:
        _encode(value, out)
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        _raise_problem(value)
        raise CanonicalJSONError("string contains a lone UTF-16 surrogate") from None
    except RecursionError:
        raise CanonicalJSONError("value is nested too deeply to encode") from None


def format_number(number: int | float) -> str:
    """A number as RFC 8785 writes it (ECMAScript ``Number.prototype.toString``)."""
    if type(number) is int:
        return _format_int(number)
    return _format_float(float(number))


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise CanonicalJSONError("a byte order mark is not allowed (at character 0)")
        raw = _RAW_SURROGATE.search(data)
        if raw:
            raise CanonicalJSONError(f"lone UTF-16 surrogate at character {raw.start()}")
        return data
    raw_bytes = bytes(data)
    if raw_bytes.startswith(b"\xef\xbb\xbf"):
        raise CanonicalJSONError("a byte order mark is not allowed (at byte 0)")
    try:
        return raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalJSONError(f"invalid UTF-8 at byte {exc.start}") from None


def _syntax_message(exc: json.JSONDecodeError, data: bytes | str) -> str:
    where = f"line {exc.lineno} column {exc.colno}"
    if isinstance(data, str):
        where += f" (character {exc.pos})"
    else:
        where += f" (byte {len(exc.doc[: exc.pos].encode('utf-8'))})"
    reason = exc.msg.removesuffix(" at")  # "Invalid control character at"
    return f"invalid JSON: {reason} at {where}"


# -- parse hooks ------------------------------------------------------------


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Rejected
    return obj


def _strict_int(literal: str) -> int | float:
    if len(literal) <= 15:  # at most 15 digits: below 2**53
        return int(literal)
    number = _number_or_none(literal, integer=True)
    if number is None:
        raise _Rejected
    return number


def _strict_float(literal: str) -> float:
    number = _number_or_none(literal, integer=False)
    if number is None:
        raise _Rejected
    return float(number)


def _reject_constant(literal: str) -> NoReturn:
    raise _Rejected


def _number_or_none(literal: str, *, integer: bool) -> int | float | None:
    """The value of a number literal, or None when a double cannot hold it exactly.

    Exact means: the shortest decimal that identifies the double (what JCS
    writes) has the same value as the literal, so canonicalising never alters
    a number.
    """
    if integer:
        if len(literal) > _MAX_INT_LITERAL:
            return None
        whole = int(literal)
        if -_SAFE_INT <= whole <= _SAFE_INT:
            return whole
    number = float(literal)
    if number in (_INF, -_INF):
        return None
    # A fraction of at most 16 characters has at most 15 significant digits
    # and lies in the normal range: such a decimal always round-trips.
    if not integer and len(literal) <= 16 and "e" not in literal and "E" not in literal:
        return number
    if Decimal(literal) != Decimal(repr(number)):
        return None
    return number


_STRICT = json.JSONDecoder(
    object_pairs_hook=_strict_object,
    parse_int=_strict_int,
    parse_float=_strict_float,
    parse_constant=_reject_constant,
)


# -- locating a problem -------------------------------------------------------


class _Bad:
    """Stands in for a rejected value during the locating pass."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


class _DuplicateObject(dict[str, Any]):
    duplicate: str = ""


def _marking_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _DuplicateObject(obj)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.duplicate = key
            break
        seen.add(key)
    return marked


def _marking_number(literal: str, *, integer: bool) -> Any:
    number = _number_or_none(literal, integer=integer)
    if number is not None:
        return number
    shown = literal if len(literal) <= 40 else literal[:37] + "..."
    try:
        becomes = _format_float(float(literal))
    except CanonicalJSONError:
        becomes = "infinity"
    return _Bad(f"number {shown} cannot be represented exactly as a double (it would be {becomes})")


_LOCATING = json.JSONDecoder(
    object_pairs_hook=_marking_object,
    parse_int=lambda s: _marking_number(s, integer=True),
    parse_float=lambda s: _marking_number(s, integer=False),
    parse_constant=lambda s: _Bad(f"{s} is not allowed in JSON"),
)


def _locate(text: str) -> CanonicalJSONError:
    try:
        value = _LOCATING.decode(text)
    except json.JSONDecodeError as exc:
        return CanonicalJSONError(_syntax_message(exc, text))
    problem = next(_problems(value, ()), None)
    if problem is None:  # the hooks and the walk disagree: still refuse the input
        return CanonicalJSONError("input is not canonicalisable JSON")
    return _error(*problem)


def _raise_problem(value: Any) -> None:
    problem = next(_problems(value, ()), None)
    if problem is not None:
        raise _error(*problem)


def _error(message: str, path: tuple[str | int, ...]) -> CanonicalJSONError:
    return CanonicalJSONError(message, field=json_path(path) or None)


def _problems(
    value: Any, path: tuple[str | int, ...]
) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """Every problem marked or found in ``value``, in document order, with its path."""
    if isinstance(value, _Bad):
        yield value.message, path
    elif isinstance(value, str):
        if _RAW_SURROGATE.search(value):
            yield "string contains a lone UTF-16 surrogate", path
    elif isinstance(value, dict | list | tuple):
        if isinstance(value, _DuplicateObject):
            yield f'duplicate member name "{value.duplicate}"', (*path, value.duplicate)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str) and _RAW_SURROGATE.search(key):
                yield "member name contains a lone UTF-16 surrogate", (*path, key)
            yield from _problems(item, (*path, key))


def _too_deep(text: str, max_depth: int) -> bool:
    """Whether brackets outside strings nest deeper than ``max_depth``.

    Strings are matched as the JSON scanner reads them, so up to the first
    syntax error this depth is the depth the scanner would recurse to.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    skeleton = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_BRACKET_DELTA.__getitem__, skeleton)), default=0) > max_depth


def _deep_path(text: str, max_depth: int) -> str | None:
    """The path of the first container nested deeper than ``max_depth``, found without recursion."""
    frames: list[list[Any]] = []  # per open container: [is_object, current key or index]
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            if len(frames) >= max_depth:
                return json_path(tuple(frame[1] for frame in frames)) or None
            frames.append([token == "{", None if token == "{" else 0])
        elif token in ("]", "}"):
            if frames:
                frames.pop()
        elif token == ",":
            if frames:
                frames[-1][1] = None if frames[-1][0] else frames[-1][1] + 1
        elif token != ":" and frames and frames[-1][0] and frames[-1][1] is None:
            frames[-1][1] = _member_name(token)
    return None


def _member_name(token: str) -> str:
    try:
        name = json.loads(token)
    except ValueError:
        return token
    return name if isinstance(name, str) else token


def json_path(path: tuple[str | int, ...]) -> str:
    """Render a path as ledger writes it in errors: ``assets[2].priceModel.rate``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            # Escape only what cannot be printed: lone surrogates.
            quoted = json.dumps(part, ensure_ascii=False).encode("utf-8", "backslashreplace")
            out.append(f"[{quoted.decode('utf-8')}]")
    return "".join(out)


# -- serialisation ------------------------------------------------------------


def _encode(value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_quote(value))
    elif kind is dict:
        _encode_object(value, out)
    elif kind is list or kind is tuple:
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif kind is int:
        out.append(_format_int(value))
    elif kind is float:
        out.append(_format_float(value))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    else:
        raise CanonicalJSONError(f"{kind.__name__} is not a JSON value")


def _encode_object(obj: dict[Any, Any], out: list[str]) -> None:
    keys = list(obj)
    try:
        names = "".join(keys)
    except TypeError:
        raise CanonicalJSONError("object member names must be strings") from None
    # Code-point order equals UTF-16 order unless a name has characters beyond the BMP.
    if names.isascii() or max(names) <= "\uffff":
        keys.sort()
    else:
        keys.sort(key=_utf16_units)
    out.append("{")
    for index, key in enumerate(keys):
        if index:
            out.append(",")
        out.append(_quote(key))
        out.append(":")
        _encode(obj[key], out)
    out.append("}")


def _utf16_units(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare like the code-unit sequence RFC 8785 sorts by.
    return key.encode("utf-16-be", "surrogatepass")


def _format_int(number: int) -> str:
    if -_SAFE_INT <= number <= _SAFE_INT:
        return str(number)
    try:
        as_float = float(number)
    except OverflowError:
        raise CanonicalJSONError(f"integer {number} is too large for a JSON number") from None
    if Decimal(repr(as_float)) != number:
        raise CanonicalJSONError(f"integer {number} cannot be represented exactly as a double")
    return _format_float(as_float)


def _format_float(number: float) -> str:
    if number != number or number in (_INF, -_INF):
        raise CanonicalJSONError(f"{number} is not a JSON number")
    if number == 0:
        return "0"
    magnitude = abs(number)
    # In this range repr is positional, like ECMAScript, with the same digits.
    if 1e-4 <= magnitude < 1e16:
        text = repr(number)
        return text[:-2] if text.endswith(".0") else text
    return _format_es6(number)


def _format_es6(number: float) -> str:
    """ECMAScript Number::toString from the shortest round-trip digits repr gives."""
    mantissa, _, exponent = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    point -= len(digits) - len(significant)
    digits = significant.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        text = digits + "0" * (point - count)
    elif 0 < point <= 21:
        text = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        text = "0." + "0" * -point + digits
    else:
        power = point - 1
        fraction_part = "." + digits[1:] if count > 1 else ""
        text = f"{digits[0]}{fraction_part}e{'+' if power >= 0 else '-'}{abs(power)}"
    return "-" + text if number < 0 else text
