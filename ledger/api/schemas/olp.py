"""Shapes of the OLP licence server (docs/web-licensing.md): client registration, the
token and introspection requests (urlencoded forms, RFC 6749 and RFC 7662), their
answers, the key set, a buyer's tokens and the RFC 6749 §5.2 error body.

A form's shape lists its parameters; the handlers read which are required from here
(`ledger.api.olp`), and the error codes come from `ledger.app.oauth_errors`.
"""

from __future__ import annotations

from ledger.api.schemas.common import (
    ADDRESS,
    ASSET_ID,
    HEX32,
    INTEGER,
    MS,
    SECONDS,
    STRING,
    Schema,
    array,
    closed,
    text,
)
from ledger.app.licence_server import RSL_GRANT, TOKEN_TYPE
from ledger.app.oauth_errors import OAuthError
from ledger.core.rsl import REGISTER_TAG, USAGES

_ERRORS: list[type[OAuthError]] = [OAuthError, *OAuthError.__subclasses__()]
#: Every ``error`` value the licence server answers.
OAUTH_ERROR_CODES = sorted({cls.code for cls in _ERRORS})
_CLIENT_ID = text("^olp-[0-9a-f]{24}$")
_JTI = text("^[0-9a-f]{32}$")
_SCOPE = text(f"^(?:{'|'.join(USAGES)})(?: (?:{'|'.join(USAGES)}))*$",
              "the RSL usages granted, space-separated")
_LEDGER_ASSET = closed({"manifestDigest": HEX32, "assetId": ASSET_ID})


def form(required: dict[str, Schema], optional: dict[str, Schema], description: str
         ) -> Schema:
    """The parameters of an urlencoded form: those named, each a string; any other is
    ignored, as RFC 6749 §3.2 says."""
    return {"type": "object", "required": list(required),
            "properties": {**required, **optional},
            "additionalProperties": STRING, "description": description}


#: Client authentication in the body (``client_secret_post``), instead of HTTP Basic.
_CLIENT_POST = {"client_id": _CLIENT_ID, "client_secret": STRING}

OAUTH_ERROR = closed({"error": {"enum": OAUTH_ERROR_CODES}, "error_description": STRING},
                     description="RFC 6749 §5.2 error response")
TOKEN_REQUEST = form(
    {"grant_type": {"const": RSL_GRANT}, "resource": STRING,
     "license": {**STRING, "description": "a complete RSL <license> element; its "
                 "<permits type=\"usage\"> is what is asked for"}},
    _CLIENT_POST, "OLP's rsl grant: a licence for the asset fetched at resource")
INTROSPECTION_REQUEST = form({"token": STRING}, {"token_type_hint": STRING, **_CLIENT_POST},
                             "RFC 7662 §2.1")

_CLAIMS: dict[str, Schema] = {
    "iss": STRING, "sub": _CLIENT_ID, "aud": STRING, "jti": _JTI, "iat": SECONDS,
    "nbf": SECONDS, "exp": SECONDS, "scope": _SCOPE, "asset": text("^sha256:[0-9a-f]{64}$"),
    "ledger_asset": _LEDGER_ASSET, "buyer": ADDRESS, "lic": STRING,
}

SCHEMAS: dict[str, Schema] = {
    "OAuthError": OAUTH_ERROR,
    "OlpRegistration": closed(
        {"wallet": ADDRESS, "name": {"type": "string", "minLength": 1, "maxLength": 200},
         "issuedAt": MS,
         "server": {"type": "string", "minLength": 1, "maxLength": 2048, "description":
                    "the licence server registered at, as the RSL document's server "
                    "attribute names it; compared with this server's after lower-casing "
                    "scheme and host and removing trailing slashes"},
         "signature": STRING},
        description=f"Signed by wallet: the {REGISTER_TAG!r} message over the canonical "
        "JSON of the other members; issuedAt within 5 minutes of the service clock. The "
        "retired form without server (tag 'olp-register') is refused: a body that names "
        "no server could be relayed from any other"),
    "OlpClient": closed(
        {"client_id": _CLIENT_ID, "client_secret": STRING, "client_name": STRING,
         "client_id_issued_at": SECONDS, "client_secret_expires_at": {"const": 0},
         "grant_types": array({"const": RSL_GRANT}),
         "token_endpoint_auth_method": {"const": "client_secret_basic"}, "buyer": ADDRESS},
        description="RFC 7591 §3.2.1; the secret is shown this once"),
    "OlpTokenRequest": TOKEN_REQUEST,
    "OlpToken": closed(
        {"access_token": STRING, "token_type": {"const": TOKEN_TYPE}, "expires_in": INTEGER,
         "scope": _SCOPE}, description="RFC 6749 §5.1: an ES256 licence token"),
    "OlpIntrospectionRequest": INTROSPECTION_REQUEST,
    "OlpIntrospection": {"oneOf": [
        closed({"active": {"const": False}}),
        closed({"active": {"const": True}, "token_type": {"const": TOKEN_TYPE},
                "client_id": _CLIENT_ID, **_CLAIMS}),
    ], "description": "RFC 7662 §2.2"},
    "Jwks": closed({"keys": array(closed(
        {"kty": {"const": "EC"}, "crv": {"const": "P-256"}, "x": STRING, "y": STRING,
         "kid": STRING}, {"use": {"const": "sig"}, "alg": {"const": "ES256"}}))},
        description="RFC 7517: the keys that verify licence tokens now"),
    "OlpTokens": closed({"buyer": ADDRESS, "tokens": array(closed({
        "jti": _JTI, "clientId": _CLIENT_ID, "resource": STRING, "asset": _LEDGER_ASSET,
        "scope": _SCOPE, "licence": STRING, "kid": STRING, "issuedAt": MS, "expiresAt": MS,
        "usageEventPrefix": text("^olp:[0-9a-f]{32}:$")}))},
        description="A buyer's licence tokens, newest first"),
}
