"""One operation of the route table: its parameters, request body and answers, and the
builders the area tables use to declare them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.api.schemas.common import ERROR_MEANINGS, Schema, ref

#: What any route that reads a JSON body may answer besides its own refusals.
BODY_ERRORS = (400, 408, 413, 415, 422, 503)
#: The media type of a JSON request body, and of a form (RFC 6749's token requests).
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# A path parameter: ``{digest}``, also inside a segment (``{creator_id}.xml``).
_PATH_PARAM = re.compile(r"\{([^{}/]+)\}")


@dataclass(frozen=True)
class Answer:
    """One status's answer: a JSON body of `schema` (None: no JSON body), and other media
    types the same status may carry instead (``text/plain``, ``text/csv``)."""

    description: str
    schema: Schema | None = None
    media: tuple[str, ...] = ()

    def to_openapi(self) -> dict[str, Any]:
        """The OpenAPI response object."""
        content: dict[str, Any] = {}
        if self.schema is not None:
            content["application/json"] = {"schema": self.schema}
        content.update({media: {} for media in self.media})
        return {"description": self.description, "content": content}


@dataclass(frozen=True)
class Operation:
    """A route as clients see it; `request` names a component schema, the shape of a
    body of `request_media` (a JSON document, or a form's parameters)."""

    method: str
    path: str
    operation_id: str
    summary: str
    answers: Mapping[int, Answer]
    parameters: Sequence[Schema] = ()
    request: str | None = None
    description: str | None = None
    request_media: str = JSON

    @property
    def path_names(self) -> frozenset[str]:
        """The names of the path's parameters (``{digest}`` → ``digest``)."""
        return frozenset(_PATH_PARAM.findall(self.path))

    def to_openapi(self) -> dict[str, Any]:
        """The OpenAPI operation object."""
        spec: dict[str, Any] = {"operationId": self.operation_id, "summary": self.summary}
        if self.description is not None:
            spec["description"] = self.description
        if self.parameters:
            spec["parameters"] = list(self.parameters)
        if self.request is not None:
            spec["requestBody"] = {"required": True, "content": {
                self.request_media: {"schema": ref(self.request)}}}
        spec["responses"] = {str(status): answer.to_openapi()
                             for status, answer in sorted(self.answers.items())}
        return spec


def json_answer(schema: str | Schema, description: str) -> Answer:
    """A JSON answer of the component named `schema`, or of `schema` itself."""
    return Answer(description, ref(schema) if isinstance(schema, str) else schema)


def errors(*statuses: int, schema: str = "Error", **meanings: str) -> dict[int, Answer]:
    """The error answers `statuses`, each with the JSON error body; ``s409="…"`` (and so
    on) says what a status means here instead of its usual meaning."""
    return {status: json_answer(schema, meanings.get(f"s{status}", ERROR_MEANINGS[status]))
            for status in statuses}


def path_param(name: str, schema: Schema) -> Schema:
    """A path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema}


def query_param(name: str, schema: Schema, *, required: bool = False) -> Schema:
    """A query parameter."""
    return {"name": name, "in": "query", "required": required, "schema": schema}


def header(name: str, description: str, *, required: bool = False) -> Schema:
    """A header parameter (a string)."""
    return {"name": name, "in": "header", "required": required,
            "schema": {"type": "string", "description": description}}


#: A final proof is immutable (`ledger.api.caching`): a client may ask again naming the
#: ETag of the copy it holds, and gets 304 with no body while that copy is current.
IF_NONE_MATCH = header("If-None-Match", "the ETag of a copy held: 304 if it is current")
NOT_MODIFIED = Answer("The copy named by If-None-Match is current (no body)")
