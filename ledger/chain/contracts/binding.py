"""Contract bindings generated from forge's ABI: call data, return values, event logs and
custom errors, each looked up by NAME, so no Python module types a signature by hand.

The ABI of `ledger.chain.contracts.artifacts` is the one declaration; selectors, topics
and ABI types are derived from it by eth-utils, and values are encoded and decoded by
eth-abi. A name the ABI lacks (a contract changed under its client) is a ChainError
naming it, raised when the call is built, not a wrong selector on chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_abi.grammar import parse as parse_type
from eth_typing import ABIError, ABIEvent, ABIFunction
from eth_utils.abi import (
    collapse_if_tuple,
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
)

from ledger.errors import ChainError

#: A contract ABI as forge writes it: a list of JSON objects.
ABI = Sequence[Mapping[str, Any]]


def _by_name(abi: ABI, kind: str) -> dict[str, Mapping[str, Any] | None]:
    """The ``kind`` entries of ``abi`` by name; an overloaded name maps to None, since a
    name alone cannot choose among its signatures."""
    items: dict[str, Mapping[str, Any] | None] = {}
    for item in abi:
        if item.get("type") == kind:
            name = str(item["name"])
            items[name] = None if name in items else item
    return items


def _input_names(item: Mapping[str, Any]) -> list[str]:
    return [str(arg.get("name") or f"arg{i}") for i, arg in enumerate(item.get("inputs", []))]


class CustomErrors:
    """The custom errors of one or more ABIs, by 4-byte selector."""

    def __init__(self, abis: Iterable[ABI]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                error = cast(ABIError, item)
                self._errors[function_abi_to_4byte_selector(error)] = (
                    str(item["name"]), list(get_abi_input_types(error)), _input_names(item),
                )

    def decode(self, data: bytes) -> tuple[str, list[tuple[str, Any]]] | None:
        """The error's name and its (argument name, value) pairs in order; None when
        ``data`` is not one of these errors or does not decode."""
        entry = self._errors.get(data[:4])
        if entry is None:
            return None
        name, types, names = entry
        try:
            values = abi_decode(types, data[4:])
        except (DecodingError, OverflowError, ValueError):
            return None
        return name, list(zip(names, values, strict=True))


class ContractBinding:
    """One contract's ABI, addressed by function, event and error name."""

    def __init__(self, contract: str, abi: ABI) -> None:
        self.contract = contract
        self.abi = tuple(abi)
        self._functions = _by_name(abi, "function")
        self._events = _by_name(abi, "event")
        self.errors = CustomErrors([abi])
        # Selector and argument types per function, derived once: clients encode per call.
        self._calls: dict[str, tuple[bytes, list[str]]] = {}

    def function(self, name: str) -> ABIFunction:
        """The ABI entry of function ``name``; ChainError if the contract has none."""
        return cast(ABIFunction, self._entry(self._functions, "function", name))

    def event(self, name: str) -> ABIEvent:
        """The ABI entry of event ``name``; ChainError if the contract has none."""
        return cast(ABIEvent, self._entry(self._events, "event", name))

    def input_types(self, function: str) -> list[str]:
        """The ABI types of ``function``'s arguments (tuples as ``(t1,t2)``)."""
        return list(get_abi_input_types(self.function(function)))

    def signature(self, function: str) -> str:
        """``name(type,...)`` of ``function``, as messages show it."""
        return f"{function}({','.join(self.input_types(function))})"

    def encode_call(self, function: str, *args: Any) -> bytes:
        """Call data of ``function(*args)``: selector and ABI-encoded arguments (structs
        as tuples in declaration order)."""
        if function not in self._calls:
            item = self.function(function)
            self._calls[function] = (function_abi_to_4byte_selector(item),
                                     list(get_abi_input_types(item)))
        selector, types = self._calls[function]
        return selector + abi_encode(types, list(args))

    def encode_constructor(self, *args: Any) -> bytes:
        """The ABI-encoded constructor arguments, which follow the creation bytecode."""
        return abi_encode([collapse_if_tuple(dict(arg)) for arg in self.constructor_inputs()],
                          list(args))

    def constructor_inputs(self) -> list[Mapping[str, Any]]:
        """The constructor's ABI inputs (empty when it takes none)."""
        return next((list(i.get("inputs", [])) for i in self.abi
                     if i.get("type") == "constructor"), [])

    def decode_return(self, function: str, data: bytes) -> tuple[Any, ...]:
        """The values ``function`` returned, in ABI order (a struct as one tuple)."""
        return tuple(abi_decode(list(get_abi_output_types(self.function(function))), data))

    def topic(self, event: str) -> bytes:
        """The first topic of ``event``'s logs: the hash of its signature."""
        return bytes(event_abi_to_log_topic(self.event(event)))

    def decode_log(self, event: str, log: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments of one ``event`` log by name: indexed ones from its topics (a
        dynamic indexed value is only its 32-byte hash there), the rest from its data."""
        item = self.event(event)
        inputs = item.get("inputs", [])
        topics = [bytes(t) for t in log["topics"][1:]]
        indexed = [arg for arg in inputs if arg.get("indexed")]
        plain = [arg for arg in inputs if not arg.get("indexed")]
        if len(topics) != len(indexed):
            raise ChainError(f"a {event} log has {len(topics)} indexed topics, "
                             f"its ABI {len(indexed)}")
        values = {str(arg["name"]): _topic_value(collapse_if_tuple(dict(arg)), topic)
                  for arg, topic in zip(indexed, topics, strict=True)}
        types = [collapse_if_tuple(dict(arg)) for arg in plain]
        values.update(zip((str(arg["name"]) for arg in plain),
                          abi_decode(types, bytes(log["data"])), strict=True))
        return values

    def decode_error(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """A custom error's name and arguments by name (``("", {})`` when not one of
        this contract's)."""
        found = self.errors.decode(data)
        return ("", {}) if found is None else (found[0], dict(found[1]))

    def _entry(self, entries: Mapping[str, Mapping[str, Any] | None], kind: str, name: str
               ) -> Mapping[str, Any]:
        if name not in entries:
            raise ChainError(f"{self.contract} has no {kind} {name!r} in its ABI")
        item = entries[name]
        if item is None:
            raise ChainError(f"{self.contract} overloads {kind} {name!r}: its name is ambiguous")
        return item


def _topic_value(kind: str, topic: bytes) -> Any:
    if parse_type(kind).is_dynamic:
        return topic
    return abi_decode([kind], topic)[0]
