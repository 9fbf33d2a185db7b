// Licence tokens as the Worker checks them: a JWS (ES256) from the licence server's
// JWKS, its issuer and validity window, and the claims the usage event needs.
import { createLocalJWKSet, createRemoteJWKSet, errors, jwksCache, jwtVerify } from "jose";

// One key set per JWKS URL for the isolate's life: jose caches the keys for `maxAgeMs`
// and refetches on an unknown `kid` (a rotation) at most once per `cooldownMs`, so
// forged kids cannot make the Worker hammer the licence server. Each new key set is
// also kept in durable storage (`store`), so a Worker started while the licence
// server is unreachable still verifies tokens with the last keys it saw.
const keySets = new Map();

/** The licence server's keys cannot be had: neither fetched nor kept. */
export class KeysUnavailable extends Error {}

function entryFor(url, { jwksCooldownMs, jwksMaxAgeMs }) {
  let entry = keySets.get(url);
  if (!entry) {
    const cache = {};
    const remote = createRemoteJWKSet(new URL(url), {
      cooldownDuration: jwksCooldownMs, cacheMaxAge: jwksMaxAgeMs, timeoutDuration: 2_000,
      [jwksCache]: cache,
    });
    entry = { remote, cache, savedAt: undefined, failedAt: -Infinity, local: null };
    keySets.set(url, entry);
  }
  return entry;
}

function keyResolver(cfg, store) {
  const entry = entryFor(cfg.jwksUrl, cfg);
  const kept = async () => {
    const known = entry.remote.jwks() ?? JSON.parse((await store.load()) ?? "null");
    return known ? (entry.local ??= createLocalJWKSet(known)) : null;
  };
  return async (header, token) => {
    if (Date.now() - entry.failedAt < cfg.jwksCooldownMs) {
      const local = await kept();
      if (local) return local(header, token);
    }
    try {
      const key = await entry.remote(header, token);
      if (entry.cache.uat !== entry.savedAt) {
        entry.savedAt = entry.cache.uat;
        entry.local = null;
        await store.save(JSON.stringify(entry.cache.jwks));
      }
      return key;
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      // The licence server is unreachable: the keys we have still verify (a retired
      // key stays listed until its last token expires), so an outage of the ledger
      // does not stop licensed fetches.
      entry.failedAt = Date.now();
      const local = await kept();
      if (!local) throw new KeysUnavailable("the licence server's keys cannot be fetched");
      return local(header, token);
    }
  };
}

const SHA256 = /^sha256:[0-9a-f]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const JTI = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$/;

/** Why a token is refused: RFC 6750's error code and a sentence for a person. */
export class TokenRefused extends Error {
  constructor(error, description) {
    super(description);
    this.error = error;
  }
}

/**
 * The checked claims of the `License` credential `token`, or TokenRefused (or
 * KeysUnavailable). Checks the signature against the JWKS (`store` keeps the last key
 * set: `load()` and `save(text)`), `iss`, `exp`/`nbf` with `skew` seconds, and the
 * shape of `jti`, `asset`, `buyer` and `ledger_asset`.
 */
export async function checkToken(token, cfg, store) {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, keyResolver(cfg, store), {
      issuer: cfg.issuer, algorithms: ["ES256"], clockTolerance: cfg.skew,
      requiredClaims: ["exp", "jti", "asset", "buyer", "ledger_asset"],
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new TokenRefused("invalid_token", "the licence token has expired");
    if (error instanceof errors.JOSEError) throw new TokenRefused("invalid_token", "the licence token is not valid");
    throw error;
  }
  const asset = payload.ledger_asset;
  if (!SHA256.test(payload.asset) || !ADDRESS.test(payload.buyer) || !JTI.test(payload.jti)
      || typeof asset !== "object" || asset === null
      || typeof asset.manifestDigest !== "string" || typeof asset.assetId !== "string") {
    throw new TokenRefused("invalid_token", "the licence token lacks the claims this resource needs");
  }
  return payload;
}
