"""Every operation of the OpenAPI document, fuzzed against one live service.

For each operation the document lists (so a new endpoint is fuzzed without touching
this file), four kinds of request: schema-valid but semantically random ones, mixed
with a few good ones so handlers get past their first check; schema-invalid ones
(wrong types, missing and unknown members, refused parameters); garbage (bytes,
truncation, bad UTF-8, deep nesting, huge numbers, odd content types and encodings;
for a form body, bad %-escapes, repeated and huge parameters);
odd parameters (path parameters of the wrong length, non-hex, unicode, %-encoded
slashes; odd query strings and headers). Every answer must be one the document gives
the operation: a documented status, no 5xx but a documented 503, a body matching
the documented schema (the JSON error body on every 4xx, or the OAuth error where the
document says so; well-formed XML where it names an XML type).

Requests are generated from the document's own schemas by `schema_values`, a small
generator for the JSON Schema subset the document uses: an unknown keyword fails the
operation's tests, so nothing goes unfuzzed quietly. (hypothesis-jsonschema 0.23.1,
the obvious choice, reaches into Hypothesis internals that 6.170 no longer has.)
Answers are checked with `jsonschema` (`tests.contract`, shared with the route-by-route
response test). Hypothesis runs derandomized without an
example database; each request goes out through `http.client` from a worker thread,
so its target and bytes are sent exactly as generated while the service keeps
serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.api.app import page_routes, routes
from ledger.cli.client import LedgerClient
from ledger.core.canonical import canonicalize
from ledger.core.creators import sign_action
from ledger.core.hashing import checksum_address
from ledger.core.royalty.auth import request_headers
from ledger.core.signing import sign_manifest
from ledger.errors import LedgerError
from ledger.run.serve import running
from tests.contract import DOC, answer_problems, validator
from tests.integration.service.conftest import FAST, Running, now_ms, p256, register, wait_for_proof
from tests.unit.app.licensing_world import LICENCE, registration

pytestmark = [pytest.mark.chain, pytest.mark.asyncio(loop_scope="module")]

FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SECRET = bytes(range(32))
SOURCE = "fuzz-1"
USAGE_KEYS = json.dumps({"version": "ledger-usage-keys/1",
                         "sources": {SOURCE: [{"id": "k1", "secret": SECRET.hex()}]}})
HMAC_HEADERS = ("X-Ledger-Source", "X-Ledger-Timestamp", "X-Ledger-Signature")
#: The request bodies the document declares: a JSON document, or a form (OLP's OAuth routes).
JSON_BODY, FORM_BODY = "application/json", "application/x-www-form-urlencoded"
#: Routed but left out of the document (the static verifier page, tests/unit/api/test_openapi.py).
UNDOCUMENTED = {"GET /verify"}
Headers = tuple[tuple[str, str | bytes], ...]


# -- the document --------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One (method, path) of the document: what it takes and what it answers."""

    method: str
    path: str
    spec: Mapping[str, Any]

    @property
    def id(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def params(self, where: str) -> list[Mapping[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p["in"] == where]

    @property
    def body_media(self) -> str | None:
        """The media type of the request body (None: the operation takes none)."""
        body = self.spec.get("requestBody")
        return None if body is None else next(iter(body["content"]))

    @property
    def body_schema(self) -> Any:
        media = self.body_media
        return None if media is None else inline(
            self.spec["requestBody"]["content"][media]["schema"])

    @property
    def signed(self) -> bool:
        """Usage intake: each request carries its source's HMAC headers."""
        return {p["name"] for p in self.params("header")} >= set(HMAC_HEADERS)

    def unsupported(self) -> list[str]:
        """What this module cannot generate for the operation (must stay empty)."""
        problems = [f"parameter in {p['in']}" for p in self.spec.get("parameters", [])
                    if p["in"] not in ("path", "query", "header")]
        body = self.spec.get("requestBody")
        if body is not None and set(body["content"]) not in ({JSON_BODY}, {FORM_BODY}):
            problems.append(f"request body as {sorted(body['content'])}")
        names = {p["name"] for p in self.params("path")}
        if names != set(re.findall(r"\{([^{}/]+)\}", self.path)):
            problems.append(f"path parameters {sorted(names)} for {self.path}")
        schemas = [p["schema"] for p in self.spec.get("parameters", [])]
        for schema in schemas + ([self.body_schema] if body is not None else []):
            try:
                schema_values(schema)
            except UnsupportedSchema as exc:
                problems.append(str(exc))
        return problems


def operations() -> list[Operation]:
    """Every operation in the document, in document order."""
    return [Operation(method, path, spec) for path, item in DOC["paths"].items()
            for method, spec in item.items()]


def inline(schema: Any, depth: int = 0) -> Any:
    """`schema` with every local `$ref` replaced by what it names (another stays, and
    `schema_values` refuses it)."""
    if depth > 32:
        raise RecursionError("recursive $ref in the OpenAPI document")
    if isinstance(schema, list):
        return [inline(s, depth) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if not str(schema.get("$ref", "")).startswith("#/"):
        return {k: inline(v, depth) for k, v in schema.items()}
    target: Any = DOC
    for part in schema["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    rest = {k: v for k, v in schema.items() if k != "$ref"}
    return inline({**target, **rest}, depth + 1)


# -- values from schemas -------------------------------------------------------------------

SCHEMA_KEYWORDS = frozenset({"type", "properties", "required", "additionalProperties", "items",
                             "enum", "const", "pattern", "minimum", "maximum", "oneOf",
                             "anyOf", "not", "minItems", "maxItems", "uniqueItems",
                             "minLength", "maxLength", "description"})
#: Arrays and free strings are drawn short: their limits only shape the bytes sent.
MAX_DRAWN = 4
JSON_LEAVES = (st.none() | st.booleans() | st.integers() | st.text(max_size=20)
               | st.floats(allow_nan=False, allow_infinity=False))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)


class UnsupportedSchema(Exception):
    """The document uses a schema keyword `schema_values` cannot generate for."""


def schema_values(schema: Any) -> st.SearchStrategy[Any]:
    """Values valid against `schema`, a JSON Schema in the subset the document uses."""
    return _schema_values(json.dumps(inline(schema), sort_keys=True))


@cache
def _schema_values(schema_json: str) -> st.SearchStrategy[Any]:
    schema = json.loads(schema_json)
    unknown = set(schema) - SCHEMA_KEYWORDS
    if unknown:
        raise UnsupportedSchema(f"keywords {sorted(unknown)} in {schema}")
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        branches = schema["oneOf"]
        return st.one_of([schema_values(b) for b in branches]).filter(
            lambda v: sum(is_valid(b, v) for b in branches) == 1)
    if "anyOf" in schema:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return st.one_of([schema_values(_merged(rest, b)) for b in schema["anyOf"]])
    if "not" in schema:
        rest = {k: v for k, v in schema.items() if k != "not"}
        return schema_values(rest).filter(lambda v: not is_valid(schema["not"], v))
    kinds = schema.get("type")
    if kinds is None:
        return JSON_VALUES
    if isinstance(kinds, list):
        return st.one_of([schema_values({**schema, "type": k}) for k in kinds])
    return _typed_values(schema, kinds)


def _merged(schema: dict[str, Any], branch: dict[str, Any]) -> dict[str, Any]:
    """`schema` narrowed by one `anyOf` branch (required members add up)."""
    required = [*schema.get("required", []), *branch.get("required", [])]
    merged = {**schema, **branch}
    if required:
        merged["required"] = sorted(set(required))
    return merged


def _typed_values(schema: dict[str, Any], kind: str) -> st.SearchStrategy[Any]:
    if kind == "string":
        return _strings(schema)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "array":
        items = schema.get("items")
        least = schema.get("minItems", 0)
        values = JSON_VALUES if items is None else schema_values(items)
        return st.lists(values, min_size=least,
                        max_size=min(schema.get("maxItems", MAX_DRAWN), least + MAX_DRAWN),
                        unique_by=(lambda v: json.dumps(v, sort_keys=True))
                        if schema.get("uniqueItems") else None)
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        members = st.fixed_dictionaries(
            {k: schema_values(v) for k, v in properties.items() if k in required},
            optional={k: schema_values(v) for k, v in properties.items() if k not in required})
        additional = schema.get("additionalProperties", True)
        if additional is False:
            return members
        extra = st.dictionaries(st.text(max_size=12).filter(lambda k: k not in properties),
                                JSON_VALUES if additional is True
                                else schema_values(additional), max_size=3)
        return st.tuples(extra, members).map(lambda pair: {**pair[0], **pair[1]})
    least = schema.get("minimum")
    simple = {"null": st.none(), "boolean": st.booleans(),
              "number": st.floats(least, allow_nan=False, allow_infinity=False)
              | st.integers(None if least is None else math.ceil(least))}
    if kind not in simple:
        raise UnsupportedSchema(f"type {kind!r}")
    return simple[kind]


def _strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    least, most = schema.get("minLength", 0), schema.get("maxLength")
    if "pattern" not in schema:
        return st.text(min_size=least, max_size=least + MAX_DRAWN if most is None
                       else min(most, least + 20))
    drawn = pattern_values(schema["pattern"])
    if least or most is not None:
        drawn = drawn.filter(lambda t: least <= len(t) <= (most or len(t)))
    return drawn


# The document's patterns are literals and [classes]{m,n}: drawing those as whole
# strings is ~50x faster than `st.from_regex`, which draws character by character.
_SIMPLE_PATTERN = re.compile(r"\^(?:\[[^\]]+\](?:\{\d+(?:,\d+)?\})?|[A-Za-z0-9:])*\$")
_PIECE = re.compile(r"\[([^\]]+)\](?:\{(\d+)(?:,(\d+))?\})?|([A-Za-z0-9:])")


def pattern_values(pattern: str) -> st.SearchStrategy[str]:
    """Strings matching an anchored `pattern`."""
    if not _SIMPLE_PATTERN.fullmatch(pattern):
        return st.from_regex(pattern, fullmatch=True)
    pieces = []
    for cls, low, high, literal in _PIECE.findall(pattern[1:-1]):
        if literal:
            pieces.append(st.just(literal))
            continue
        least = int(low) if low else 1
        pieces.append(st.text(_expand(cls), min_size=least, max_size=int(high or least)))
    return st.tuples(*pieces).map("".join)


def _expand(cls: str) -> str:
    out, i = [], 0
    while i < len(cls):
        if i + 2 < len(cls) and cls[i + 1] == "-":
            out += [chr(c) for c in range(ord(cls[i]), ord(cls[i + 2]) + 1)]
            i += 3
        else:
            out.append(cls[i])
            i += 1
    return "".join(out)


def is_valid(schema: Any, value: Any) -> bool:
    return bool(validator(schema).is_valid(value))


def param_valid(schema: Mapping[str, Any], text: str) -> bool:
    """Whether a parameter's text is valid against its schema."""
    if schema.get("type") == "integer":
        return re.fullmatch(r"-?[0-9]+", text) is not None and is_valid(schema, int(text))
    return is_valid(schema, text)



# -- requests and answers ------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """Bytes on the wire: the request target is sent exactly as it is."""

    method: str
    target: str
    headers: Headers = ()
    body: bytes | None = None
    #: The path was made to address the operation, not to miss its route.
    routed: bool = True
    #: Broken HTTP that aiohttp may refuse itself, before any route runs, in plain text.
    http_layer: bool = False


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes

    def error(self) -> Any:
        return json.loads(self.body)["error"]


def send(url: str, request: Request) -> Reply:
    """One request on a fresh connection (garbage may leave a connection unusable)."""
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.putrequest(request.method, request.target, skip_accept_encoding=True)
        for name, value in request.headers:
            connection.putheader(name, value)
        if request.body is not None:
            connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body)
        response = connection.getresponse()
        media = (response.getheader("Content-Type") or "").split(";")[0].strip()
        return Reply(response.status, media, response.read())
    finally:
        connection.close()


def check(op: Operation, request: Request, reply: Reply) -> None:
    """The answer is one the document gives `op`."""
    where = f"{op.id}: {request.method} {request.target[:200]!r} -> {reply.status}"
    if request.http_layer and reply.status >= 400 and reply.content_type != "application/json":
        assert reply.status < 500, where
        return
    if reply.status >= 400:
        # The error body's shape is the one documented for the status (`answer_problems`):
        # the house error, or an OAuth error on the OLP routes.
        assert reply.content_type == "application/json", f"{where}: {reply.body[:200]!r}"
    if str(reply.status) not in op.spec["responses"]:
        # Only a path made to miss the route may get the router's own 404.
        assert reply.status == 404 and not request.routed and _from_router(reply), \
            f"{where}: status not documented ({sorted(op.spec['responses'])})"
        errors = [e.message for e in ERROR.iter_errors(json.loads(reply.body))]
        assert not errors, f"{where}: error body {reply.body[:200]!r}: {errors}"
        return
    assert reply.status < 500 or reply.status == 503, where
    problems = answer_problems(op.method.upper(), op.path, reply.status, reply.content_type,
                               reply.body)
    assert not problems, f"{where}: {problems[:3]}"


ERROR = validator({"$ref": "#/components/schemas/Error"})


def _from_router(reply: Reply) -> bool:
    """The router answered (no route matched), not the operation's handler."""
    error = json.loads(reply.body).get("error") if reply.body[:1] == b"{" else None
    return reply.status in (404, 405) and isinstance(error, dict) and error.get(
        "message") in ("Not Found", "Method Not Allowed")


# -- the parts of a request ----------------------------------------------------------------


@dataclass(frozen=True)
class Seeds:
    """Good values from the fixture's world, mixed into generated requests."""

    params: Mapping[str, Sequence[str]]
    bodies: Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class Parts:
    """Strategies for one operation's valid parts, built once per run."""

    op: Operation
    paths: st.SearchStrategy[dict[str, str]]
    query: st.SearchStrategy[dict[str, str]]
    body: st.SearchStrategy[Any]
    headers: st.SearchStrategy[Headers]

    @classmethod
    def of(cls, op: Operation, seeds: Seeds) -> Parts:
        def text(param: Mapping[str, Any]) -> st.SearchStrategy[str]:
            known = seeds.params.get(param["name"], ())
            return _seeded(known, schema_values(param["schema"]).map(_param_text))

        paths = st.fixed_dictionaries({
            p["name"]: text(p).filter(lambda t: t not in (".", "..")).map(quote)
            for p in op.params("path")})
        query = st.fixed_dictionaries(
            {p["name"]: text(p) for p in op.params("query") if p.get("required")},
            optional={p["name"]: text(p) for p in op.params("query") if not p.get("required")})
        body = st.none() if op.body_schema is None else _seeded(
            seeds.bodies.get(op.id, ()), schema_values(op.body_schema))
        visible_ascii = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                                max_size=80)
        headers = st.tuples(*(st.tuples(st.just(p["name"]), visible_ascii)
                              for p in op.params("header")))
        return cls(op, paths, query, body, headers)

    def request(self, paths: Mapping[str, str], query: Mapping[str, str] | str,
                headers: Headers, body: bytes | None, *, routed: bool = True,
                http_layer: bool = False) -> Request:
        path = self.op.path
        for name, value in paths.items():
            path = path.replace("{" + name + "}", value)
        if not isinstance(query, str):
            query = "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
        target = path + ("?" + query if query else "")
        http_layer = http_layer or _breaks_http(target, headers)
        return Request(self.op.method.upper(), target, headers, body, routed, http_layer)


LINE_MAX = 8190  # aiohttp's longest request or header line
_HEADER_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def _breaks_http(target: str, headers: Headers) -> bool:
    """aiohttp refuses the request itself, before routing: a line too long, or a control
    character in a header value."""
    values = [v if isinstance(v, bytes) else v.encode("latin-1") for _, v in headers]
    return len(target) > LINE_MAX - 20 or any(
        len(v) > LINE_MAX - 50 or _HEADER_CONTROL.search(v) for v in values)


def _seeded(seeds: Sequence[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(list(seeds)) | other if seeds else other


def _param_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


def encode_json(value: Any) -> bytes:
    """Canonical bytes where the value has them, else plain JSON (the service says 400)."""
    try:
        return canonicalize(value)
    except LedgerError:
        return json.dumps(value).encode()


def encode_body(op: Operation, value: Any) -> bytes:
    """`value` as the operation's body: a form's parameters urlencoded, else JSON."""
    return encode_form(value) if op.body_media == FORM_BODY else encode_json(value)


def encode_form(value: Any) -> bytes:
    """A form of `value`'s members (other values as their text: the service says 400)."""
    if not isinstance(value, dict):
        return quote(_param_text(value)).encode()
    return urllib.parse.urlencode(
        {k: v if isinstance(v, str) else _param_text(v) for k, v in value.items()}).encode()


def signed_headers(body: bytes | None) -> Headers:
    """The HMAC headers of the fixture's metering source over `body`, signed now."""
    made = request_headers(SECRET, SOURCE, body or b"", int(time.time()))
    return tuple((k, v) for k, v in made.items() if k != "Content-Type")


def json_type(body: bytes | None, content_type: str | bytes | None = "application/json"
              ) -> Headers:
    return () if body is None or content_type is None else (("Content-Type", content_type),)


# -- (a) schema-valid requests -------------------------------------------------------------


def valid_requests(parts: Parts) -> st.SearchStrategy[Request]:
    """Valid against the document; good values from the seeds now and then."""
    op = parts.op

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        value = draw(parts.body)
        body = None
        if op.body_schema is not None:
            assert is_valid(op.body_schema, value), f"generator broke the schema: {value}"
            body = encode_body(op, value)
        signed = op.signed and draw(st.booleans())
        headers = signed_headers(body) if signed else draw(parts.headers)
        return parts.request(draw(parts.paths), draw(parts.query),
                             headers + json_type(body, op.body_media), body)

    return build()


# -- (b) schema-invalid requests -----------------------------------------------------------


def invalid_requests(parts: Parts) -> st.SearchStrategy[Request]:
    """Bodies and parameters the document's schemas refuse (often good ones, broken)."""
    op = parts.op
    bad_params = [st.tuples(st.just(p), _refused_text(p["schema"]))
                  for p in op.params("path") + op.params("query") if _refusable(p["schema"])]

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        paths, query, body = dict(draw(parts.paths)), dict(draw(parts.query)), None
        routed = True
        if op.body_schema is not None:
            body = encode_body(op, draw(mutated(draw(parts.body))))
        elif bad_params and draw(st.integers(0, 3)) > 0:
            param, bad = draw(st.one_of(bad_params))
            if param["in"] == "path":
                paths[param["name"]] = quote(bad) if bad not in ("", ".", "..") else "%2E%2E"
                routed = False
            elif draw(st.booleans()):
                query[param["name"]] = bad
            else:
                query.pop(param["name"], None)  # left out, required or not
        else:
            query[draw(st.text(min_size=1, max_size=10))] = draw(st.text(max_size=10))
        signed = op.signed and draw(st.booleans())
        headers = signed_headers(body) if signed else draw(parts.headers)
        return parts.request(paths, query, headers + json_type(body, op.body_media), body,
                             routed=routed)

    return build()


def _refused_text(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    texts = st.one_of(st.text(max_size=70), st.integers().map(str),
                      st.sampled_from(["", "-1", "1.5", "true", "null", "0x", "x" * 300]))
    return texts.filter(lambda t: not param_valid(schema, t))


def _refusable(schema: Mapping[str, Any]) -> bool:
    """Some text is not valid against this parameter schema."""
    return schema.get("type", "string") != "string" or any(
        k in schema for k in ("pattern", "enum", "const"))


def _locations(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, member in value.items():
            yield from _locations(member, (*path, key))
    elif isinstance(value, list):
        for index, member in enumerate(value):
            yield from _locations(member, (*path, index))


def _kind(value: Any) -> str:
    return "number" if type(value) in (int, float) else type(value).__name__


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """`value` with one member dropped or retyped, or an unknown member added."""
    value = json.loads(json.dumps(value))
    path = draw(st.sampled_from(list(_locations(value))))
    mutation = draw(st.sampled_from(["drop", "retype", "unknown"]))
    if not path:
        if mutation == "unknown" and isinstance(value, dict):
            value["unknownMember"] = draw(JSON_VALUES)
            return value
        return draw(JSON_VALUES.filter(lambda v: _kind(v) != _kind(value)))
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    old = parent[key]
    if mutation == "drop":
        del parent[key]
    elif mutation == "unknown" and isinstance(old, dict):
        old["unknownMember"] = draw(JSON_VALUES)
    else:
        parent[key] = draw(JSON_VALUES.filter(lambda v: _kind(v) != _kind(old)))
    return value


# -- (c) garbage ---------------------------------------------------------------------------

HUGE_NUMBERS = ["1" * 5000, "-" + "9" * 4301, "1e999999", "-1e-999999", "1E400",
                "123456789012345678901234567890", "9007199254740993", "-0", "0.1e1",
                "NaN", "Infinity", "-Infinity", "1.", ".5", "01", "0x10", "1_000"]
CONTENT_TYPES: list[str | bytes | None] = [
    None, "application/json", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=fuzz", "application/json; charset=utf-16",
    "application/octet-stream", b"application/json; charset=\xff", "",
]
ENCODINGS = [None, "gzip", "deflate", "br", "identity", "x-fuzz", "gzip, gzip"]
#: Encodings aiohttp decodes itself: a body it cannot decode is refused by its HTTP layer
#: (plain text) when the bytes arrive before the handler runs, else by the handler (JSON).
DECODED_BY_AIOHTTP = {"gzip", "deflate", "br"}
GARBAGE_QUERIES = ["%", "%ZZ", "%ff%fe", "a=%ff", "&&&", "=", "==x", "after=1&after=2",
                   "limit=", "limit=1e3", "after=-0", "limit=%00", "format=%ff", "a[b]=c",
                   "after=" + "9" * 5000, "limit=" + quote("\u0661"),
                   "manifestDigest=%00&assetId=%ff"]


def _deep(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth


@st.composite
def garbage_bodies(draw: st.DrawFn, good: bytes) -> bytes:
    """Bytes that are not a well-formed, canonical UTF-8 JSON body (mostly `good`, broken)."""
    kind = draw(st.sampled_from(["bytes", "truncated", "not-utf8", "deep", "huge-number",
                                 "literal"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "truncated":
        return good[: draw(st.integers(0, max(len(good) - 1, 0)))]
    if kind == "not-utf8":
        at = draw(st.integers(0, len(good)))
        bad = draw(st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                                    b"\xe2\x82"]))
        return draw(st.sampled_from([good[:at] + bad + good[at:], b"\xef\xbb\xbf" + good,
                                     good.decode().encode("utf-16")]))
    if kind == "deep":
        return _deep(draw(st.sampled_from([65, 1000, 100_000])),
                     draw(st.sampled_from(["array", "object", "unbalanced"])))
    if kind == "huge-number":
        # In place of the value after a ':' or '[' of the good body.
        number = draw(st.sampled_from(HUGE_NUMBERS)).encode()
        starts = [i + 1 for i, c in enumerate(good) if c in b":["]
        if not starts:
            return number
        at = end = draw(st.sampled_from(starts))
        while end < len(good) and good[end:end + 1] not in b",]}":
            end += 1
        return good[:at] + number + good[end:]
    return draw(st.sampled_from([b"", b" ", b"null", b"{}", b"[]", b'"', b"{", b"}", b"\x00",
                                 b'{"a":1,"a":2}', b'"\\ud800"', b"true false"]))


@st.composite
def garbage_forms(draw: st.DrawFn, good: bytes) -> bytes:
    """Bytes that are not a well-formed form of `good`'s parameters: broken bytes and
    %-escapes, repeated parameters, huge values."""
    kind = draw(st.sampled_from(["bytes", "truncated", "not-utf8", "repeated", "huge",
                                 "literal"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "truncated":
        return good[: draw(st.integers(0, max(len(good) - 1, 0)))]
    if kind == "not-utf8":
        at = draw(st.integers(0, len(good)))
        bad = draw(st.sampled_from([b"\xff", b"%ff", b"%C0%80", b"%ED%A0%80", b"%e2%82", b"%",
                                    b"%ZZ", b"%00"]))
        return good[:at] + bad + good[at:]
    if kind == "repeated":
        pairs = good.split(b"&")
        return b"&".join([*pairs, draw(st.sampled_from(pairs))])
    if kind == "huge":
        name = draw(st.sampled_from([p.split(b"=")[0] for p in good.split(b"&")] + [b"x"]))
        return good + b"&" + name + b"=" + b"x" * draw(st.sampled_from([5000, 60_000]))
    return draw(st.sampled_from([b"", b"&", b"=", b"&&&", b"==x", b"a", b"a=1;b=2", b"+",
                                 b"\x00", b"grant_type", b"grant_type=rsl&grant_type=rsl"]))


def garbage_requests(parts: Parts) -> st.SearchStrategy[Request]:
    """Broken bytes, encodings and content types, with otherwise good parameters."""
    op = parts.op
    queries = st.sampled_from(GARBAGE_QUERIES) | st.text(max_size=40).map(_loose_quote)

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        query: Mapping[str, str] | str = draw(parts.query)
        body: bytes | None
        if op.body_media == FORM_BODY:
            body = draw(garbage_forms(encode_form(draw(parts.body))))
        elif op.body_schema is not None:
            body = draw(garbage_bodies(encode_json(draw(parts.body))))
        else:
            # A GET with garbage in its query string, and a body it does not expect.
            query, body = draw(queries), draw(st.none() | garbage_bodies(b"{}"))
        signed = op.signed and draw(st.booleans())
        headers = (signed_headers(body) if signed else ()) + json_type(
            body, draw(st.sampled_from(CONTENT_TYPES)))
        encoding = draw(st.sampled_from(ENCODINGS))
        if encoding is not None and body is not None:
            headers += (("Content-Encoding", encoding),)
        return parts.request(draw(parts.paths), query, headers, body,
                             http_layer=body is not None and encoding in DECODED_BY_AIOHTTP)

    return build()


def _loose_quote(text: str) -> str:
    """Percent-encoded where it must be (non-ASCII, controls); `%`, `=` and `&` left raw."""
    return urllib.parse.quote(text, safe="=&%+;,/?:@!$'()*")


# -- (d) odd parameters --------------------------------------------------------------------

ODD_SEGMENTS = [
    "0x1234", "0x" + "ab" * 33, "0x" + "ab" * 31 + "a", "0x" + "g" * 64, "0X" + "ab" * 32,
    "0x" + "AB" * 32, "%200x" + "ab" * 31 + "a", "0x" + quote("\u0661") * 32, "ab" * 33,
    "%2F", "a%2Fb", "%252F", "%00", "%FF", "%ff%fe", "%ZZ", "%", "%2", "%2E", "%2E%2E", "~",
    "-1", "+1", "1e3", "1.0", "0x10", "1_0", quote("\u0661"), "9" * 40, "-" + "9" * 40,
    str(2**63), str(2**64), "0" * 500, "x" * 5000, quote("\u2028\U0001f600"), "%C0%AF",
    "%ED%A0%80", quote("creator:\u00e9"), "null", "..%2F..%2Fetc", "%7B%7D",
]
ODD_HEADERS: list[str | bytes] = [
    "", "x" * 9000, b"\xff\xfe", "v1=", "v1=" + "0" * 64, "v1=" + "g" * 64, "v2=" + "0" * 64,
    "-1", "0", "1e9", "9" * 40, "nan", SOURCE.upper(), "fuzz-1\x7f", b"caf\xe9",
]


def odd_requests(parts: Parts) -> st.SearchStrategy[Request]:
    """Odd path parameters, query strings and headers around a good body."""
    op = parts.op
    segments = st.sampled_from(ODD_SEGMENTS) | st.text(min_size=1, max_size=30).map(quote)
    names = [p["name"] for p in op.params("query")] + ["x"]
    queries = st.sampled_from(GARBAGE_QUERIES) | st.lists(
        st.tuples(st.sampled_from(names), st.sampled_from(ODD_SEGMENTS) | st.text(max_size=20)),
        max_size=4).map(lambda pairs: "&".join(f"{quote(k)}={_loose_quote(v)}"
                                               for k, v in pairs))

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        paths = dict(draw(parts.paths))
        for name in paths:
            if draw(st.booleans()):
                paths[name] = draw(segments)
        query: Mapping[str, str] | str = draw(parts.query)
        if draw(st.booleans()) or not paths:
            query = draw(queries)
        body = None if op.body_schema is None else encode_body(op, draw(parts.body))
        headers = dict(signed_headers(body) if op.signed and draw(st.booleans()) else ())
        for param in op.params("header"):
            if draw(st.booleans()):
                headers.pop(param["name"], None)
                if draw(st.booleans()):
                    headers[param["name"]] = draw(st.sampled_from(ODD_HEADERS))
        return parts.request(paths, query, tuple(headers.items()) + json_type(body, op.body_media),
                             body, routed=False)

    return build()


def explicit_requests(parts: Parts, kind: str, max_body: int) -> Iterator[Request]:
    """Cases sent every run, whatever hypothesis draws: every odd path segment, and the
    worst bodies."""
    op = parts.op
    good = {p["name"]: "x" for p in op.params("path")}
    if kind == "odd":
        for name in good:
            for segment in ODD_SEGMENTS:
                yield parts.request({**good, name: segment}, "", (), None, routed=False)
    if kind == "garbage":
        # Any route that reads a body, even an empty one, refuses a compressed one (415).
        yield parts.request(good, "", (("Content-Encoding", "gzip"),), b"", routed=False)
    if kind == "garbage" and op.body_schema is not None:
        for body in (b" " * (max_body + 1), _deep(100_000, "array"), _deep(100_000, "object"),
                     b"1" * 5000, b"\xff", b""):
            yield parts.request(good, "", json_type(body, op.body_media), body, routed=False)


KINDS: dict[str, Callable[[Parts], st.SearchStrategy[Request]]] = {
    "valid": valid_requests,
    "invalid": invalid_requests,
    "garbage": garbage_requests,
    "odd": odd_requests,
}


def fuzz(url: str, op: Operation, kind: str, seeds: Seeds, max_body: int) -> list[str]:
    """Send `op` one kind of request; AssertionError on an answer the document does not
    give. Returns the targets the router answered instead of the operation's handler."""
    parts = Parts.of(op, seeds)
    unrouted: list[str] = []

    def one(request: Request) -> None:
        reply = send(url, request)
        check(op, request, reply)
        if reply.content_type == "application/json" and _from_router(reply):
            unrouted.append(request.target)

    for request in explicit_requests(parts, kind, max_body):
        one(request)
    FUZZ(given(KINDS[kind](parts))(one))()
    return unrouted


# -- the service ---------------------------------------------------------------------------


@dataclass
class World:
    svc: Running
    seeds: Seeds


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """One service (the `svc` fixture's, plus a metering source's key) for the whole module,
    with a registered creator, an anchored manifest priced per use, and a usage event."""
    settings = replace(FAST, data_dir=tmp_path_factory.mktemp("fuzz") / "data",
                       usage_keys=USAGE_KEYS)
    async with running(settings) as (service, url), LedgerClient(url) as client:
        svc = Running(service, url, client)
        yield World(svc, await _seed(svc))


async def _seed(svc: Running) -> Seeds:
    key, other, spare = p256(), p256(), p256()
    creator = "creator:fuzz"
    await register(svc.client, creator, key)
    deployment = await svc.client.deployment()
    asset: dict[str, Any] = {
        "id": "asset:fuzz-1", "type": "image/jpeg", "hash": "sha256:" + "ab" * 32,
        "licenses": ["non-exclusive-training"],
        "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH", "unit": "sample",
                       "amount": "1000"}}
    signed = sign_manifest({"manifestVersion": "1.0", "assets": [asset], "creator": {
        "id": creator, "wallet": checksum_address("0x" + "11" * 20)}}, key)
    status, accepted = await svc.client.submit(signed)
    assert status == 202, accepted
    digest = accepted["manifestDigest"]
    root = (await wait_for_proof(svc.client, digest))["root"]
    batch = (await svc.client.batches())[0]
    buyer = checksum_address("0x" + "22" * 20)
    event: dict[str, Any] = {
        "eventId": "fuzz-event-1", "buyer": buyer, "units": 3, "source": SOURCE,
        "asset": {"manifestDigest": digest, "assetId": asset["id"]},
        "time": "2025-01-01T00:00:00Z"}
    body = canonicalize(event)
    reply = await asyncio.to_thread(send, svc.url, Request(
        "POST", "/v1/usage", signed_headers(body) + json_type(body), body))
    assert reply.status == 202, reply
    signature = "0x" + "1b" * 65
    olp = await _olp_client(svc)
    return Seeds(
        params={"digest": [digest], "root": [root], "number": [str(batch["number"])],
                "id": [creator], "creator_id": [creator], "event_id": [event["eventId"]],
                "address": [buyer],
                "manifestDigest": [digest], "assetId": [asset["id"]]},
        bodies={
            "POST /v1/manifests": [signed],
            "POST /v1/manifests:batch": [{"manifests": [signed]}],
            "POST /v1/creators": [
                sign_action("register", "creator:fuzz-2", [other.public_id], now_ms(),
                            [other, spare], deployment=deployment,
                            recovery_key=spare.public_id),
                sign_action("add-key", creator, [other.public_id], now_ms(), [key, other],
                            deployment=deployment),
            ],
            "POST /v1/usage": [event, {"events": [event, {**event, "eventId": "fuzz-event-2"}]}],
            "POST /v1/buyers/{address}/cosign": [
                {"usageRoot": batch["root"], "token": "ETH", "signature": signature}],
            "POST /olp/register": [registration(now_ms(), name="fuzz",
                                                server=_olp_server(svc))],
            "POST /olp/token": [{"grant_type": "rsl", "resource": f"{svc.url}/x",
                                 "license": LICENCE.format("ai-train"), **olp}],
            "POST /olp/introspect": [{"token": "x", **olp}],
            "POST /v1/splits": [
                {"manifestDigest": digest, "assetId": asset["id"], "version": 1,
                 "deadline": int(time.time()) + 3600, "signature": signature}],
        },
    )


def _olp_server(svc: Running) -> str:
    """The licence server the service's RSL documents name (registrations sign it)."""
    return svc.service.ctx.licensing.publisher.server


async def _olp_client(svc: Running) -> dict[str, str]:
    """A registered OLP client's credentials, as form parameters: with them, token and
    introspection requests get past client authentication."""
    body = canonicalize(registration(now_ms(), server=_olp_server(svc)))
    reply = await asyncio.to_thread(send, svc.url, Request(
        "POST", "/olp/register", json_type(body), body))
    assert reply.status == 201, reply
    made = json.loads(reply.body)
    return {"client_id": made["client_id"], "client_secret": made["client_secret"]}


# -- the tests -----------------------------------------------------------------------------


async def test_every_route_is_documented_and_fuzzable() -> None:
    documented = {op.id for op in operations()}
    routed = {f"{r.method} {r.path}" for r in [*routes(), *page_routes()]}
    assert documented == routed - UNDOCUMENTED
    for op in operations():
        assert not op.unsupported(), (op.id, op.unsupported())


async def test_generated_values_match_their_schemas() -> None:
    named = [(f"{op.id} {p['name']}", p["schema"])
             for op in operations() for p in op.spec.get("parameters", [])]
    named += [(f"{op.id} body", op.body_schema)
              for op in operations() if op.body_schema is not None]
    # One property per schema: drawn together in one example, Hypothesis spends minutes
    # on a buffer of every schema's choices (5 s apart, 190 s together).
    for name, schema in named:
        _each_value_matches(name, schema)


def _each_value_matches(name: str, schema: dict[str, Any]) -> None:
    @FUZZ
    @given(schema_values(schema))
    def matches(value: Any) -> None:
        assert is_valid(schema, value), (name, value)

    matches()


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("op", operations(), ids=lambda op: op.id)
async def test_operation_answers_as_documented(world: World, op: Operation, kind: str) -> None:
    max_body = world.svc.service.settings.max_body_bytes
    unrouted = await asyncio.to_thread(fuzz, world.svc.url, op, kind, world.seeds, max_body)
    if kind == "valid":
        # Every valid request reached the operation's handler, not the router's 404.
        assert not unrouted, unrouted[:5]
