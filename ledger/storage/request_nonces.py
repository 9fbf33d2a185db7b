"""The nonces of signed requests (`ledger.core.signed_requests`) seen within the
freshness window: a request whose key and nonce are here is a replay. A nonce is
claimed before the request's write and released if the request is then refused."""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.storage.engine import repository
from ledger.storage.models import RequestNonceRow


@repository
class RequestNonces:
    """Claims nonces once per key until they expire."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(self, key_id: str, nonce: str, *, expires_at: int, now: int) -> bool:
        """Record `nonce` of `key_id` until `expires_at` (ms); False if it is recorded
        already (the request was sent before). Forgets nonces expired at `now`."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(delete(RequestNonceRow)
                                   .where(RequestNonceRow.expires_at < now))
                await conn.execute(insert(RequestNonceRow).values(
                    key_id=key_id, nonce=nonce, expires_at=expires_at))
        except IntegrityError:
            return False
        return True

    async def release(self, key_id: str, nonce: str) -> None:
        """Forget `nonce` of `key_id`: the request that claimed it was refused, stored
        nothing, and its signer may use the nonce again."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(RequestNonceRow).where(
                RequestNonceRow.key_id == key_id, RequestNonceRow.nonce == nonce))
