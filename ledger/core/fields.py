"""One reader for JSON input: every parser in the core checks its members through it.

A `Fields` holds a parsed JSON object or array and its JSON path (``assets[2]``);
each reader method checks one member or item, returns it typed, or raises the
reader's error class naming the member's path (``assets[2].priceModel.rate``).
The path is only built when there is an error, because parsing is a hot path
(one manifest per submission, ten thousand usage events per request).

The patterns shared by several formats (hashes, addresses, ids) are defined
here once. A reader made with ``got=True`` ends each message with what it found
(``must be an integer, got a string``), as proof bundles have always reported.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection, Iterable
from typing import Any, NoReturn, TypeVar

from ledger.core.hashing import checksum_address
from ledger.errors import LedgerError, ValidationError

SLUG = r"[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?"
"""A lower-case slug: a-z 0-9 . _ -, at most 128, starting and ending alphanumeric."""

HASH = re.compile(r"0x[0-9a-f]{64}")
"""A 32-byte hash as written in bundles, receipts and usage: 0x and lower-case hex."""

ANY_CASE_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
"""A 32-byte hash in either case, as a person types it and a receipt may carry it."""

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
"""An EVM address in any case (the checksum is checked separately)."""

SIGNATURE_65 = re.compile(r"0x[0-9a-f]{130}")
"""A secp256k1 signature r‖s‖v (65 bytes) as EIP-712 signers write it."""

SHA256_ID = re.compile(r"sha256:[0-9a-f]{64}")
"""A content hash as a manifest writes it."""

CONTENT_HASH = re.compile(r"(?:sha256:)?[0-9a-f]{64}")
"""A file's SHA-256 as a request asks about it: bare, or as a manifest writes it."""
CONTENT_HASH_FORM = '64 lower-case hex digits, optionally after "sha256:"'
"""`CONTENT_HASH` in words, for the errors that refuse anything else."""

ASSET_ID = re.compile("asset:" + SLUG)
SOURCE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
#: A deployment (CAIP-10 account id of the registry): what signed actions, statements and
#: snapshots name so they cannot be replayed on another service.
DEPLOYMENT = re.compile(r"eip155:[1-9][0-9]{0,19}:0x[0-9a-f]{40}")
DEPLOYMENT_TEXT = '"eip155:<chainId>:<registry address, lower-case>"'
"""A metering source id."""

UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
"""Unix seconds as a header or a signed request carries them."""

MAX_JSON_INT = 2**53 - 1
"""JSON integers stay exact only up to 2**53 (JavaScript's Number)."""

_TIMESTAMP = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z"
)
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MAX_TEXT = 256

Name = str | int | None
"""A member name, an array index, or None for the value at the reader's own path."""

T = TypeVar("T")


def path(where: str, name: Name) -> str:
    """The JSON path of member or item ``name`` of the value at ``where``."""
    if name is None:
        return where
    if isinstance(name, int):
        return f"{where}[{name}]"
    return f"{where}.{name}" if where else name


def json_type(value: Any) -> str:
    """What a JSON value is, for an error message: ``a string``, ``the number 3``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def show(value: Any) -> str:
    """A value for an error message: a string quoted (shortened), anything else its type."""
    if not isinstance(value, str):
        return json_type(value)
    return repr(value) if len(value) <= 70 else repr(value[:67] + "...")


@functools.lru_cache(maxsize=8192)
def checksummed(address: str) -> str:
    """The EIP-55 spelling of ``address``; cached, because buyers and payees repeat and
    the checksum's Keccak is most of the cost of reading an address."""
    return checksum_address(address)


