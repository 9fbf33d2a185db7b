"""The licence server's signing keys (P-256, ES256 via joserfc) and their rotation.

One key is current and signs; when it is older than the rotation period it is retired
and a new one made. A retired key still verifies, and is still published in the JWKS,
until every token it signed has expired (retirement + token lifetime + clock skew);
then it is dropped, and a token it signed is refused. Keys live in the database, so
every replica signs and verifies with the same set (re-read at most every `reload_s`,
and when a token names a kid not held, at most once per `kid_cooldown_s`: anyone can
send tokens naming made-up kids, and each must not cost a read of the database).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey, KeyParameters, KeySet

from ledger.storage.licence_server import LicenceServerStore, OlpKey

#: Allowed difference between our clock and a verifier's, in ms.
CLOCK_SKEW_MS = 30_000
#: How often, at most, tokens naming kids not held make the key set be re-read.
KID_COOLDOWN_S = 1.0


def _parameters(kid: str) -> KeyParameters:
    return {"kid": kid, "use": "sig", "alg": "ES256"}


@dataclass(frozen=True)
class _Held:
    key: ECKey
    created_at: int
    retired_at: int | None


class OlpKeys:
    """The current signing key and the retired keys still in their grace period."""

    def __init__(self, store: LicenceServerStore, *, lifetime_ms: int, rotation_ms: int,
                 reload_s: float = 5.0, kid_cooldown_s: float = KID_COOLDOWN_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._lifetime_ms = lifetime_ms
        self._rotation_ms = rotation_ms
        self._reload_s = reload_s
        self._kid_cooldown_s = kid_cooldown_s
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._loaded = float("-inf")
        # When an unknown kid last made the set be re-read (marked before the read, so
        # tokens arriving meanwhile wait for the cooldown instead of reading too).
        self._kid_reloaded = float("-inf")
        self._lock = asyncio.Lock()

    def grace_ms(self) -> int:
        """How long a retired key keeps verifying: its last token's lifetime and skew."""
        return self._lifetime_ms + CLOCK_SKEW_MS

    async def signing_key(self, now: int) -> ECKey:
        """The current key, made or rotated first when none is or it is due."""
        await self._load()
        current = self._current()
        if current is None or now - current.created_at >= self._rotation_ms:
            async with self._lock:
                await self._load(force=True)
                current = self._current()
                if current is None or now - current.created_at >= self._rotation_ms:
                    await self.rotate(now)
                    current = self._current()
        assert current is not None
        return current.key

    async def rotate(self, now: int) -> str:
        """Retire the current key now and make a new one current; its kid."""
        kid = "olp-" + secrets.token_hex(8)
        key = ECKey.generate_key("P-256", parameters=_parameters(kid), private=True)
        pem = key.as_pem(private=True).decode()
        await self._store.rotate(OlpKey(kid, pem, now, None),
                                 drop_retired_before=now - self.grace_ms())
        await self._load(force=True)
        return kid

    async def verification_keys(self, now: int, kid: str | None = None) -> KeySet:
        """The keys that verify at ``now``: current and retired within their grace.
        A ``kid`` not held makes the set be re-read first (another replica rotated),
        unless it was read less than the kid cooldown ago."""
        await self._load(force=kid is not None and kid not in self._held
                         and self._kid_reload_due())
        return KeySet([held.key for held in self._held.values() if self._live(held, now)])

    async def jwks(self, now: int) -> dict[str, Any]:
        """The public JWK set (RFC 7517) of the keys that verify at ``now``; the first
        key is made here if none is yet, so a verifier's first fetch is never empty."""
        await self.signing_key(now)
        keys = await self.verification_keys(now)
        return {"keys": [key.as_dict(private=False) for key in keys.keys]}

    def _kid_reload_due(self) -> bool:
        clock = self._clock()
        if clock - max(self._loaded, self._kid_reloaded) < self._kid_cooldown_s:
            return False
        self._kid_reloaded = clock
        return True

    def _live(self, held: _Held, now: int) -> bool:
        return held.retired_at is None or now < held.retired_at + self.grace_ms()

    def _current(self) -> _Held | None:
        return next((h for h in self._held.values() if h.retired_at is None), None)

    async def _load(self, *, force: bool = False) -> None:
        if not force and self._clock() - self._loaded < self._reload_s:
            return
        held = {}
        for row in await self._store.keys():
            key = ECKey.import_key(row.private_pem, _parameters(row.kid))
            held[row.kid] = _Held(key, row.created_at, row.retired_at)
        self._held = held
        self._loaded = self._clock()
