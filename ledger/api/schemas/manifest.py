"""The manifest's JSON Schema, read from its one declaration, docs/manifest.schema.json.

The document is served with its ``$defs`` inlined: inside the OpenAPI document a
``#/$defs/…`` reference would name the OpenAPI document's root, not the manifest's.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import ledger

#: docs/ sits beside the package in the source tree the service runs from.
SCHEMA_FILE = Path(ledger.__file__).resolve().parent.parent / "docs" / "manifest.schema.json"
_DEFS_PREFIX = "#/$defs/"
# Keywords that name or date the file itself, not the shape of a manifest.
_FILE_KEYWORDS = ("$schema", "$id", "title")


@cache
def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


def manifest_schema() -> dict[str, Any]:
    """The manifest schema, self-contained (no ``$defs``, no references)."""
    document = _document()
    defs = document["$defs"]
    body = {k: v for k, v in document.items() if k not in (*_FILE_KEYWORDS, "$defs")}
    inlined: dict[str, Any] = _inline(body, defs)
    return inlined


def manifest_part(definition: str) -> dict[str, Any]:
    """The manifest schema's definition `definition` (``asset``, ``creator``…), self-contained."""
    document = _document()
    part: dict[str, Any] = _inline(document["$defs"][definition], document["$defs"])
    return part


def manifest_member(member: str) -> dict[str, Any]:
    """The manifest schema's top-level member `member` (``createdAt``…), self-contained."""
    document = _document()
    part: dict[str, Any] = _inline(document["properties"][member], document["$defs"])
    return part


def manifest_pattern(definition: str, member: str) -> str:
    """The ``pattern`` of `member` in the manifest schema's definition `definition`."""
    pattern: str = _document()["$defs"][definition]["properties"][member]["pattern"]
    return pattern


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    target = node.get("$ref")
    if isinstance(target, str) and target.startswith(_DEFS_PREFIX):
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**defs[target.removeprefix(_DEFS_PREFIX)], **rest}, defs)
    return {key: _inline(value, defs) for key, value in node.items()}