def is_leap_year(year: int) -> bool:
    """Whether ``year`` of the Gregorian calendar has a 29 February."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


class Fields:
    """A JSON object or array being read, with the JSON path where it sits.

    ``error`` is the LedgerError class raised, ``missing`` the message for an
    absent required member, and ``got`` whether messages say what was found;
    readers of nested values (`object`, `array`) inherit all three.
    """

    __slots__ = ("error", "got", "missing", "value", "where")

    def __init__(
        self,
        value: Any,
        where: str = "",
        *,
        error: type[LedgerError] = ValidationError,
        missing: str = "is required",
        got: bool = False,
    ) -> None:
        self.value = value
        self.where = where
        self.error = error
        self.missing = missing
        self.got = got

    @classmethod
    def of_object(
        cls,
        value: Any,
        where: str = "",
        *,
        allowed: Collection[str],
        required: Iterable[str] = (),
        error: type[LedgerError] = ValidationError,
        missing: str = "is required",
        got: bool = False,
    ) -> Fields:
        """A reader of ``value``, which must be a JSON object with only ``allowed``
        members and every ``required`` one (checked in that order)."""
        reader = cls(value, where, error=error, missing=missing, got=got)
        reader.check_members(allowed, required)
        return reader

    def check_members(self, allowed: Collection[str], required: Iterable[str]) -> None:
        """Check that the value is an object with only ``allowed`` and all ``required``."""
        value = self.value
        if not isinstance(value, dict):
            self.fail(None, self._found("must be a JSON object", json_type(value)))
        if value.keys() - allowed:
            self.fail(next(name for name in value if name not in allowed), "unknown member")
        for name in required:
            if name not in value:
                self.fail(name, self.missing)

    def __getitem__(self, name: str | int) -> Any:
        return self.value[name]

    def __contains__(self, name: str) -> bool:
        return name in self.value

    def __len__(self) -> int:
        return len(self.value)

    def path(self, name: Name) -> str:
        """The JSON path of ``name`` here."""
        return path(self.where, name)

    def fail(self, name: Name, message: str) -> NoReturn:
        """Raise this reader's error for ``name`` (None: the value itself)."""
        raise self.error(message, field=path(self.where, name) or None)

    def optional(self, name: str, read: Callable[..., T], *args: Any) -> T | None:
        """``read(name, *args)`` when the object has member ``name``, else None."""
        return read(name, *args) if name in self.value else None

    # -- nested values ----------------------------------------------------------

    def object(self, name: str | int, allowed: Collection[str], required: Iterable[str] = ()
               ) -> Fields:
        """A reader of the object at ``name`` (see `of_object`)."""
        return Fields.of_object(
            self.value[name], self.path(name), allowed=allowed, required=required,
            error=self.error, missing=self.missing, got=self.got,
        )

    def array(self, name: str | int, min_items: int = 0, max_items: int | None = None,
              *, expected: str = "a JSON array") -> Fields:
        """A reader of the array at ``name``, whose items are read by index."""
        value = self.value[name]
        if not isinstance(value, list):
            self.fail(name, self._found(f"must be {expected}", json_type(value)))
        if max_items is not None and not min_items <= len(value) <= max_items:
            self.fail(name, f"must have {min_items} to {max_items} entries, not {len(value)}")
        return Fields(value, self.path(name), error=self.error, missing=self.missing,
                      got=self.got)

    def content_hashes(self, name: str, most: int) -> tuple[bytes, ...]:
        """The array at ``name`` of 1 to ``most`` `CONTENT_HASH`es, 32 bytes each, in order."""
        listed = self.array(name, 1, most)
        return tuple(bytes.fromhex(listed.match(i, CONTENT_HASH, CONTENT_HASH_FORM)[-64:])
                     for i in range(len(listed)))

    # -- scalars ------------------------------------------------------------------

    def text(self, name: Name, max_length: int = _MAX_TEXT) -> str:
        """A string of 1 to ``max_length`` characters."""
        value = self._at(name)
        if not isinstance(value, str):
            self.fail(name, "must be a string")
        if not value or len(value) > max_length:
            self.fail(name, f"must be a non-empty string of at most {max_length} characters")
        return value

    def match(self, name: Name, pattern: re.Pattern[str], expected: str) -> str:
        """A string matching ``pattern`` whole; the error says it must be ``expected``."""
        # The hottest reader (every id, hash and address of every usage event): inlined.
        value = self.value if name is None else self.value[name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            self.fail(name, self._found(f"must be {expected}", show(value)))
        return value

    def choice(self, name: Name, choices: tuple[str, ...]) -> str:
        """One of ``choices``."""
        value = self._at(name)
        if not isinstance(value, str) or value not in choices:
            wanted = f'"{choices[0]}"' if len(choices) == 1 else f"one of {', '.join(choices)}"
            self.fail(name, f"must be {wanted}")
        return value

    def flag(self, name: Name) -> bool:
        """true or false."""
        value = self._at(name)
        if not isinstance(value, bool):
            self.fail(name, "must be true or false")
        return value

    def number(self, name: Name) -> int | float:
        """A finite number >= 0; a boolean is not a number."""
        value = self._at(name)
        if type(value) is float:
            if not math.isfinite(value):
                self.fail(name, "must be a finite number")
        elif type(value) is not int:
            self.fail(name, "must be a number")
        if value < 0:
            self.fail(name, "must be >= 0")
        number: int | float = value
        return number

    def integer(self, name: Name, low: int, high: int = MAX_JSON_INT,
                expected: str | None = None) -> int:
        """An integer from ``low`` to ``high``; a boolean is not one.

        With ``expected`` every failure says "must be <expected>"; without, the
        message tells a wrong type from a number out of range.
        """
        value = self._at(name)
        if type(value) is not int:
            self.fail(name, f"must be {expected}" if expected else
                      self._found("must be an integer", json_type(value)))
        if not low <= value <= high:
            self.fail(name, f"must be {expected}" if expected else
                      self._found(f"must be between {low} and {high}", str(value)))
        return value

    def timestamp_ms(self, name: Name, expected: str = "a non-negative integer (ms)") -> int:
        """Milliseconds since the Unix epoch, exact in JSON."""
        return self.integer(name, 0, MAX_JSON_INT, expected)

    def timestamp(self, name: Name) -> str:
        """An RFC 3339 UTC time ``YYYY-MM-DDTHH:MM:SSZ`` of a real date."""
        value = self._at(name)
        if not isinstance(value, str) or not (found := _TIMESTAMP.fullmatch(value)):
            self.fail(name, "must be an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ")
        month, day = int(found[1]), int(found[2])
        if day > _DAYS_IN_MONTH[month] or (
            month == 2 and day == 29 and not is_leap_year(int(value[:4]))
        ):
            self.fail(name, f"{value} is not a real date")
        return value

    def hex_bytes(self, name: Name, pattern: re.Pattern[str] = HASH,
                  expected: str = "0x and 64 lower-case hex digits") -> bytes:
        """The bytes of a ``0x`` hex string matching ``pattern`` (by default a 32-byte hash)."""
        return bytes.fromhex(self.match(name, pattern, expected)[2:])

    def address(self, name: Name) -> str:
        """An EVM address as written: all lower case, or mixed case with a valid EIP-55
        checksum."""
        text = self.match(name, ADDRESS, "an address: 0x and 40 hex digits")
        digits = text[2:]
        if digits != digits.lower() and checksummed(text) != text:
            self.fail(name, f"has a wrong EIP-55 checksum (expected {checksummed(text)})")
        return text

    def checksummed_address(self, name: Name) -> str:
        """An EVM address as `address` accepts it, returned in its EIP-55 spelling."""
        return checksummed(self.address(name))

    def _at(self, name: Name) -> Any:
        return self.value if name is None else self.value[name]

    def _found(self, message: str, found: str) -> str:
        return f"{message}, got {found}" if self.got else message
