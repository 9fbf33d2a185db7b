"""Handlers of the OLP licence server: registration, token, introspection, JWKS and a
buyer's tokens. OAuth errors are answered as RFC 6749 §5.2 says (``error``,
``error_description``; 401 with a ``Basic`` challenge for ``invalid_client``)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson
from aiohttp import web

from ledger.api.appkeys import CONTEXT, HTTP
from ledger.api.client_address import client_address
from ledger.api.provenance import read_body
from ledger.api.schemas.common import Schema
from ledger.api.schemas.olp import INTROSPECTION_REQUEST, TOKEN_REQUEST
from ledger.app.clock import now_ms
from ledger.app.licence_server import LicenceServer
from ledger.app.oauth_errors import (
    InvalidClient,
    InvalidRequest,
    OAuthError,
)
from ledger.errors import ValidationError
from ledger.storage.licence_server import OlpClient

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_CHALLENGE = 'Basic realm="olp", charset="UTF-8"'
_FORM = "application/x-www-form-urlencoded"


def _server(request: web.Request) -> LicenceServer:
    return request.app[CONTEXT].licensing.server


def oauth(handler: Callable[[web.Request], Awaitable[web.Response]]
          ) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``handler`` with its OAuthErrors answered as RFC 6749 §5.2 error responses."""
    async def answered(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except OAuthError as exc:
            body = orjson.dumps({"error": exc.code, "error_description": exc.message})
            headers = dict(_NO_STORE)
            status = 400
            if isinstance(exc, InvalidClient):
                status, headers["WWW-Authenticate"] = 401, _CHALLENGE
            return web.Response(body=body, status=status, content_type="application/json",
                                headers=headers)

    answered.__doc__ = handler.__doc__
    return answered


async def _form(request: web.Request) -> dict[str, str]:
    """The urlencoded body; InvalidRequest if it is not one or repeats a parameter."""
    if request.content_type != _FORM:
        raise InvalidRequest(f"the body must be {_FORM}")
    body = await read_body(request, "small")
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=bool(body),
                          errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body is not a valid urlencoded form") from None
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise InvalidRequest(f"parameter {repeated[0]} is repeated")
    return {name: values[0] for name, values in parsed.items()}


def _require(form: dict[str, str], schema: Schema) -> None:
    """InvalidRequest if `form` lacks a parameter its declared shape requires (checked
    once the client is authenticated: a stranger learns nothing of the form)."""
    missing = [name for name in schema["required"] if not form.get(name)]
    if missing:
        raise InvalidRequest(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                             "required")


async def _client(request: web.Request, form: dict[str, str]) -> OlpClient:
    """The client authenticated by HTTP Basic (RFC 6749 §2.3.1) or, not both, by
    ``client_id``/``client_secret`` in the body."""
    header = request.headers.get("Authorization")
    in_body = "client_secret" in form
    if header is not None and in_body:
        raise InvalidRequest("use one client authentication method, not two")
    if header is None:
        return await _server(request).authenticate(form.get("client_id"),
                                                   form.get("client_secret"))
    scheme, _, encoded = header.partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("malformed Basic credentials") from None
    client_id, sep, secret = decoded.partition(":")
    if scheme.lower() != "basic" or not sep:
        raise InvalidClient("client authentication must be HTTP Basic")
    return await _server(request).authenticate(unquote(client_id), unquote(secret))


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json",
                        headers=headers)


@oauth
async def post_register(request: web.Request) -> web.Response:
    """POST /olp/register: a buyer's client, bound to the wallet that signed the body;
    201 with the credentials (the secret is shown this once). Rate-limited per client
    address, and capped per wallet; every refusal of the body's content is RFC 7591's
    ``invalid_client_metadata`` (`LicenceServer.register`)."""
    body = await read_body(request, "small")
    caller = client_address(request, request.app[HTTP].trusted_proxy_hops)
    return _json(await _server(request).register(body, caller=caller), 201, _NO_STORE)


@oauth
async def post_token(request: web.Request) -> web.Response:
    """POST /olp/token: OLP's ``rsl`` grant (``license``, ``resource``); a licence token."""
    form = await _form(request)
    client = await _client(request, form)
    _require(form, TOKEN_REQUEST)
    return _json(await _server(request).issue(client, form), headers=_NO_STORE)


@oauth
async def post_introspect(request: web.Request) -> web.Response:
    """POST /olp/introspect: RFC 7662, for an authenticated client."""
    form = await _form(request)
    await _client(request, form)
    _require(form, INTROSPECTION_REQUEST)
    return _json(await _server(request).introspect(form["token"]), headers=_NO_STORE)


async def get_jwks(request: web.Request) -> web.Response:
    """GET /olp/jwks.json: the public keys that verify licence tokens now."""
    keys = await _server(request).keys.jwks(now_ms())
    return _json(keys, headers={"Cache-Control": "public, max-age=60"})


@oauth
async def get_tokens(request: web.Request) -> web.Response:
    """GET /olp/tokens?before=: the tokens issued to the authenticated client's buyer."""
    client = await _client(request, {})
    before = request.query.get("before")
    if before is not None and not before.isdigit():
        raise ValidationError("must be a time in ms", field="before")
    answer = await _server(request).tokens(client, before=None if before is None
                                           else int(before))
    return _json(answer, headers=_NO_STORE)
