"""The OpenAPI document: one operation per route, every shape declared (no bare
objects), every reference resolving, and the patterns the core's own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from ledger.api.app import page_routes, routes
from ledger.api.openapi import operations, page_operations
from ledger.api.schemas.manifest import SCHEMA_FILE
from ledger.core.fields import DEPLOYMENT
from ledger.core.manifest import CREATOR_ID_PATTERN
from ledger.core.royalty import events
from tests.contract import DOC, validator

#: Keywords whose value is one subschema, a list of them, or a map of them.
_ONE = ("items", "additionalProperties", "not", "propertyNames")
_LIST = ("oneOf", "anyOf", "allOf", "prefixItems")
_MAP = ("properties", "$defs")


def subschemas(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """`schema` and every schema inside it, each with where it is."""
    if not isinstance(schema, dict):
        return
    yield where, schema
    for key in _ONE:
        yield from subschemas(schema.get(key), f"{where}/{key}")
    for key in _LIST:
        for i, member in enumerate(schema.get(key, [])):
            yield from subschemas(member, f"{where}/{key}/{i}")
    for key in _MAP:
        for name, member in schema.get(key, {}).items():
            yield from subschemas(member, f"{where}/{key}/{name}")


def document_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema in the document: components, parameters, bodies and answers."""
    for name, schema in DOC["components"]["schemas"].items():
        yield from subschemas(schema, f"#/components/schemas/{name}")
    for path, item in DOC["paths"].items():
        for method, spec in item.items():
            where = f"{method.upper()} {path}"
            for param in spec.get("parameters", []):
                yield from subschemas(param["schema"], f"{where} {param['name']}")
            bodies = [("request", spec.get("requestBody", {}))]
            bodies += [(status, answer) for status, answer in spec["responses"].items()]
            for label, body in bodies:
                for media, content in body.get("content", {}).items():
                    yield from subschemas(content.get("schema"), f"{where} {label} {media}")


def is_object(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    return kinds == "object" or (isinstance(kinds, list) and "object" in kinds)


def test_every_route_has_one_operation() -> None:
    routed = sorted((r.method, r.path) for r in routes())  # type: ignore[attr-defined]
    declared = sorted((op.method, op.path) for op in operations())
    assert routed == declared
    ids = [op.operation_id for op in [*operations(), *page_operations()]]
    assert len(set(ids)) == len(ids)


def test_every_page_but_the_verifiers_has_one_operation() -> None:
    routed = sorted((r.method, r.path) for r in page_routes()  # type: ignore[attr-defined]
                    if r.path != "/verify")  # type: ignore[attr-defined]
    assert routed == sorted((op.method, op.path) for op in page_operations())


def test_form_bodies_are_declared_as_forms() -> None:
    bodies = {op.path: op.to_openapi()["requestBody"]["content"]
              for op in page_operations() if op.request is not None}
    assert list(bodies["/olp/token"]) == ["application/x-www-form-urlencoded"]
    assert list(bodies["/olp/introspect"]) == ["application/x-www-form-urlencoded"]
    assert list(bodies["/olp/register"]) == ["application/json"]


def test_path_parameters_match_the_path() -> None:
    for op in [*operations(), *page_operations()]:
        named = {p["name"] for p in op.parameters if p["in"] == "path"}
        assert named == op.path_names, op.path


#: Free-form by design: a manifest's ``extensions`` are signed but never read.
# Extensions are free-form wherever a manifest part (header, asset entry) is declared.
FREE_FORM = re.compile(
    r"#/components/schemas/(?:Manifest|ManifestHeader|Chunk|AssetProof|Evidence)/(?:.*/)?properties/extensions")


def test_no_object_is_left_bare() -> None:
    """An object lists its members (``properties``), or is a map whose values have a
    declared shape (``additionalProperties`` as a schema)."""
    bare = [where for where, schema in document_schemas() if is_object(schema)
            and "properties" not in schema
            and not isinstance(schema.get("additionalProperties"), dict)]
    assert [where for where in bare if not FREE_FORM.fullmatch(where)] == []


def test_closed_objects_say_which_members_are_required() -> None:
    for where, schema in document_schemas():
        if schema.get("additionalProperties") is False:
            assert set(schema.get("required", [])) <= set(schema["properties"]), where


def test_every_answer_has_a_body_shape() -> None:
    for path, item in DOC["paths"].items():
        for method, spec in item.items():
            for status, answer in spec["responses"].items():
                content = answer["content"]
                # 204 No Content and 304 Not Modified have no body, by definition
                # (RFC 9110 15.3.5, 15.4.5).
                assert content or status in ("204", "304"), (method, path, status)
                json_body = content.get("application/json")
                assert json_body is None or "schema" in json_body, (method, path, status)


def test_schemas_are_valid_and_references_resolve() -> None:
    refs: set[str] = set()
    for _, schema in document_schemas():
        jsonschema.Draft202012Validator.check_schema(schema)
        if "$ref" in schema:
            refs.add(schema["$ref"])
    local = {r for r in refs if r.startswith("#/")}
    assert local <= {f"#/components/schemas/{n}" for n in DOC["components"]["schemas"]}
    assert refs - local == {"https://json-schema.org/draft/2020-12/schema"}


def test_the_document_matches_its_own_declared_shape() -> None:
    schema = DOC["paths"]["/v1/openapi.json"]["get"]["responses"]["200"]["content"]
    errors = list(validator(schema["application/json"]["schema"]).iter_errors(DOC))
    assert errors == []
    json.dumps(DOC, allow_nan=False)


def patterns(prefix: str) -> set[str]:
    return {s["pattern"] for _, s in document_schemas()
            if s.get("pattern", "").startswith(prefix)}


def test_creator_id_pattern_is_the_cores() -> None:
    assert patterns("^creator:") == {f"^{CREATOR_ID_PATTERN}$"}


@pytest.mark.parametrize(("component", "member", "core"), [
    ("UsageEvent", "eventId", events._EVENT_ID),
    ("UsageEvent", "time", events._TIME),
    ("CreatorAction", "deployment", DEPLOYMENT),
])
def test_patterns_the_core_keeps_private_agree(component: str, member: str,
                                               core: re.Pattern[str]) -> None:
    declared = DOC["components"]["schemas"][component]["properties"][member]["pattern"]
    assert declared == f"^{core.pattern}$"


def test_the_manifest_is_the_manifest_schema() -> None:
    """Served self-contained: the file's own definitions inlined, nothing else changed."""
    schema = json.loads(SCHEMA_FILE.read_text())
    served = DOC["components"]["schemas"]["Manifest"]
    assert served["properties"]["creator"] == schema["$defs"]["creator"]
    assert served["required"] == schema["required"]
    assert "$ref" not in json.dumps(served)
