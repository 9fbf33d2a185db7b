"""Checking answers against the OpenAPI document: one place for the fuzz test, the
route-by-route response test and the document's own unit tests."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from functools import cache, lru_cache
from typing import Any

import jsonschema

from ledger.api.openapi import openapi_document

DOC = openapi_document()


def validator(schema: Any) -> jsonschema.Draft202012Validator:
    """A 2020-12 validator of `schema` whose ``#/components/...`` references name the
    document's components (and the JSON Schema meta-schema resolves offline)."""
    return _validator(json.dumps(schema, sort_keys=True))


@cache
def _validator(schema_json: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_json)
    rooted = {**schema, "components": DOC["components"]} if isinstance(schema, dict) else schema
    return jsonschema.Draft202012Validator(
        rooted, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def operation(method: str, path: str) -> Any:
    """The document's operation for `method` on the route `path` (a template)."""
    return DOC["paths"][path][method.lower()]


def answer_problems(method: str, path: str, status: int, media: str, body: bytes) -> list[str]:
    """Why this answer is not one the document gives the operation (empty: it is)."""
    return list(_problems(method, path, status, media, body))


# Fuzzed requests often get the same answer: the OpenAPI document, checked against the
# JSON Schema meta-schema, costs half a second each time.
@lru_cache(maxsize=256)
def _problems(method: str, path: str, status: int, media: str, body: bytes
              ) -> tuple[str, ...]:
    where = f"{method} {path} -> {status}"
    answers = operation(method, path)["responses"]
    if str(status) not in answers:
        return (f"{where}: status not declared ({sorted(answers)})",)
    content = answers[str(status)].get("content", {})
    if not content:  # a bodiless answer (204, 304): whatever type the server named
        return () if not body else (f"{where}: a body where the document declares none",)
    if media not in content:
        return (f"{where}: {media} not declared ({sorted(content)})",)
    schema = content[media].get("schema")
    if media.endswith(("/xml", "+xml")):
        try:
            ElementTree.fromstring(body)  # our own answer: no entity tricks to fear
        except ElementTree.ParseError as exc:
            return (f"{where}: not well-formed XML: {exc}",)
    if media != "application/json" or schema is None:
        return ()
    return tuple(f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
                 for e in validator(schema).iter_errors(json.loads(body)))
