// The licensing edge: a Cloudflare Worker in front of the origin holding a publisher's
// files. Under the licensed prefix a GET (or HEAD) needs `Authorization: License
// <token>` (RSL crawler authorization) with a token the ledger's licence server signed
// for exactly the bytes asked for; each fetch served is queued as a usage event first
// (queue.js), so nothing is served unmetered. docs/web-licensing.md, "The Worker".
import { Misconfigured, settings } from "./settings.js";
import { checkToken, KeysUnavailable, TokenRefused } from "./tokens.js";
import { contentHash, usageEvent } from "./usage.js";

export { UsageQueue } from "./queue.js";

const quoted = (text) => `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

/** A refusal with the License challenge (RFC 6750's parameters) and the RSL link. */
function refusal(cfg, status, error, description, extra = {}) {
  const challenge = `License realm=${quoted(cfg.issuer)}, error=${quoted(error)}, error_description=${quoted(description)}`;
  return new Response(JSON.stringify({ error: { code: error, message: description } }), {
    status,
    headers: {
      "Content-Type": "application/json",
      "WWW-Authenticate": challenge,
      Link: cfg.link,
      "Cache-Control": "no-store",
      ...extra,
    },
  });
}

/** 405 for any method but GET and HEAD, the only ones the edge answers. */
function notAllowed() {
  return new Response(null, { status: 405, headers: { Allow: "GET, HEAD" } });
}

function unavailable(cfg, description) {
  return refusal(cfg, 503, "temporarily_unavailable", description, { "Retry-After": String(cfg.retryAfterS) });
}

function originUrl(env, url) {
  return new URL(url.pathname + url.search, env.ORIGIN);
}

/** The origin's robots.txt (or an empty one) with the `License:` line crawlers look for. */
async function robots(env, cfg, url) {
  const upstream = await fetch(originUrl(env, url));
  const text = upstream.ok ? await upstream.text() : "User-agent: *\nAllow: /\n";
  const line = `License: ${cfg.rslUrl}`;
  const body = text.includes(line) ? text : `${text.replace(/\n*$/, "\n")}${line}\n`;
  return new Response(body, { headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

/** The origin's object, or null when it is larger than `maxBytes`: by its
 * Content-Length before reading anything, then by the bytes read (the header may be
 * absent or wrong). */
async function objectBytes(upstream, maxBytes) {
  if (Number(upstream.headers.get("Content-Length") ?? 0) <= maxBytes) {
    const bytes = await upstream.arrayBuffer();
    if (bytes.byteLength <= maxBytes) return bytes;
  } else {
    await upstream.body?.cancel();
  }
  return null;
}

// The one queue of QUEUE_SPLIT=none; it also keeps the names of the split's queues, for
// the operator's view.
const SINGLE_QUEUE = "usage";

/** The name of the usage queue a licensed `request` writes to: "usage", or with
 * QUEUE_SPLIT=colo "usage:<location>" (Cloudflare's IATA code for where the request
 * arrived; "local" where there is none, as in workerd). */
function queueName(request, cfg) {
  if (cfg.queue.split !== "colo") return SINGLE_QUEUE;
  const colo = request.cf?.colo;
  return `usage:${typeof colo === "string" && /^[A-Z]{3}$/.test(colo) ? colo : "local"}`;
}

// Queue ids are plain values, kept for the isolate's life; a stub is I/O bound to the
// request that made it (workerd refuses it in the next request), so one per request.
// Every licensed fetch waits for its queue's write, so where the object lives is on each
// fetch's path: QUEUE_LOCATION_HINT places an object when it is first made, and
// QUEUE_SPLIT=colo gives each location an object of its own, made near it.
const queueIds = new Map();

function queueByName(env, cfg, name) {
  let id = queueIds.get(name);
  if (id === undefined) {
    id = env.USAGE_QUEUE.idFromName(name);
    queueIds.set(name, id);
  }
  return env.USAGE_QUEUE.get(id, cfg.queue.locationHint ? { locationHint: cfg.queue.locationHint } : undefined);
}

/** The usage queue a licensed `request` writes to. A split queue is named to
 * SINGLE_QUEUE the first time an isolate uses it, beside the fetch and never delaying its
 * answer (`waitUntil`), and again by the next request if that failed. */
function usageQueue(env, cfg, request, ctx) {
  const name = queueName(request, cfg);
  const known = queueIds.has(name);
  const queue = queueByName(env, cfg, name);
  if (!known && name !== SINGLE_QUEUE) {
    ctx.waitUntil(queueByName(env, cfg, SINGLE_QUEUE).register(name).catch(() => queueIds.delete(name)));
  }
  return queue;
}

/** Where an operator reads every usage queue's counts and latest refusals. */
const QUEUES_PATH = "/.well-known/ledger-edge/queues";

async function sameSecret(given, expected) {
  const digest = async (text) => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return crypto.subtle.timingSafeEqual(await digest(given), await digest(expected));
}

/** GET (or HEAD) QUEUES_PATH with `Authorization: Bearer <OPERATOR_TOKEN>`: each usage
 * queue's stats by name, the split's locations included. */
async function queuesView(request, env, cfg) {
  if (request.method !== "GET" && request.method !== "HEAD") return notAllowed();
  const given = /^Bearer +(\S+)$/.exec(request.headers.get("Authorization") ?? "")?.[1] ?? "";
  if (!(await sameSecret(given, cfg.operatorToken))) {
    const body = { error: { code: "unauthenticated", message: "send the operator's token: Authorization: Bearer <OPERATOR_TOKEN>" } };
    return new Response(JSON.stringify(body), {
      status: 401,
      headers: { "Content-Type": "application/json", "WWW-Authenticate": 'Bearer realm="ledger-edge"', "Cache-Control": "no-store" },
    });
  }
  const names = [...new Set([SINGLE_QUEUE, ...(await queueByName(env, cfg, SINGLE_QUEUE).queueNames())])].sort();
  // Asked all at once: with QUEUE_SPLIT=colo each queue lives near its own location, and
  // one after another the round trips would add up.
  const stats = await Promise.all(names.map((name) => queueByName(env, cfg, name).stats()));
  const queues = Object.fromEntries(names.map((name, i) => [name, stats[i]]));
  const body = new TextEncoder().encode(JSON.stringify({ queues }));
  // The runtime drops a HEAD answer's body, and with it the length it would have sent.
  return new Response(body, {
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", "Content-Length": String(body.byteLength) },
  });
}

async function licensedFetch(request, env, cfg, url, ctx) {
  // HEAD, which every general-purpose server supports (RFC 9110, 9.1), is answered as
  // its GET would be (the runtime sends no body) but meters nothing: no bytes are used.
  const metered = request.method === "GET";
  if (!metered && request.method !== "HEAD") return notAllowed();
  const credentials = request.headers.get("Authorization") ?? "";
  const match = /^License +([A-Za-z0-9._~+/-]+=*)$/.exec(credentials);
  if (!match) return refusal(cfg, 401, "invalid_request", "this resource needs a licence token: Authorization: License <token>");
  const queue = usageQueue(env, cfg, request, ctx);
  let claims;
  try {
    claims = await checkToken(match[1], cfg, { load: () => queue.keys(), save: (jwks) => queue.saveKeys(jwks) });
  } catch (error) {
    if (error instanceof TokenRefused) return refusal(cfg, 401, error.error, error.message);
    if (error instanceof KeysUnavailable) return unavailable(cfg, error.message);
    throw error;
  }
  // Neither the crawler's credentials nor its conditional or range headers reach the
  // origin: the Worker needs the whole object to check its hash.
  const upstream = await fetch(originUrl(env, url), { headers: { Accept: request.headers.get("Accept") ?? "*/*" } });
  if (!upstream.ok) return new Response(upstream.body, { status: upstream.status, headers: { "Content-Type": upstream.headers.get("Content-Type") ?? "text/plain" } });
  const bytes = await objectBytes(upstream, cfg.maxBytes);
  if (bytes === null) return new Response("the object is too large for the edge to check\n", { status: 502 });
  if ((await contentHash(bytes)) !== claims.asset) {
    return refusal(cfg, 403, "insufficient_scope", "the licence token is for another asset");
  }
  // A fresh id per request, never one the client sends: two fetches are two uses.
  const requestId = crypto.randomUUID().replaceAll("-", "");
  const event = usageEvent(claims, requestId, env.USAGE_SOURCE, Date.now());
  // A queue that cannot write answers like a full one: refuse, never serve unmetered.
  const queued = await (metered ? queue.append(event) : queue.held(event)).catch(() => "unavailable");
  if (queued === "unpaid") {
    return refusal(cfg, 402, "payment_required", "the ledger refuses to charge this buyer: its deposit is being withdrawn");
  }
  if (queued === "refused") {
    // The token outlived the licence (revoked, withdrawn, taken down, exclusive to
    // another buyer): as a revoked token, so the crawler asks the licence server again.
    return refusal(cfg, 401, "invalid_token", "the asset's licence no longer allows this use");
  }
  if (queued !== (metered ? "queued" : "clear")) return unavailable(cfg, "usage cannot be metered now; try again later");
  const headers = {
    "Content-Type": upstream.headers.get("Content-Type") ?? "application/octet-stream",
    "Cache-Control": "private, no-store",
    Link: cfg.link,
  };
  if (metered) headers["X-Usage-Event"] = event.eventId;
  // The runtime drops a HEAD answer's body, and with it the length it would have sent.
  else headers["Content-Length"] = String(bytes.byteLength);
  return new Response(bytes, { status: 200, headers });
}

/** 500 for every request while a binding is bad: a Worker that cannot meter serves nothing. */
function misconfigured(error) {
  console.error(`the licensing Worker is misconfigured: ${error.message}`);
  const body = { error: { code: "misconfigured", message: `the edge is misconfigured: ${error.message}`, field: error.setting } };
  return new Response(JSON.stringify(body), {
    status: 500, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}

export default {
  async fetch(request, env, ctx) {
    let cfg;
    try {
      cfg = settings(env);
    } catch (error) {
      if (error instanceof Misconfigured) return misconfigured(error);
      throw error;
    }
    const url = new URL(request.url);
    if (cfg.operatorToken && url.pathname === QUEUES_PATH) return queuesView(request, env, cfg);
    if (url.pathname === "/robots.txt") return robots(env, cfg, url);
    if (!url.pathname.startsWith(cfg.prefix)) return fetch(originUrl(env, url), request);
    return licensedFetch(request, env, cfg, url, ctx);
  },
};
