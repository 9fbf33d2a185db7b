// The Worker's settings (its bindings, docs/web-licensing.md "Settings and secrets"),
// read and checked in one place for the fetch handler and the usage queue. A setting
// that does not parse is an error, never a default or NaN: a NaN QUEUE_LIMIT compares
// false with every count, which is a queue that is never full, i.e. unmetered serving.

/** A binding is missing or out of range; `setting` names it. */
export class Misconfigured extends Error {
  constructor(setting, message) {
    super(`${setting} ${message}`);
    this.setting = setting;
  }
}

const DAY_MS = 86_400_000;

// name: [default, least, most]. Whole numbers only (no sign, exponent or fraction).
const NUMBERS = {
  JWKS_COOLDOWN_MS: [5_000, 0, DAY_MS],
  JWKS_MAX_AGE_MS: [600_000, 1, DAY_MS],
  CLOCK_SKEW_S: [30, 0, 3_600],
  MAX_OBJECT_BYTES: [32 * 1024 * 1024, 1, 128 * 1024 * 1024],
  QUEUE_LIMIT: [100_000, 1, 10_000_000],
  QUEUE_BATCH: [500, 1, 10_000],  // the ledger takes at most 10,000 events a request
  QUEUE_FLUSH_DELAY_MS: [1_000, 0, DAY_MS],
  QUEUE_RETRY_MIN_MS: [1_000, 1, DAY_MS],
  QUEUE_RETRY_MAX_MS: [60_000, 1, DAY_MS],
  HOLD_MS: [60_000, 0, DAY_MS],
};

function number(env, name) {
  const [fallback, least, most] = NUMBERS[name];
  const value = env[name];
  if (value === undefined || value === "") return fallback;
  const found = /^[0-9]{1,16}$/.test(String(value)) ? Number(value) : NaN;
  if (!(found >= least && found <= most)) {
    throw new Misconfigured(name, `must be a whole number from ${least} to ${most}`);
  }
  return found;
}

// Cloudflare's location hints: the region a new Durable Object is created in.
const LOCATION_HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"];
// How licensed fetches are spread over usage queues: one for the Worker, or one for each
// Cloudflare location (its `request.cf.colo`) so that a fetch's write stays near it.
const SPLITS = ["none", "colo"];

/** The binding `name`, one of `choices`, or `fallback` when it is unset or empty. */
function choice(env, name, choices, fallback) {
  const value = env[name] || fallback;
  if (value !== fallback && !choices.includes(value)) {
    throw new Misconfigured(name, `must be one of ${choices.join(", ")}`);
  }
  return value;
}

function url(env, name) {
  if (!URL.canParse(env[name] ?? "")) throw new Misconfigured(name, "must be an absolute URL");
  return env[name];
}

function required(env, name, pattern, what) {
  if (!pattern.test(env[name] ?? "")) throw new Misconfigured(name, `must be ${what}`);
  return env[name];
}

function read(env) {
  url(env, "ORIGIN");
  url(env, "LEDGER_URL");
  const issuer = url(env, "ISSUER").replace(/\/+$/, "");
  const rslUrl = env.RSL_URL ? url(env, "RSL_URL") : `${issuer}/rsl.xml`;
  // As the ledger's usage keys file names a source (ledger/core/fields.py SOURCE).
  required(env, "USAGE_SOURCE", /^[a-z0-9][a-z0-9._-]{0,63}$/, "a source id: lower-case letters, digits and ._-");
  required(env, "USAGE_SECRET", /^(?:[0-9a-f]{2}){32,128}$/, "64 to 256 lower-case hex digits");
  const queue = {
    limit: number(env, "QUEUE_LIMIT"),
    batch: number(env, "QUEUE_BATCH"),
    delayMs: number(env, "QUEUE_FLUSH_DELAY_MS"),
    retryMinMs: number(env, "QUEUE_RETRY_MIN_MS"),
    retryMaxMs: number(env, "QUEUE_RETRY_MAX_MS"),
    holdMs: number(env, "HOLD_MS"),
    locationHint: choice(env, "QUEUE_LOCATION_HINT", LOCATION_HINTS, null),
    split: choice(env, "QUEUE_SPLIT", SPLITS, "none"),
  };
  if (queue.retryMaxMs < queue.retryMinMs) {
    throw new Misconfigured("QUEUE_RETRY_MAX_MS", "must not be less than QUEUE_RETRY_MIN_MS");
  }
  if (queue.locationHint && queue.split === "colo") {
    // A hint would put every location's queue in one region: the split's point lost.
    throw new Misconfigured("QUEUE_LOCATION_HINT", "must be unset with QUEUE_SPLIT=colo (each location's queue is made near it)");
  }
  // Optional: without it the operator's view of the queues is not served at all.
  const operatorToken = env.OPERATOR_TOKEN
    ? required(env, "OPERATOR_TOKEN", /^[A-Za-z0-9._~+/=-]{32,512}$/, "32 to 512 characters of a bearer token (letters, digits, ._~+/=-)")
    : null;
  return {
    issuer,
    operatorToken,
    jwksUrl: env.JWKS_URL ? url(env, "JWKS_URL") : `${issuer}/olp/jwks.json`,
    rslUrl,
    link: `<${rslUrl}>; rel="license"; type="application/rsl+xml"`,
    prefix: env.LICENSED_PREFIX || "/",
    jwksCooldownMs: number(env, "JWKS_COOLDOWN_MS"),
    jwksMaxAgeMs: number(env, "JWKS_MAX_AGE_MS"),
    skew: number(env, "CLOCK_SKEW_S"),
    maxBytes: number(env, "MAX_OBJECT_BYTES"),
    retryAfterS: Math.ceil(queue.retryMinMs / 1000),
    queue,
  };
}

// The bindings do not change while an isolate lives: read them once per env object.
const known = new WeakMap();

/** The checked settings of `env`, or Misconfigured naming the first bad binding. */
export function settings(env) {
  let found = known.get(env);
  if (!found) {
    found = read(env);
    known.set(env, found);
  }
  return found;
}
