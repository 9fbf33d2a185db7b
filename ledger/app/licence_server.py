"""The OLP licence server (RSL Open License Protocol, an OAuth 2.0 extension; issue 19).

Clients are buyers: a registration is signed by the buyer's wallet and binds the
client's credentials to it. The token endpoint takes OLP's ``rsl`` grant (a complete
RSL ``<license>`` and the ``resource`` URL) and issues a short-lived ES256 licence
token when the requested usages are granted by the asset's licences in force, the
asset's lifecycle does not refuse the buyer now (revoked, withdrawn, taken down, or
another buyer's exclusivity) and, for a priced asset, the buyer's deposit and limits
cover one use. Every token is recorded; introspection (RFC 7662) answers from the
signature, the record and the key set. docs/web-licensing.md has the wire details.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError

from ledger.app.clock import now_ms
from ledger.app.group_commit import GroupCommitWriter
from ledger.app.histories import Histories
from ledger.app.oauth_errors import (
    InvalidClient,
    InvalidClientMetadata,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    PaymentRequired,
    UnsupportedGrantType,
)
from ledger.app.olp_funds import Funds
from ledger.app.olp_keys import CLOCK_SKEW_MS, OlpKeys
from ledger.app.rate_limit import RateLimit
from ledger.app.rsl import RslPublisher
from ledger.app.terms import TermsBook
from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.fields import Fields
from ledger.core.hashing import to_hex
from ledger.core.rsl import REGISTER_TAG, audience, licence_for, requested_usages
from ledger.core.signing import verify_message
from ledger.errors import CanonicalJSONError, Forbidden, SignatureError, ValidationError
from ledger.storage.licence_server import IssuedToken, LicenceServerStore, OlpClient

#: OLP's grant type (rslstandard.org/api, "Acquire a License for an Asset").
RSL_GRANT = "rsl"
#: How far a registration's ``issuedAt`` may be from our clock.
REGISTER_WINDOW_MS = 300_000
TOKEN_TYPE = "License"


class TooManyClients(Forbidden):
    """The wallet has as many clients as it may register."""

    code = "too_many_clients"


class LicenceServer:
    """Client registration, token issuance, introspection and each buyer's tokens."""

    def __init__(self, store: LicenceServerStore, keys: OlpKeys, publisher: RslPublisher,
                 histories: Histories, terms_book: TermsBook, funds: Funds | None, *,
                 lifetime_s: int, max_clients_per_wallet: int = 10,
                 register_per_minute: int = 10) -> None:
        self._store = store
        self.keys = keys
        self._publisher = publisher
        self._histories = histories
        self._terms = terms_book
        self._funds = funds
        self._lifetime_ms = lifetime_s * 1000
        self._max_clients = max_clients_per_wallet
        self._register_limit = RateLimit(register_per_minute, what="client registrations")
        self.issuer = publisher.base_url
        # The RSL server attribute, as registrations must name it (ValidationError at
        # start for a public_url no client could sign).
        self._audience = audience(publisher.server)
        self._recorder: GroupCommitWriter[IssuedToken, None] | None = None

    def start(self) -> None:
        """Record tokens by group commit from now on: concurrent requests share a
        transaction (each still answered only once its token is durable)."""
        self._recorder = GroupCommitWriter(self._record, name="olp-tokens", max_group=1_000)
        self._recorder.start()

    async def close(self) -> None:
        """Stop the group commit once what is queued is recorded."""
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            await recorder.stop()

    async def _record(self, tokens: list[IssuedToken]) -> list[None]:
        await self._store.add_tokens(tokens)
        return [None] * len(tokens)

    # -- clients -----------------------------------------------------------------------

    async def register(self, body: bytes, *, caller: str = "") -> dict[str, Any]:
        """Register a client for the wallet that signed ``body``, a JSON object (``wallet``,
        ``name``, ``issuedAt`` ms, ``server``, ``signature`` over the canonical JSON of the
        other members under `REGISTER_TAG`); the RFC 7591 answer, with the secret shown
        this once. Every refusal of the body's content (not canonical JSON, a bad member,
        a stale issuedAt, a bad signature, signed for another licence server or for none,
        the retired form) is InvalidClientMetadata, its description beginning with the
        member at fault (``body`` when there is none); RateLimited when ``caller`` (the
        client's address) registers too often, TooManyClients when the wallet has its
        most clients."""
        self._register_limit.take(caller)
        try:
            wallet, name = self._registrant(parse_strict(body))
        except (CanonicalJSONError, ValidationError, SignatureError) as exc:
            raise InvalidClientMetadata(f"{exc.field or 'body'}: {exc.message}") from None
        now = now_ms()
        client_id, secret = "olp-" + secrets.token_hex(12), secrets.token_urlsafe(32)
        client = OlpClient(client_id, _hash(secret), wallet, name, now)
        if not await self._store.add_client(client, max_per_wallet=self._max_clients):
            raise TooManyClients(f"the wallet has {self._max_clients} clients, the most it "
                                 "may register", field="wallet")
        return {"client_id": client_id, "client_secret": secret, "client_name": name,
                "client_id_issued_at": now // 1000, "client_secret_expires_at": 0,
                "grant_types": [RSL_GRANT], "token_endpoint_auth_method": "client_secret_basic",
                "buyer": wallet}

    def _registrant(self, obj: Any) -> tuple[str, str]:
        """The wallet and client name of a registration body, once every member is
        checked and the wallet's signature verified."""
        fields = Fields.of_object(obj, "", allowed={"wallet", "name", "issuedAt", "server",
                                                    "signature"},
                                  required=("wallet", "name", "issuedAt", "signature"))
        self._check_audience(obj.get("server"))
        wallet = fields.checksummed_address("wallet")
        name = fields.text("name", 200)
        if abs(now_ms() - fields.timestamp_ms("issuedAt")) > REGISTER_WINDOW_MS:
            raise ValidationError("must be within 5 minutes of now", field="issuedAt")
        unsigned = {k: v for k, v in obj.items() if k != "signature"}
        verify_message(REGISTER_TAG, canonicalize(unsigned), fields.text("signature", 200),
                       "eth:" + wallet)
        return wallet, name

    def _check_audience(self, server: Any) -> None:
        """InvalidClientMetadata unless ``server`` names this licence server: a body
        signed for another server is one that server may have relayed here."""
        if server is None:
            raise InvalidClientMetadata(
                f"server: missing. Sign the licence server's URL ({self._publisher.server}, "
                f"the RSL server attribute) as server, under tag {REGISTER_TAG}: the "
                "registration without it is retired (docs/web-licensing.md)")
        try:
            signed_for = audience(server) if isinstance(server, str) else None
        except ValidationError:
            signed_for = None
        if signed_for != self._audience:
            raise InvalidClientMetadata(f"server: names another licence server; this one is "
                                        f"{self._publisher.server}")

    async def authenticate(self, client_id: str | None, secret: str | None) -> OlpClient:
        """The client these credentials name; InvalidClient if they do not."""
        client = None if not client_id else await self._store.client(client_id)
        if client is None or secret is None or not hmac.compare_digest(
                client.secret_hash, _hash(secret)):
            raise InvalidClient("unknown client or wrong secret")
        return client

    # -- tokens ------------------------------------------------------------------------

    async def issue(self, client: OlpClient, form: Mapping[str, str]) -> dict[str, Any]:
        """The token response (RFC 6749 §5.1) for an ``rsl`` grant request, or the
        OAuthError that refuses it."""
        if form.get("grant_type") != RSL_GRANT:
            raise UnsupportedGrantType(f"grant_type must be {RSL_GRANT}")
        resource, licence_xml = form.get("resource"), form.get("license")
        if not resource or not licence_xml:
            raise InvalidRequest("resource and license are required")
        try:
            requested = requested_usages(licence_xml)
        except ValidationError as exc:
            raise InvalidRequest(f"license {exc.message}") from None
        row = await self._publisher.resolve(resource)
        if row is None:
            raise InvalidTarget("the resource is no asset licensed here")
        now = now_ms()
        history = await self._histories.history(row.manifest_digest, row.asset_id)
        refusal = history.refusal(client.wallet, now)
        if refusal is not None:
            raise InvalidGrant(refusal.reason)
        offer = await self._publisher.offer(row, now)
        if offer is None:
            raise InvalidGrant("the asset is not offered through RSL now")
        licence = licence_for(requested, offer.licence_ids)
        if licence is None:
            raise InvalidScope(f"the asset's licences in force ({', '.join(offer.licence_ids)}) "
                               f"do not grant {', '.join(requested)}")
        if offer.price is not None and self._funds is not None:
            terms = await self._terms.asset_terms(row.manifest_digest, row.asset_id, "")
            short = await self._funds.shortfall(client.wallet, terms)
            if short is not None:
                raise PaymentRequired(short)
        record = IssuedToken(secrets.token_hex(16), client.client_id, client.wallet,
                             row.manifest_digest, row.asset_id, resource, " ".join(requested),
                             licence, "", now, now + self._lifetime_ms)
        token = await self._sign(record, offer.asset.hash)
        return {"access_token": token, "token_type": TOKEN_TYPE,
                "expires_in": self._lifetime_ms // 1000, "scope": record.scope}

    async def _sign(self, record: IssuedToken, content_hash: str) -> str:
        key = await self.keys.signing_key(record.issued_at)
        assert key.kid is not None
        claims = {
            "iss": self.issuer, "sub": record.client_id, "aud": record.resource,
            "jti": record.jti, "iat": record.issued_at // 1000, "nbf": record.issued_at // 1000,
            "exp": record.expires_at // 1000, "scope": record.scope, "asset": content_hash,
            "ledger_asset": {"manifestDigest": to_hex(record.manifest_digest),
                             "assetId": record.asset_id},
            "buyer": record.buyer, "lic": record.licence,
        }
        token = jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, key)
        recorded = replace(record, kid=key.kid)
        if self._recorder is None:
            await self._store.add_tokens([recorded])
        else:
            await self._recorder.add([recorded])
        return token

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 §2.2: ``{"active": false}`` for a token that is malformed, forged,
        signed by a key past its grace, unknown here, not yet valid or expired; else
        ``active`` with its claims. The caller authenticates the asking client first."""
        now = now_ms()
        try:
            kid = jws.extract_compact(token.encode()).headers().get("kid")
            keys = await self.keys.verification_keys(now, kid if isinstance(kid, str) else None)
            claims = jwt.decode(token, keys, algorithms=["ES256"]).claims
        except (JoseError, ValueError, TypeError):
            return {"active": False}
        record = await self._store.token(str(claims.get("jti", "")))
        if (record is None or claims.get("iss") != self.issuer
                or not record.issued_at - CLOCK_SKEW_MS <= now < record.expires_at):
            return {"active": False}
        return {"active": True, "token_type": TOKEN_TYPE, "client_id": record.client_id,
                **claims}

    async def tokens(self, client: OlpClient, *, before: int | None = None,
                     limit: int = 100) -> dict[str, Any]:
        """The tokens issued to the client's buyer wallet, newest first (its evidence:
        each names the usage events metered under it, `usage_event_prefix`)."""
        found = await self._store.tokens(client.wallet, before=before, limit=limit)
        return {"buyer": client.wallet, "tokens": [_token_obj(t) for t in found]}


def usage_event_prefix(jti: str) -> str:
    """The prefix of the event id of every usage metered under token ``jti``: the edge
    sends ``olp:<jti>:<request id>``, so a retry of one fetch never charges twice."""
    return f"olp:{jti}:"


def _hash(secret: str) -> bytes:
    # Secrets are 256 random bits: a plain hash resists guessing as well as a slow KDF.
    return hashlib.sha256(secret.encode()).digest()


def _token_obj(token: IssuedToken) -> dict[str, Any]:
    return {"jti": token.jti, "clientId": token.client_id, "resource": token.resource,
            "asset": {"manifestDigest": to_hex(token.manifest_digest),
                      "assetId": token.asset_id},
            "scope": token.scope, "licence": token.licence, "kid": token.kid,
            "issuedAt": token.issued_at, "expiresAt": token.expires_at,
            "usageEventPrefix": usage_event_prefix(token.jti)}


@dataclass(frozen=True)
class WebLicensing:
    """What the service offers crawlers: RSL documents and the OLP licence server."""

    publisher: RslPublisher
    server: LicenceServer
