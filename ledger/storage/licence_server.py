"""The OLP licence server's records: clients, signing keys and every token issued."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.storage.engine import repository
from ledger.storage.models import OlpClientRow, OlpKeyRow, OlpTokenRow


@dataclass(frozen=True)
class OlpClient:
    """A registered client: its id, the SHA-256 of its secret, and its buyer wallet."""

    client_id: str
    secret_hash: bytes
    wallet: str
    name: str
    created_at: int


@dataclass(frozen=True)
class OlpKey:
    """A signing key: PEM private key, created, retired (None while current)."""

    kid: str
    private_pem: str
    created_at: int
    retired_at: int | None


@dataclass(frozen=True)
class IssuedToken:
    """One issued licence token, as recorded (never the token itself)."""

    jti: str
    client_id: str
    buyer: str
    manifest_digest: bytes
    asset_id: str
    resource: str
    scope: str
    licence: str
    kid: str
    issued_at: int
    expires_at: int


@repository
class LicenceServerStore:
    """Repository of OLP clients, keys and tokens."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_client(self, client: OlpClient, *, max_per_wallet: int) -> bool:
        """Store a new client unless its wallet has ``max_per_wallet`` already (False).
        One statement counts and inserts, so concurrent registrations of one wallet
        cannot pass the cap together where writes are serialised (SQLite)."""
        r = OlpClientRow
        held = select(func.count()).select_from(r).where(r.wallet == client.wallet)
        columns = [r.client_id, r.secret_hash, r.wallet, r.name, r.created_at]
        row = (client.client_id, client.secret_hash, client.wallet, client.name,
               client.created_at)
        values = select(*(literal(v, c.type) for v, c in zip(row, columns, strict=True))
                        ).where(held.scalar_subquery() < max_per_wallet)
        stmt = insert(r).from_select(columns, values)
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def client(self, client_id: str) -> OlpClient | None:
        """The client with this id, or None."""
        r = OlpClientRow
        stmt = select(r.client_id, r.secret_hash, r.wallet, r.name, r.created_at).where(
            r.client_id == client_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else OlpClient(*row)

    async def keys(self) -> list[OlpKey]:
        """Every signing key kept, oldest first."""
        r = OlpKeyRow
        stmt = select(r.kid, r.private_pem, r.created_at, r.retired_at).order_by(
            r.created_at, r.kid)
        async with self._engine.connect() as conn:
            return [OlpKey(*row) for row in await conn.execute(stmt)]

    async def rotate(self, new: OlpKey, *, drop_retired_before: int) -> None:
        """Retire the current key (at ``new.created_at``), make ``new`` current, and drop
        keys retired before ``drop_retired_before`` (their tokens have all expired)."""
        async with self._engine.begin() as conn:
            await conn.execute(update(OlpKeyRow).where(OlpKeyRow.retired_at.is_(None))
                               .values(retired_at=new.created_at))
            await conn.execute(delete(OlpKeyRow).where(
                OlpKeyRow.retired_at < drop_retired_before))
            await conn.execute(insert(OlpKeyRow).values(
                kid=new.kid, private_pem=new.private_pem, created_at=new.created_at,
                retired_at=None))

    async def add_tokens(self, tokens: Sequence[IssuedToken]) -> None:
        """Record issued tokens, in one transaction."""
        async with self._engine.begin() as conn:
            await conn.execute(insert(OlpTokenRow), [{
                "jti": t.jti, "client_id": t.client_id, "buyer": t.buyer,
                "manifest_digest": t.manifest_digest, "asset_id": t.asset_id,
                "resource": t.resource, "scope": t.scope, "licence": t.licence, "kid": t.kid,
                "issued_at": t.issued_at, "expires_at": t.expires_at} for t in tokens])

    async def token(self, jti: str) -> IssuedToken | None:
        """The recorded token with this id, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_TOKENS.where(OlpTokenRow.jti == jti))).first()
        return None if row is None else IssuedToken(*row)

    async def tokens(self, buyer: str, *, limit: int = 100, before: int | None = None
                     ) -> list[IssuedToken]:
        """A buyer's tokens, newest first, issued before ``before`` (ms) if given."""
        stmt = _TOKENS.where(OlpTokenRow.buyer == buyer)
        if before is not None:
            stmt = stmt.where(OlpTokenRow.issued_at < before)
        stmt = stmt.order_by(OlpTokenRow.issued_at.desc(), OlpTokenRow.jti).limit(limit)
        async with self._engine.connect() as conn:
            return [IssuedToken(*row) for row in await conn.execute(stmt)]


_r = OlpTokenRow
_TOKENS = select(_r.jti, _r.client_id, _r.buyer, _r.manifest_digest, _r.asset_id, _r.resource,
                 _r.scope, _r.licence, _r.kid, _r.issued_at, _r.expires_at)
