// Usage events as POST /v1/usage takes them (docs/proof-format.md section 6) and the
// source's request MAC, with WebCrypto.
const encoder = new TextEncoder();
const USAGE_TAG = "ledger-usage-v1\n";

/**
 * The usage event of one licensed fetch. The id is `olp:`, the token's `jti` and the
 * request's own id, fixed when the fetch is queued, so however often the queue
 * resends it the ledger stores (and charges) it once.
 */
export function usageEvent(claims, requestId, source, at) {
  return {
    eventId: `olp:${claims.jti}:${requestId}`,
    buyer: claims.buyer,
    asset: { manifestDigest: claims.ledger_asset.manifestDigest, assetId: claims.ledger_asset.assetId },
    units: 1,
    time: new Date(at).toISOString(),
    source,
  };
}

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

// USAGE_SECRET's form is checked with the other settings (settings.js).
const fromHex = (text) => Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));

/** The three headers of a usage request with `body` at Unix second `timestamp`. */
export async function usageHeaders(secretHex, source, body, timestamp) {
  const key = await crypto.subtle.importKey("raw", fromHex(secretHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const stamp = String(timestamp);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${USAGE_TAG}${source}\n${stamp}\n${body}`));
  return {
    "X-Ledger-Source": source,
    "X-Ledger-Timestamp": stamp,
    "X-Ledger-Signature": `v1=${hex(mac)}`,
    "Content-Type": "application/json",
  };
}

/** `sha256:<hex>` of `bytes`, as manifests name a file. */
export async function contentHash(bytes) {
  return `sha256:${hex(await crypto.subtle.digest("SHA-256", bytes))}`;
}
