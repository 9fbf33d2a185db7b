"""Operations of the pages for crawlers (docs/web-licensing.md): RSL documents,
``robots.txt`` and the OLP licence server, whose OAuth errors are RFC 6749 §5.2 bodies."""

from __future__ import annotations

from ledger.api.openapi.operation import (
    BODY_ERRORS,
    FORM,
    Answer,
    Operation,
    errors,
    json_answer,
    path_param,
    query_param,
)
from ledger.api.schemas.common import CREATOR_ID, HEX32, MS, ref
from ledger.core.rsl import MEDIA_TYPE

_RSL = Answer("An RSL 1.0 document of the anchored assets offered now, with "
              f'Link: <…/rsl.xml>; rel="license"; type="{MEDIA_TYPE}"', media=(MEDIA_TYPE,))
_OAUTH = "OAuthError"
#: A form route's 400: an OAuth error, or an unreadable body answered as every route does.
_BAD_FORM = json_answer({"anyOf": [ref(_OAUTH), ref("Error")]},
                        "An OAuth error (invalid_request, invalid_grant, …), or a badly "
                        "framed body")
_UNAUTHENTICATED = errors(401, schema=_OAUTH, s401="invalid_client: no or wrong client "
                          "credentials (WWW-Authenticate: Basic)")
# Authorization is no header parameter in OpenAPI 3.1 (§4.8.12.1): said in words.
_BASIC = ("The client authenticates by HTTP Basic (RFC 6749 §2.3.1) or by client_id and "
          "client_secret in the form, not both. ")
_BODY_LIMITS = errors(408, 413, 415, 503)

OPERATIONS = [
    Operation(
        "GET", "/robots.txt", "getRobotsTxt", "robots.txt naming the marketplace document",
        {200: Answer("User-agent, Allow and a License: line (RSL discovery)",
                     media=("text/plain",)), **errors(503)},
    ),
    Operation("GET", "/rsl.xml", "getRslMarketplace", "The marketplace's RSL document",
              {200: _RSL, **errors(503)}),
    Operation(
        "GET", "/rsl/creators/{creator_id}.xml", "getRslCreator", "One creator's RSL document",
        {200: _RSL, **errors(503)}, parameters=[path_param("creator_id", CREATOR_ID)],
    ),
    Operation(
        "GET", "/rsl/manifests/{digest}.xml", "getRslManifest", "One manifest's RSL document",
        {200: _RSL, **errors(422, 503, s422="A malformed digest")},
        parameters=[path_param("digest", HEX32)],
    ),
    Operation(
        "POST", "/olp/register", "postOlpClient", "Register a buyer's OLP client",
        {201: json_answer("OlpClient", "Registered, bound to the signing wallet"),
         **errors(*(s for s in BODY_ERRORS if s != 422), 403, 429,
                  s403="The wallet has as many clients as olp_max_clients_per_wallet",
                  s429="Too many registrations from this address: Retry-After says when "
                  "to try again"),
         400: json_answer({"anyOf": [ref(_OAUTH), ref("Error")]},
                          "invalid_client_metadata (RFC 7591 §3.2.2) for every refusal of "
                          "the body's content: not JSON, a bad or unknown member, a stale "
                          "issuedAt, a bad signature, server missing or naming another "
                          "licence server; the description begins with the member at "
                          "fault (\"signature: …\", \"body: …\"). A badly framed body is "
                          "the common Error")},
        request="OlpRegistration",
    ),
    Operation(
        "POST", "/olp/token", "postOlpToken", "A licence token (OLP's rsl grant)",
        {200: json_answer("OlpToken", "Issued and recorded"), 400: _BAD_FORM,
         **_UNAUTHENTICATED, **_BODY_LIMITS},
        request="OlpTokenRequest", request_media=FORM,
        description=_BASIC + "Refusals (RFC 6749 §5.2): unsupported_grant_type, invalid_request, "
        "invalid_target (no asset licensed here), invalid_grant (revoked, withdrawn, taken "
        "down, or another buyer's exclusivity), invalid_scope (the asset's licences do not "
        "grant the usages asked), payment_required (deposit or limits).",
    ),
    Operation(
        "POST", "/olp/introspect", "postOlpIntrospection", "Introspect a licence token",
        {200: json_answer("OlpIntrospection", "Active with its claims, or not active"),
         400: _BAD_FORM, **_UNAUTHENTICATED, **_BODY_LIMITS},
        request="OlpIntrospectionRequest", request_media=FORM, description=_BASIC,
    ),
    Operation("GET", "/olp/jwks.json", "getOlpJwks", "The keys that verify licence tokens",
              {200: json_answer("Jwks", "The key set"), **errors(503)}),
    Operation(
        "GET", "/olp/tokens", "listOlpTokens", "The authenticated client's buyer's tokens",
        {200: json_answer("OlpTokens", "Newest first, at most 100"), **_UNAUTHENTICATED,
         **errors(422, 503, s422="before is not a time in ms")},
        description="The client authenticates by HTTP Basic (RFC 6749 §2.3.1).",
        parameters=[query_param("before", {**MS, "description": "only tokens "
                                                   "issued before this time (ms)"})],
    ),
]
