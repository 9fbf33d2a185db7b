var __defProp = Object.defineProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};

// web/worker/src/settings.js
var Misconfigured = class extends Error {
  constructor(setting, message2) {
    super(`${setting} ${message2}`);
    this.setting = setting;
  }
};
var DAY_MS = 864e5;
var NUMBERS = {
  JWKS_COOLDOWN_MS: [5e3, 0, DAY_MS],
  JWKS_MAX_AGE_MS: [6e5, 1, DAY_MS],
  CLOCK_SKEW_S: [30, 0, 3600],
  MAX_OBJECT_BYTES: [32 * 1024 * 1024, 1, 128 * 1024 * 1024],
  QUEUE_LIMIT: [1e5, 1, 1e7],
  QUEUE_BATCH: [500, 1, 1e4],
  // the ledger takes at most 10,000 events a request
  QUEUE_FLUSH_DELAY_MS: [1e3, 0, DAY_MS],
  QUEUE_RETRY_MIN_MS: [1e3, 1, DAY_MS],
  QUEUE_RETRY_MAX_MS: [6e4, 1, DAY_MS],
  HOLD_MS: [6e4, 0, DAY_MS]
};
function number(env, name) {
  const [fallback, least, most] = NUMBERS[name];
  const value = env[name];
  if (value === void 0 || value === "") return fallback;
  const found = /^[0-9]{1,16}$/.test(String(value)) ? Number(value) : NaN;
  if (!(found >= least && found <= most)) {
    throw new Misconfigured(name, `must be a whole number from ${least} to ${most}`);
  }
  return found;
}
var LOCATION_HINTS = ["wnam", "enam", "sam", "weur", "eeur", "apac", "oc", "afr", "me"];
var SPLITS = ["none", "colo"];
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
    split: choice(env, "QUEUE_SPLIT", SPLITS, "none")
  };
  if (queue.retryMaxMs < queue.retryMinMs) {
    throw new Misconfigured("QUEUE_RETRY_MAX_MS", "must not be less than QUEUE_RETRY_MIN_MS");
  }
  if (queue.locationHint && queue.split === "colo") {
    throw new Misconfigured("QUEUE_LOCATION_HINT", "must be unset with QUEUE_SPLIT=colo (each location's queue is made near it)");
  }
  const operatorToken = env.OPERATOR_TOKEN ? required(env, "OPERATOR_TOKEN", /^[A-Za-z0-9._~+/=-]{32,512}$/, "32 to 512 characters of a bearer token (letters, digits, ._~+/=-)") : null;
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
    retryAfterS: Math.ceil(queue.retryMinMs / 1e3),
    queue
  };
}
var known = /* @__PURE__ */ new WeakMap();
function settings(env) {
  let found = known.get(env);
  if (!found) {
    found = read(env);
    known.set(env, found);
  }
  return found;
}

// node_modules/jose/dist/webapi/lib/buffer_utils.js
var encoder = new TextEncoder();
var decoder = new TextDecoder();
var strictDecoder = new TextDecoder("utf-8", { fatal: true });
var UINT32_RANGE = 2 ** 32;
function concat(...buffers) {
  const size = buffers.reduce((acc, { length }) => acc + length, 0), buf = new Uint8Array(size);
  let i = 0;
  for (const buffer of buffers)
    buf.set(buffer, i), i += buffer.length;
  return buf;
}
var NON_ASCII = /[^\x00-\x7f]/;
function encode(string) {
  if (typeof string == "string" && string.length >= 128) {
    if (NON_ASCII.test(string))
      throw new TypeError("non-ASCII string encountered in encode()");
    return encoder.encode(string);
  }
  const bytes = new Uint8Array(string.length);
  for (let i = 0; i < string.length; i++) {
    const code = string.charCodeAt(i);
    if (code > 127)
      throw new TypeError("non-ASCII string encountered in encode()");
    bytes[i] = code;
  }
  return bytes;
}
function decodeBase64(encoded, url2 = false) {
  if (Uint8Array.fromBase64)
    return Uint8Array.fromBase64(encoded, { alphabet: url2 ? "base64url" : "base64" });
  if (url2) {
    if (encoded.includes("+") || encoded.includes("/"))
      throw new TypeError("Invalid base64url");
    encoded = encoded.replace(/-/g, "+").replace(/_/g, "/");
  }
  const binary = atob(encoded), bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++)
    bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// node_modules/jose/dist/webapi/util/errors.js
var errors_exports = {};
__export(errors_exports, {
  JOSEAlgNotAllowed: () => JOSEAlgNotAllowed,
  JOSEError: () => JOSEError,
  JOSENotSupported: () => JOSENotSupported,
  JWEDecryptionFailed: () => JWEDecryptionFailed,
  JWEInvalid: () => JWEInvalid,
  JWKInvalid: () => JWKInvalid,
  JWKSInvalid: () => JWKSInvalid,
  JWKSMultipleMatchingKeys: () => JWKSMultipleMatchingKeys,
  JWKSNoMatchingKey: () => JWKSNoMatchingKey,
  JWKSTimeout: () => JWKSTimeout,
  JWSInvalid: () => JWSInvalid,
  JWSSignatureVerificationFailed: () => JWSSignatureVerificationFailed,
  JWTClaimValidationFailed: () => JWTClaimValidationFailed,
  JWTExpired: () => JWTExpired,
  JWTInvalid: () => JWTInvalid
});
var JOSEError = class extends Error {
  static code = "ERR_JOSE_GENERIC";
  code = "ERR_JOSE_GENERIC";
  constructor(message2, options) {
    super(message2, options), this.name = this.constructor.name, Error.captureStackTrace?.(this, this.constructor);
  }
};
var JWTClaimValidationFailed = class extends JOSEError {
  static code = "ERR_JWT_CLAIM_VALIDATION_FAILED";
  code = "ERR_JWT_CLAIM_VALIDATION_FAILED";
  claim;
  reason;
  payload;
  constructor(message2, payload, claim = "unspecified", reason = "unspecified") {
    super(message2, { cause: { claim, reason, payload } }), this.claim = claim, this.reason = reason, this.payload = payload;
  }
};
var JWTExpired = class extends JOSEError {
  static code = "ERR_JWT_EXPIRED";
  code = "ERR_JWT_EXPIRED";
  claim;
  reason;
  payload;
  constructor(message2, payload, claim = "unspecified", reason = "unspecified") {
    super(message2, { cause: { claim, reason, payload } }), this.claim = claim, this.reason = reason, this.payload = payload;
  }
};
var JOSEAlgNotAllowed = class extends JOSEError {
  static code = "ERR_JOSE_ALG_NOT_ALLOWED";
  code = "ERR_JOSE_ALG_NOT_ALLOWED";
};
var JOSENotSupported = class extends JOSEError {
  static code = "ERR_JOSE_NOT_SUPPORTED";
  code = "ERR_JOSE_NOT_SUPPORTED";
};
var JWEDecryptionFailed = class extends JOSEError {
  static code = "ERR_JWE_DECRYPTION_FAILED";
  code = "ERR_JWE_DECRYPTION_FAILED";
  constructor(message2 = "decryption operation failed", options) {
    super(message2, options);
  }
};
var JWEInvalid = class extends JOSEError {
  static code = "ERR_JWE_INVALID";
  code = "ERR_JWE_INVALID";
};
var JWSInvalid = class extends JOSEError {
  static code = "ERR_JWS_INVALID";
  code = "ERR_JWS_INVALID";
};
var JWTInvalid = class extends JOSEError {
  static code = "ERR_JWT_INVALID";
  code = "ERR_JWT_INVALID";
};
var JWKInvalid = class extends JOSEError {
  static code = "ERR_JWK_INVALID";
  code = "ERR_JWK_INVALID";
};
var JWKSInvalid = class extends JOSEError {
  static code = "ERR_JWKS_INVALID";
  code = "ERR_JWKS_INVALID";
};
var JWKSNoMatchingKey = class extends JOSEError {
  static code = "ERR_JWKS_NO_MATCHING_KEY";
  code = "ERR_JWKS_NO_MATCHING_KEY";
  constructor(message2 = "no applicable key found in the JSON Web Key Set", options) {
    super(message2, options);
  }
};
var JWKSMultipleMatchingKeys = class extends JOSEError {
  [Symbol.asyncIterator] = async function* () {
  };
  static code = "ERR_JWKS_MULTIPLE_MATCHING_KEYS";
  code = "ERR_JWKS_MULTIPLE_MATCHING_KEYS";
  constructor(message2 = "multiple matching keys found in the JSON Web Key Set", options) {
    super(message2, options);
  }
};
var JWKSTimeout = class extends JOSEError {
  static code = "ERR_JWKS_TIMEOUT";
  code = "ERR_JWKS_TIMEOUT";
  constructor(message2 = "request timed out", options) {
    super(message2, options);
  }
};
var JWSSignatureVerificationFailed = class extends JOSEError {
  static code = "ERR_JWS_SIGNATURE_VERIFICATION_FAILED";
  code = "ERR_JWS_SIGNATURE_VERIFICATION_FAILED";
  constructor(message2 = "signature verification failed", options) {
    super(message2, options);
  }
};

// node_modules/jose/dist/webapi/util/base64url.js
var invalid = "The input to be decoded is not correctly encoded.";
function decode(input) {
  try {
    return decodeBase64(typeof input == "string" ? input : decoder.decode(input), true);
  } catch (cause) {
    throw new TypeError(invalid, { cause });
  }
}

// node_modules/jose/dist/webapi/lib/validate.js
function isObject(input) {
  if (typeof input != "object" || input === null || Object.prototype.toString.call(input) !== "[object Object]")
    return false;
  const prototype = Object.getPrototypeOf(input);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}
function isJwkSet(input) {
  return isObject(input) && Array.isArray(input.keys) && Array.from(input.keys).every(isObject);
}
function isDisjoint(...headers) {
  const parameters = /* @__PURE__ */ new Set();
  for (const header of headers)
    if (header)
      for (const parameter of Object.keys(header)) {
        if (parameters.has(parameter))
          return false;
        parameters.add(parameter);
      }
  return true;
}
function decodeBase64url(value, label, ErrorClass) {
  try {
    return decode(value);
  } catch (cause) {
    throw new ErrorClass(`Failed to base64url decode the ${label}`, { cause });
  }
}
function encodeAsciiMember(value, label, ErrorClass) {
  try {
    return encode(value);
  } catch (cause) {
    throw new ErrorClass(`The ${label} is not a valid base64url string`, { cause });
  }
}
function parseJoseHeader(encodedProtectedHeader, ErrorClass, message2) {
  let parsed;
  try {
    parsed = JSON.parse(strictDecoder.decode(decode(encodedProtectedHeader)));
  } catch (cause) {
    throw new ErrorClass(message2, { cause });
  }
  if (!isObject(parsed))
    throw new ErrorClass(message2);
  return parsed;
}
var JWS_RECOGNIZED = { __proto__: null, b64: true };
function validateAlgorithms(option, algorithms) {
  if (algorithms !== void 0 && (!Array.isArray(algorithms) || algorithms.some((s) => typeof s != "string")))
    throw new TypeError(`"${option}" option must be an array of strings`);
  return algorithms === void 0 ? void 0 : new Set(algorithms);
}
function validateCrit(Err, recognizedDefault, recognizedOption, protectedHeader, joseHeader) {
  if (joseHeader.crit !== void 0 && protectedHeader?.crit === void 0)
    throw new Err('"crit" (Critical) Header Parameter MUST be integrity protected');
  if (!protectedHeader || protectedHeader.crit === void 0)
    return [];
  if (!Array.isArray(protectedHeader.crit) || protectedHeader.crit.length === 0 || protectedHeader.crit.some((input) => typeof input != "string" || input.length === 0))
    throw new Err('"crit" (Critical) Header Parameter MUST be an array of non-empty strings when present');
  const recognized = recognizedOption === void 0 ? recognizedDefault : { __proto__: null, ...recognizedOption, ...recognizedDefault };
  for (const parameter of protectedHeader.crit) {
    if (!(parameter in recognized))
      throw new JOSENotSupported(`Extension Header Parameter "${parameter}" is not recognized`);
    if (!Object.hasOwn(joseHeader, parameter) || joseHeader[parameter] === void 0)
      throw new Err(`Extension Header Parameter "${parameter}" is missing`);
    if (recognized[parameter] && (!Object.hasOwn(protectedHeader, parameter) || protectedHeader[parameter] === void 0))
      throw new Err(`Extension Header Parameter "${parameter}" MUST be integrity protected`);
  }
  return protectedHeader.crit;
}
function validateB64(protectedHeader, extensions) {
  if (extensions.includes("b64")) {
    const b64 = protectedHeader.b64;
    if (typeof b64 != "boolean")
      throw new JWSInvalid('The "b64" (base64url-encode payload) Header Parameter must be a boolean');
    return b64;
  }
  return true;
}

// node_modules/jose/dist/webapi/lib/key.js
var tag = (key) => key[Symbol.toStringTag];
var jwkMatchesOp = (entry, key, usage) => {
  const { alg } = entry;
  if (key.use !== void 0) {
    const expected = usage === "sign" || usage === "verify" ? "sig" : "enc";
    if (key.use !== expected)
      throw new TypeError(`Invalid key for this operation, its "use" must be "${expected}" when present`);
  }
  if (key.alg !== void 0 && key.alg !== alg)
    throw new TypeError(`Invalid key for this operation, its "alg" must be "${alg}" when present`);
  if (Array.isArray(key.key_ops)) {
    const expectedKeyOp = usage === "encrypt" || usage === "decrypt" ? entry.ops?.[usage === "encrypt" ? 0 : 1] : usage;
    if (expectedKeyOp && !key.key_ops.includes(expectedKeyOp))
      throw new TypeError(`Invalid key for this operation, its "key_ops" must include "${expectedKeyOp}" when present`);
  }
};
async function prepareKey(entry, key, usage) {
  const { alg, secret } = entry, requiresPrivateKey = usage === "decrypt" || usage === "sign";
  if (secret && key instanceof Uint8Array)
    return key;
  let normalized, keyObject;
  if (isObject(key)) {
    if (normalized = normalizeJwk(key), typeof normalized.kty != "string")
      throw invalidKeyType(alg, key, secret);
    if (!(secret ? normalized.kty === "oct" && typeof normalized.k == "string" : normalized.kty !== "oct" && (requiresPrivateKey ? normalized.kty === "AKP" && typeof normalized.priv == "string" || typeof normalized.d == "string" : normalized.d === void 0 && normalized.priv === void 0)))
      throw new TypeError(secret ? 'JSON Web Key for symmetric algorithms must have JWK "kty" (Key Type) equal to "oct" and the JWK "k" (Key Value) present' : `JSON Web Key for this operation must be a ${requiresPrivateKey ? "private" : "public"} JWK`);
    if (jwkMatchesOp(entry, normalized, usage), normalized.kty === "oct")
      return decode(normalized.k);
    if (!Object.isFrozen(key)) {
      const { key_ops } = key;
      Array.isArray(key_ops) && Object.freeze(key_ops), Object.freeze(key);
    }
  } else {
    if (!isKeyLike(key))
      throw invalidKeyType(alg, key, secret);
    const expectedType = secret ? "secret" : requiresPrivateKey ? "private" : "public";
    if (key.type !== expectedType && (secret || ["secret", "public", "private"].includes(key.type)))
      throw new TypeError(`${tag(key)} instances must be of type "${expectedType}" for the ${alg} algorithm`);
    if (isCryptoKey(key))
      return key;
    if (keyObject = key, keyObject.type === "secret")
      return keyObject.export();
  }
  cache ||= /* @__PURE__ */ new WeakMap();
  const cacheKey = key;
  let cached = cache.get(cacheKey);
  if (cached?.[alg])
    return cached[alg];
  if (cached || cache.set(cacheKey, cached = {}), keyObject && typeof keyObject.toCryptoKey == "function") {
    const isPublic = keyObject.type === "public", crv = nist[keyObject.asymmetricKeyDetails?.namedCurve], params = entry.resolve?.({ crv, asymmetricKeyType: keyObject.asymmetricKeyType }) ?? entry.subtle;
    return cached[alg] = keyObject.toCryptoKey(params, isPublic, entry.usages[isPublic ? 0 : 1]);
  }
  return normalized ??= keyObject.export({ format: "jwk" }), normalized.alg = alg, cached[alg] = await jwkToKey(entry, normalized);
}
var cache;
var nist = {
  __proto__: null,
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521"
};
var isCryptoKey = (key) => {
  if (key?.[Symbol.toStringTag] === "CryptoKey")
    return true;
  try {
    return key instanceof CryptoKey;
  } catch {
    return false;
  }
};
var isKeyObject = (key) => key?.[Symbol.toStringTag] === "KeyObject";
var isKeyLike = (key) => isCryptoKey(key) || isKeyObject(key);
function message(msg, actual, ...types) {
  if (types.length > 2) {
    const last = types.pop();
    msg += `one of type ${types.join(", ")}, or ${last}.`;
  } else types.length === 2 ? msg += `one of type ${types[0]} or ${types[1]}.` : msg += `of type ${types[0]}.`;
  return actual == null ? msg += ` Received ${actual}` : typeof actual == "function" && actual.name ? msg += ` Received function ${actual.name}` : typeof actual == "object" && actual != null && actual.constructor?.name && (msg += ` Received an instance of ${actual.constructor.name}`), msg;
}
function invalidKeyType(alg, actual, secret) {
  const types = ["CryptoKey", "KeyObject", "JSON Web Key"];
  return secret && types.push("Uint8Array"), new TypeError(message(`Key for the ${alg} algorithm must be `, actual, ...types));
}
var unusable = (name, prop = "algorithm.name") => new TypeError(`CryptoKey does not support this operation, its ${prop} must be ${name}`);
function checkUsage(key, usage) {
  if (usage && !key.usages.includes(usage))
    throw new TypeError(`CryptoKey does not support this operation, its usages must include ${usage}.`);
}
function checkModulusLength(alg, key) {
  const { modulusLength } = key.algorithm;
  if (typeof modulusLength != "number" || modulusLength < 2048)
    throw new TypeError(`${alg} requires key modulusLength to be 2048 bits or larger`);
}
function checkCryptoKey(key, expected, usage) {
  const algorithm = key.algorithm;
  if (algorithm.name !== expected.name)
    throw unusable(expected.name);
  if (expected.hash && algorithm.hash?.name !== expected.hash)
    throw unusable(expected.hash, "algorithm.hash");
  if (expected.namedCurve && algorithm.namedCurve !== expected.namedCurve)
    throw unusable(expected.namedCurve, "algorithm.namedCurve");
  if (expected.length !== void 0 && algorithm.length !== expected.length)
    throw unusable(expected.length, "algorithm.length");
  checkUsage(key, usage);
}
function snapshotJwk(jwk) {
  return { __proto__: null, ...jwk };
}
function normalizeJwk(jwk) {
  const normalized = snapshotJwk(jwk);
  if (normalized.ext !== void 0 && typeof normalized.ext != "boolean")
    throw new TypeError('"ext" (Extractable) Parameter must be a boolean');
  if (normalized.key_ops !== void 0) {
    const value = normalized.key_ops, keyOps = Array.isArray(value) ? [...value] : void 0;
    if (!keyOps || keyOps.some((operation) => typeof operation != "string") || new Set(keyOps).size !== keyOps.length)
      throw new TypeError('"key_ops" (Key Operations) Parameter must be an array of unique strings');
    normalized.key_ops = keyOps;
  }
  return normalized;
}
async function jwkToKey(entry, jwk, extractable) {
  if (!entry.kty.includes(jwk.kty))
    throw new JOSENotSupported('Invalid or unsupported JWK "alg" (Algorithm) Parameter value');
  const algorithm = entry.resolve?.({ kty: jwk.kty, crv: jwk.crv }) ?? entry.subtle, isPrivate = !!(jwk.d || jwk.priv), keyData = { ...jwk, ext: extractable ?? jwk.ext };
  return keyData.kty !== "AKP" && delete keyData.alg, delete keyData.use, crypto.subtle.importKey("jwk", keyData, algorithm, keyData.ext ?? !isPrivate, jwk.key_ops ?? entry.usages[isPrivate ? 1 : 0]);
}
async function rawKey(key, expected, usage, extractable = false) {
  return key instanceof Uint8Array && (key = await crypto.subtle.importKey("raw", key, expected, extractable, [usage])), checkCryptoKey(key, expected, usage), key;
}

// node_modules/jose/dist/webapi/lib/key_descriptor.js
function table(entries) {
  const out = { __proto__: null };
  for (const alg in entries)
    out[alg] = { ...entries[alg], alg };
  return out;
}

// node_modules/jose/dist/webapi/lib/jws_algorithms.js
var sig = [["verify"], ["sign"]];
function hmac(bits) {
  const subtle = { name: "HMAC", hash: `SHA-${bits}` };
  return { kty: ["oct"], secret: true, subtle, signing: subtle, usages: sig };
}
function rsa(bits, saltLength) {
  const subtle = { name: saltLength ? "RSA-PSS" : "RSASSA-PKCS1-v1_5", hash: `SHA-${bits}` };
  return {
    kty: ["RSA"],
    subtle,
    signing: saltLength ? { ...subtle, saltLength } : subtle,
    usages: sig,
    minRsaBits: 2048
  };
}
function ecdsa(crv, bits) {
  return {
    kty: ["EC"],
    crv,
    subtle: { name: "ECDSA", namedCurve: crv },
    signing: { name: "ECDSA", hash: `SHA-${bits}` },
    usages: sig
  };
}
function eddsa() {
  const subtle = { name: "Ed25519" };
  return {
    kty: ["OKP"],
    crv: "Ed25519",
    subtle,
    signing: subtle,
    usages: sig
  };
}
function mldsa(parameterSet) {
  const subtle = { name: `ML-DSA-${parameterSet}` };
  return {
    kty: ["AKP"],
    subtle,
    signing: subtle,
    usages: sig
  };
}
var JWS = table({
  HS256: hmac(256),
  HS384: hmac(384),
  HS512: hmac(512),
  RS256: rsa(256),
  RS384: rsa(384),
  RS512: rsa(512),
  PS256: rsa(256, 32),
  PS384: rsa(384, 48),
  PS512: rsa(512, 64),
  ES256: ecdsa("P-256", 256),
  ES384: ecdsa("P-384", 384),
  ES512: ecdsa("P-521", 512),
  EdDSA: eddsa(),
  Ed25519: eddsa(),
  "ML-DSA-44": mldsa(44),
  "ML-DSA-65": mldsa(65),
  "ML-DSA-87": mldsa(87)
});
function jwsAlgorithm(alg) {
  const entry = typeof alg == "string" ? JWS[alg] : void 0;
  if (!entry)
    throw new JOSENotSupported(`alg ${alg} is not supported either by JOSE or your javascript runtime`);
  return entry;
}

// node_modules/jose/dist/webapi/lib/jws_verify.js
function prepareVerify(options) {
  return [options && validateAlgorithms("algorithms", options.algorithms), options?.crit];
}
function parseProtectedHeader(encodedProtectedHeader) {
  return encodedProtectedHeader === void 0 ? {} : parseJoseHeader(encodedProtectedHeader, JWSInvalid, "JWS Protected Header is invalid");
}
function encodeCompactUnencodedPayload(payload) {
  try {
    return encode(payload);
  } catch (cause) {
    throw new JWSInvalid("JWS Compact Serialization payload must use only ASCII characters", {
      cause
    });
  }
}
async function verifySignature(jws, shared, key, encodeUnencodedPayload, parsedProtected) {
  const { protected: encodedProtectedHeader, header, payload: inputPayload } = jws, protectedHeader = parsedProtected ?? parseProtectedHeader(encodedProtectedHeader);
  if (!isDisjoint(protectedHeader, header))
    throw new JWSInvalid("JWS Protected and JWS Unprotected Header Parameter names must be disjoint");
  const joseHeader = { ...protectedHeader, ...header }, b64 = validateB64(protectedHeader, validateCrit(JWSInvalid, JWS_RECOGNIZED, shared[1], protectedHeader, joseHeader)), { alg } = joseHeader;
  if (typeof alg != "string" || !alg)
    throw new JWSInvalid('JWS "alg" (Algorithm) Header Parameter missing or invalid');
  if (shared[0] && !shared[0].has(alg))
    throw new JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  if (b64) {
    if (typeof inputPayload != "string")
      throw new JWSInvalid("JWS Payload must be a string");
  } else if (typeof inputPayload != "string" && !(inputPayload instanceof Uint8Array))
    throw new JWSInvalid("JWS Payload must be a string or an Uint8Array instance");
  const signingPayload = b64 || typeof inputPayload != "string" ? inputPayload : encodeUnencodedPayload(inputPayload);
  let resolvedKey = false;
  typeof key == "function" && (key = await key(protectedHeader, jws), resolvedKey = true);
  const entry = jwsAlgorithm(alg), signingInput = concat(encodedProtectedHeader !== void 0 ? encode(encodedProtectedHeader) : new Uint8Array(), encode("."), typeof signingPayload == "string" ? shared[2] ??= encodeAsciiMember(signingPayload, "payload", JWSInvalid) : signingPayload), signature = decodeBase64url(jws.signature, "signature", JWSInvalid), verificationKey = await prepareKey(entry, key, "verify"), cryptoKey = await rawKey(verificationKey, entry.subtle, "verify");
  entry.minRsaBits && checkModulusLength(entry.alg, cryptoKey);
  let verified = false;
  try {
    verified = await crypto.subtle.verify(entry.signing, cryptoKey, signature, signingInput);
  } catch (cause) {
    throw new JWSSignatureVerificationFailed(void 0, { cause });
  }
  if (!verified)
    throw new JWSSignatureVerificationFailed();
  const result = { payload: typeof signingPayload == "string" ? decodeBase64url(signingPayload, "payload", JWSInvalid) : signingPayload };
  return encodedProtectedHeader !== void 0 && (result.protectedHeader = protectedHeader), header !== void 0 && (result.unprotectedHeader = header), resolvedKey ? [{ ...result, key: verificationKey }, b64] : [result, b64];
}
async function verifyCompact(jws, shared, key) {
  if (jws instanceof Uint8Array && (jws = decoder.decode(jws)), typeof jws != "string")
    throw new JWSInvalid("Compact JWS must be a string or Uint8Array");
  const { 0: protectedHeader, 1: payload, 2: signature, length } = jws.split(".");
  if (length !== 3)
    throw new JWSInvalid("Invalid Compact JWS");
  return verifySignature({ payload, protected: protectedHeader, signature }, shared, key, encodeCompactUnencodedPayload);
}

// node_modules/jose/dist/webapi/lib/jwt_claims_set.js
var epoch = (date) => Math.floor(date.getTime() / 1e3);
var multipliers = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
  y: 31557600
};
var REGEX = /^(\+|\-)? ?(\d+|\d+\.\d+) ?(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)(?: (ago|from now))?$/i;
var checkFailed = "check_failed";
function invalidDuration() {
  throw new TypeError("Invalid time period format");
}
function secs(str) {
  typeof str != "string" && invalidDuration();
  const matched = REGEX.exec(str);
  (!matched || matched[4] && matched[1]) && invalidDuration();
  const value = parseFloat(matched[2]), durationSeconds = Math.round(value * multipliers[matched[3][0].toLowerCase()]);
  return Number.isFinite(durationSeconds) || invalidDuration(), matched[1] === "-" || matched[4] === "ago" ? -durationSeconds : durationSeconds;
}
function validateInput(label, input) {
  if (!Number.isFinite(input))
    throw new TypeError(`Invalid ${label} input`);
  return input;
}
var normalizeTyp = (value) => {
  const normalized = value.toLowerCase();
  return value.includes("/") ? normalized : `application/${normalized}`;
};
var checkAudiencePresence = (audPayload, audOption) => typeof audPayload == "string" ? audOption.includes(audPayload) : Array.isArray(audPayload) ? audOption.some((aud) => audPayload.includes(aud)) : false;
function validateNumericDate(claimsSet, claim, required2 = false) {
  const value = claimsSet[claim];
  if (!(value === void 0 && !required2)) {
    if (typeof value != "number")
      throw new JWTClaimValidationFailed(`"${claim}" claim must be a number`, claimsSet, claim, "invalid");
    return value;
  }
}
function unexpectedClaim(claimsSet, claim) {
  throw new JWTClaimValidationFailed(`unexpected "${claim}" claim value`, claimsSet, claim, checkFailed);
}
function validateClaimsSet(protectedHeader, claimsSetBytes, options = {}) {
  let claimsSet;
  try {
    claimsSet = JSON.parse(strictDecoder.decode(claimsSetBytes));
  } catch (cause) {
    throw new JWTInvalid("JWT Claims Set must be a top-level JSON object", { cause });
  }
  if (!isObject(claimsSet))
    throw new JWTInvalid("JWT Claims Set must be a top-level JSON object");
  const { typ } = options;
  if (typ !== void 0 && (typeof protectedHeader.typ != "string" || normalizeTyp(protectedHeader.typ) !== normalizeTyp(typ)))
    throw new JWTClaimValidationFailed('unexpected "typ" JWT header value', claimsSet, "typ", checkFailed);
  const { requiredClaims = [], issuer, subject, audience, maxTokenAge } = options, presenceCheck = [...requiredClaims];
  maxTokenAge !== void 0 && presenceCheck.push("iat"), audience !== void 0 && presenceCheck.push("aud"), subject !== void 0 && presenceCheck.push("sub"), issuer !== void 0 && presenceCheck.push("iss");
  for (const claim of new Set(presenceCheck.reverse()))
    if (!Object.hasOwn(claimsSet, claim))
      throw new JWTClaimValidationFailed(`missing required "${claim}" claim`, claimsSet, claim, "missing");
  issuer !== void 0 && !(Array.isArray(issuer) ? issuer : [issuer]).includes(claimsSet.iss) && unexpectedClaim(claimsSet, "iss"), subject !== void 0 && claimsSet.sub !== subject && unexpectedClaim(claimsSet, "sub"), audience !== void 0 && !checkAudiencePresence(claimsSet.aud, typeof audience == "string" ? [audience] : audience) && unexpectedClaim(claimsSet, "aud");
  const { clockTolerance } = options;
  let tolerance = 0;
  if (typeof clockTolerance == "string")
    tolerance = secs(clockTolerance);
  else if (clockTolerance !== void 0) {
    if (typeof clockTolerance != "number")
      throw new TypeError("Invalid clockTolerance option type");
    tolerance = clockTolerance;
  }
  if (validateInput("clockTolerance option", tolerance), tolerance < 0)
    throw new TypeError("Invalid clockTolerance option input");
  const { currentDate } = options, now = validateInput("currentDate option", epoch(currentDate === void 0 ? /* @__PURE__ */ new Date() : currentDate)), iat = validateNumericDate(claimsSet, "iat", maxTokenAge !== void 0), nbf = validateNumericDate(claimsSet, "nbf");
  if (nbf !== void 0 && nbf > now + tolerance)
    throw new JWTClaimValidationFailed('"nbf" claim timestamp check failed', claimsSet, "nbf", checkFailed);
  const exp = validateNumericDate(claimsSet, "exp");
  if (exp !== void 0 && exp <= now - tolerance)
    throw new JWTExpired('"exp" claim timestamp check failed', claimsSet, "exp", checkFailed);
  if (maxTokenAge !== void 0) {
    const age = now - iat, max = validateInput("maxTokenAge option", typeof maxTokenAge == "number" ? maxTokenAge : secs(maxTokenAge));
    if (max < 0)
      throw new TypeError("Invalid maxTokenAge option input");
    if (age - tolerance > max)
      throw new JWTExpired('"iat" claim timestamp check failed (too far in the past)', claimsSet, "iat", checkFailed);
    if (age < -tolerance)
      throw new JWTClaimValidationFailed('"iat" claim timestamp check failed (it should be in the past)', claimsSet, "iat", checkFailed);
  }
  return claimsSet;
}

// node_modules/jose/dist/webapi/jwt/verify.js
async function jwtVerify(jwt, key, options) {
  const [verified, b64] = await verifyCompact(jwt, prepareVerify(options), key);
  if (!b64)
    throw new JWTInvalid("JWTs MUST NOT use unencoded payload");
  const payload = validateClaimsSet(verified.protectedHeader, verified.payload, options);
  return { ...verified, payload };
}

// node_modules/jose/dist/webapi/jwks/local.js
function isUsableJWK(jwk, entry, alg, kid) {
  const { kty, key_ops: keyOps, ext, kid: jwkKid, alg: jwkAlg, use, crv } = jwk;
  return (ext === void 0 || typeof ext == "boolean") && (keyOps === void 0 || Array.isArray(keyOps) && keyOps.every((operation, index) => typeof operation == "string" && keyOps.indexOf(operation) === index) && keyOps.includes("verify")) && entry.kty.includes(kty) && (kid === void 0 || typeof kid == "string" && kid === jwkKid) && (jwkAlg === void 0 ? kty !== "AKP" : alg === jwkAlg) && (use === void 0 || use === "sig") && (!entry.crv || crv === entry.crv);
}
async function importWithAlgCache(cache2, jwk, entry) {
  const cached = cache2.get(jwk) || cache2.set(jwk, {}).get(jwk), { alg } = entry;
  if (cached[alg] === void 0) {
    const pending = jwkToKey(entry, jwk, true).then((key) => {
      if (key.type !== "public")
        throw new JWKSInvalid("JSON Web Key Set members must be public keys");
      return cached[alg] = key, key;
    }).catch((error) => {
      throw cached[alg] === pending && delete cached[alg], error;
    });
    cached[alg] = pending;
  }
  return cached[alg];
}
function createLocalJWKSet(jwks) {
  let snapshot;
  try {
    snapshot = structuredClone(jwks);
  } catch (cause) {
    throw new JWKSInvalid("JSON Web Key Set malformed", { cause });
  }
  if (!isJwkSet(snapshot))
    throw new JWKSInvalid("JSON Web Key Set malformed");
  const metadata = snapshot.keys.map((jwk) => {
    const normalized = snapshotJwk(jwk);
    return Array.isArray(normalized.key_ops) && (normalized.key_ops = [...normalized.key_ops]), normalized;
  }), cached = /* @__PURE__ */ new WeakMap();
  return Object.defineProperty(async (protectedHeader, token) => {
    const { alg, kid } = { ...protectedHeader, ...token?.header }, entry = typeof alg == "string" ? JWS[alg] : void 0;
    if (!entry || entry.secret)
      throw new JOSENotSupported('Unsupported "alg" value for a JSON Web Key Set');
    const candidates = snapshot.keys.filter((_, index) => isUsableJWK(metadata[index], entry, alg, kid)), { 0: jwk, length } = candidates;
    if (!length)
      throw new JWKSNoMatchingKey();
    if (length !== 1) {
      const error = new JWKSMultipleMatchingKeys();
      throw error[Symbol.asyncIterator] = async function* () {
        for (const jwk2 of candidates)
          try {
            yield await importWithAlgCache(cached, jwk2, entry);
          } catch {
          }
      }, error;
    }
    return importWithAlgCache(cached, jwk, entry);
  }, "jwks", {
    value: () => structuredClone(snapshot)
  });
}

// node_modules/jose/dist/webapi/jwks/remote.js
function isCloudflareWorkers() {
  return typeof WebSocketPair < "u" || typeof navigator < "u" && navigator.userAgent === "Cloudflare-Workers" || typeof EdgeRuntime < "u" && EdgeRuntime === "vercel";
}
var USER_AGENT;
(typeof navigator > "u" || !navigator.userAgent?.startsWith?.("Mozilla/5.0 ")) && (USER_AGENT = "jose/v6.2.17");
var customFetch = /* @__PURE__ */ Symbol();
async function fetchJwks(url2, headers, signal, fetchImpl = fetch) {
  const response = await fetchImpl(url2, {
    method: "GET",
    signal,
    redirect: "manual",
    headers
  }).catch((err) => {
    throw err.name === "TimeoutError" ? new JWKSTimeout(void 0, { cause: err }) : err;
  });
  if (response.status !== 200)
    throw new JOSEError("Expected 200 OK from the JSON Web Key Set HTTP response");
  try {
    return await response.json();
  } catch (cause) {
    throw new JOSEError("Failed to parse the JSON Web Key Set HTTP response as JSON", { cause });
  }
}
var jwksCache = /* @__PURE__ */ Symbol();
function isFreshFor(timestamp, duration) {
  return Number.isFinite(timestamp) && Date.now() < timestamp + duration;
}
function validateDuration(value, fallback, option) {
  if (Number.isNaN(value))
    throw new TypeError(`"${option}" option must not be NaN`);
  if (typeof value == "number" && value < 0)
    throw new TypeError(`"${option}" option must not be negative`);
  return typeof value == "number" ? value : fallback;
}
function createRemoteJWKSet(url2, options) {
  if (!(url2 instanceof URL))
    throw new TypeError("url must be an instance of URL");
  const href = new URL(url2.href).href, opts = options ?? {}, timeoutOption = opts.timeoutDuration;
  if (typeof timeoutOption == "number" && (!Number.isInteger(timeoutOption) || timeoutOption < 0))
    throw new TypeError('"timeoutDuration" option must be a non-negative integer');
  const timeoutDuration = typeof timeoutOption == "number" ? timeoutOption : 5e3, cooldownDuration = validateDuration(opts.cooldownDuration, 3e4, "cooldownDuration"), cacheMaxAge = validateDuration(opts.cacheMaxAge, 6e5, "cacheMaxAge"), headers = new Headers(opts.headers);
  USER_AGENT && !headers.has("User-Agent") && headers.set("User-Agent", USER_AGENT), headers.has("accept") || headers.set("accept", "application/json, application/jwk-set+json");
  const fetchImpl = opts[customFetch], cache2 = opts[jwksCache];
  let jwksTimestamp, pendingFetch, reloadSequence = 0, appliedSequence = 0, local;
  if (cache2 && typeof cache2 == "object") {
    const { uat, jwks } = cache2;
    isFreshFor(uat, cacheMaxAge) && isJwkSet(jwks) && (jwksTimestamp = uat, local = createLocalJWKSet(jwks));
  }
  const reload = async () => {
    if (pendingFetch && isCloudflareWorkers() && (pendingFetch = void 0), !pendingFetch) {
      const sequence = ++reloadSequence, current = pendingFetch = fetchJwks(href, headers, AbortSignal.timeout(timeoutDuration), fetchImpl).then((json2) => {
        const next = createLocalJWKSet(json2);
        if (sequence <= appliedSequence)
          return;
        local = next;
        const updatedAt = Date.now();
        cache2 && (cache2.uat = updatedAt, cache2.jwks = json2), jwksTimestamp = updatedAt, appliedSequence = sequence;
      }).finally(() => {
        pendingFetch === current && (pendingFetch = void 0);
      });
    }
    await pendingFetch;
  };
  return Object.defineProperties(async (protectedHeader, token) => {
    (!local || !isFreshFor(jwksTimestamp, cacheMaxAge)) && await reload();
    try {
      return await local(protectedHeader, token);
    } catch (err) {
      if (err instanceof JWKSNoMatchingKey && !isFreshFor(jwksTimestamp, cooldownDuration))
        return await reload(), local(protectedHeader, token);
      throw err;
    }
  }, {
    coolingDown: {
      get: () => isFreshFor(jwksTimestamp, cooldownDuration),
      enumerable: true
    },
    fresh: {
      get: () => isFreshFor(jwksTimestamp, cacheMaxAge),
      enumerable: true
    },
    reload: {
      value: reload,
      enumerable: true
    },
    reloading: {
      get: () => !!pendingFetch,
      enumerable: true
    },
    jwks: {
      value: () => local?.jwks(),
      enumerable: true
    }
  });
}

// web/worker/src/tokens.js
var keySets = /* @__PURE__ */ new Map();
var KeysUnavailable = class extends Error {
};
function entryFor(url2, { jwksCooldownMs, jwksMaxAgeMs }) {
  let entry = keySets.get(url2);
  if (!entry) {
    const cache2 = {};
    const remote = createRemoteJWKSet(new URL(url2), {
      cooldownDuration: jwksCooldownMs,
      cacheMaxAge: jwksMaxAgeMs,
      timeoutDuration: 2e3,
      [jwksCache]: cache2
    });
    entry = { remote, cache: cache2, savedAt: void 0, failedAt: -Infinity, local: null };
    keySets.set(url2, entry);
  }
  return entry;
}
function keyResolver(cfg, store) {
  const entry = entryFor(cfg.jwksUrl, cfg);
  const kept = async () => {
    const known2 = entry.remote.jwks() ?? JSON.parse(await store.load() ?? "null");
    return known2 ? entry.local ??= createLocalJWKSet(known2) : null;
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
      if (error instanceof errors_exports.JWKSNoMatchingKey || error instanceof errors_exports.JWKSMultipleMatchingKeys) throw error;
      entry.failedAt = Date.now();
      const local = await kept();
      if (!local) throw new KeysUnavailable("the licence server's keys cannot be fetched");
      return local(header, token);
    }
  };
}
var SHA256 = /^sha256:[0-9a-f]{64}$/;
var ADDRESS = /^0x[0-9a-fA-F]{40}$/;
var JTI = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$/;
var TokenRefused = class extends Error {
  constructor(error, description) {
    super(description);
    this.error = error;
  }
};
async function checkToken(token, cfg, store) {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, keyResolver(cfg, store), {
      issuer: cfg.issuer,
      algorithms: ["ES256"],
      clockTolerance: cfg.skew,
      requiredClaims: ["exp", "jti", "asset", "buyer", "ledger_asset"]
    }));
  } catch (error) {
    if (error instanceof errors_exports.JWTExpired) throw new TokenRefused("invalid_token", "the licence token has expired");
    if (error instanceof errors_exports.JOSEError) throw new TokenRefused("invalid_token", "the licence token is not valid");
    throw error;
  }
  const asset = payload.ledger_asset;
  if (!SHA256.test(payload.asset) || !ADDRESS.test(payload.buyer) || !JTI.test(payload.jti) || typeof asset !== "object" || asset === null || typeof asset.manifestDigest !== "string" || typeof asset.assetId !== "string") {
    throw new TokenRefused("invalid_token", "the licence token lacks the claims this resource needs");
  }
  return payload;
}

// web/worker/src/usage.js
var encoder2 = new TextEncoder();
var USAGE_TAG = "ledger-usage-v1\n";
function usageEvent(claims, requestId, source, at) {
  return {
    eventId: `olp:${claims.jti}:${requestId}`,
    buyer: claims.buyer,
    asset: { manifestDigest: claims.ledger_asset.manifestDigest, assetId: claims.ledger_asset.assetId },
    units: 1,
    time: new Date(at).toISOString(),
    source
  };
}
var hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
var fromHex = (text) => Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
async function usageHeaders(secretHex, source, body, timestamp) {
  const key = await crypto.subtle.importKey("raw", fromHex(secretHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const stamp = String(timestamp);
  const mac = await crypto.subtle.sign("HMAC", key, encoder2.encode(`${USAGE_TAG}${source}
${stamp}
${body}`));
  return {
    "X-Ledger-Source": source,
    "X-Ledger-Timestamp": stamp,
    "X-Ledger-Signature": `v1=${hex(mac)}`,
    "Content-Type": "application/json"
  };
}
async function contentHash(bytes) {
  return `sha256:${hex(await crypto.subtle.digest("SHA-256", bytes))}`;
}

// web/worker/src/queue.js
import { DurableObject } from "cloudflare:workers";
var SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS refused (id TEXT PRIMARY KEY, body TEXT NOT NULL, status INTEGER NOT NULL, code TEXT, at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS holds (key TEXT PRIMARY KEY, kind TEXT NOT NULL, until INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS keys (id INTEGER PRIMARY KEY CHECK (id = 1), jwks TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, since INTEGER NOT NULL);
`;
var HOLDS = { buyer_withdrawing: "unpaid", licence_refused: "refused" };
var useKey = (event) => `${event.buyer}/${event.asset.manifestDigest}/${event.asset.assetId}`;
var json = (obj) => new Response(JSON.stringify(obj), { headers: { "Content-Type": "application/json" } });
var UsageQueue = class extends DurableObject {
  constructor(state, env) {
    super(state, env);
    this.storage = state.storage;
    this.sql = state.storage.sql;
    this.env = env;
    this.settings = settings(env).queue;
    this.sql.exec(SCHEMA);
    this.queued = this.sql.exec("SELECT COUNT(*) AS n FROM events").one().n;
    this.alarmSet = false;
    this.pending = [];
    this.group = null;
  }
  /** The licence server's last key set (JSON text), kept for a restart during an outage. */
  keys() {
    return this.sql.exec("SELECT jwks FROM keys").toArray()[0]?.jwks ?? null;
  }
  saveKeys(jwks) {
    this.sql.exec("INSERT OR REPLACE INTO keys (id, jwks) VALUES (1, ?)", jwks);
  }
  /** Note the usage queue `name` (RPC; kept by the queue named "usage" for the
   * operator's view, since with QUEUE_SPLIT=colo nothing else lists the locations'). */
  register(name) {
    this.sql.exec("INSERT OR IGNORE INTO queues (name, since) VALUES (?, ?)", name, Date.now());
  }
  /** The names `register` noted, in order. */
  queueNames() {
    return this.sql.exec("SELECT name FROM queues ORDER BY name").toArray().map((row) => row.name);
  }
  /** The queue's counts and its latest refusals, for the operator and the tests (the
   * Worker never routes a request here). */
  async fetch() {
    return json(this.stats());
  }
  /**
   * Store one event (RPC from the Worker): "queued", or why the fetch must be refused
   * ("unpaid", "refused": a hold, below; "full"). The write is durable before the
   * answer leaves the object.
   */
  async append(event) {
    const hold = this.held(event);
    if (hold !== "clear") return hold;
    if (this.queued + this.pending.length >= this.settings.limit) return "full";
    this.pending.push(event);
    this.group ??= new Promise((resolve) => setTimeout(resolve, 0)).then(() => this.commit());
    await this.group;
    return "queued";
  }
  /** Why the ledger holds fetches of `event`'s buyer or use ("unpaid", "refused"), or
   * "clear" (RPC for a HEAD, which is answered as its GET would be but stores nothing). */
  held(event) {
    const hold = this.sql.exec(
      "SELECT kind FROM holds WHERE key IN (?, ?) AND until > ?",
      event.buyer,
      useKey(event),
      Date.now()
    ).toArray()[0];
    return hold ? hold.kind : "clear";
  }
  async commit() {
    const events = this.pending;
    this.pending = [];
    this.group = null;
    this.storage.transactionSync(() => {
      for (const event of events) {
        const stored = this.sql.exec("INSERT OR IGNORE INTO events (id, body) VALUES (?, ?)", event.eventId, JSON.stringify(event));
        this.queued += stored.rowsWritten > 0 ? 1 : 0;
      }
    });
    if (!this.alarmSet) {
      if (await this.storage.getAlarm() === null) await this.storage.setAlarm(Date.now() + this.settings.delayMs);
      this.alarmSet = true;
    }
  }
  stats() {
    const counter = (name) => this.sql.exec("SELECT value FROM counters WHERE name = ?", name).toArray()[0]?.value ?? 0;
    return {
      queued: this.queued,
      refused: this.sql.exec("SELECT id, status, code FROM refused ORDER BY at DESC LIMIT 100").toArray(),
      delivered: counter("delivered"),
      failures: counter("failures")
    };
  }
  /** Send the oldest batch; on failure try again later, doubling the wait up to a bound. */
  async alarm() {
    this.alarmSet = false;
    const rows = this.sql.exec("SELECT id, body FROM events ORDER BY seq LIMIT ?", this.settings.batch).toArray();
    if (rows.length === 0) return;
    let results = null;
    try {
      results = await this.deliver(rows);
    } catch {
      results = null;
    }
    if (results === null) {
      const failures = this.count("failures", 1);
      const wait = Math.min(this.settings.retryMaxMs, this.settings.retryMinMs * 2 ** Math.min(failures - 1, 16));
      await this.storage.setAlarm(Date.now() + wait);
      this.alarmSet = true;
      return;
    }
    this.sql.exec("INSERT OR REPLACE INTO counters (name, value) VALUES ('failures', 0)");
    this.settle(rows, results);
    if (this.queued > 0) {
      await this.storage.setAlarm(Date.now() + (this.queued >= this.settings.batch ? 0 : this.settings.delayMs));
      this.alarmSet = true;
    }
  }
  /** The ledger's per-event answers to one batch, or null if it gave none. */
  async deliver(rows) {
    const body = `{"events":[${rows.map((row) => row.body).join(",")}]}`;
    const headers = await usageHeaders(this.env.USAGE_SECRET, this.env.USAGE_SOURCE, body, Math.floor(Date.now() / 1e3));
    const response = await fetch(new URL("/v1/usage", this.env.LEDGER_URL), { method: "POST", headers, body });
    const answer = response.headers.get("Content-Type")?.startsWith("application/json") ? await response.json() : null;
    if (!Array.isArray(answer?.results) || answer.results.length !== rows.length) return null;
    return answer.results;
  }
  /**
   * Drop what the ledger stored; keep what it refused, for the operator. A refusal the
   * ledger would repeat becomes a hold for `holdMs`, so the edge stops serving what
   * it cannot charge: a buyer withdrawing its deposit ("unpaid"), or this buyer's use
   * of an asset whose licence no longer allows it ("refused": revoked, consent
   * withdrawn, taken down, another buyer's exclusivity).
   */
  settle(rows, results) {
    let delivered = 0;
    const now = Date.now();
    rows.forEach((row, i) => {
      const result = results[i];
      if (result.httpStatus === 202 || result.httpStatus === 200) {
        delivered += 1;
      } else {
        const code = result.error?.code ?? null;
        this.sql.exec(
          "INSERT OR REPLACE INTO refused (id, body, status, code, at) VALUES (?, ?, ?, ?, ?)",
          row.id,
          row.body,
          result.httpStatus,
          code,
          now
        );
        const event = JSON.parse(row.body);
        const hold = HOLDS[code];
        if (hold) {
          this.sql.exec(
            "INSERT OR REPLACE INTO holds (key, kind, until) VALUES (?, ?, ?)",
            hold === "unpaid" ? event.buyer : useKey(event),
            hold,
            now + this.settings.holdMs
          );
        }
      }
      this.sql.exec("DELETE FROM events WHERE id = ?", row.id);
    });
    this.queued -= rows.length;
    this.count("delivered", delivered);
  }
  count(name, n) {
    return this.sql.exec(
      "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value",
      name,
      n
    ).one().value;
  }
};

// web/worker/src/worker.js
var quoted = (text) => `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
function refusal(cfg, status, error, description, extra = {}) {
  const challenge = `License realm=${quoted(cfg.issuer)}, error=${quoted(error)}, error_description=${quoted(description)}`;
  return new Response(JSON.stringify({ error: { code: error, message: description } }), {
    status,
    headers: {
      "Content-Type": "application/json",
      "WWW-Authenticate": challenge,
      Link: cfg.link,
      "Cache-Control": "no-store",
      ...extra
    }
  });
}
function notAllowed() {
  return new Response(null, { status: 405, headers: { Allow: "GET, HEAD" } });
}
function unavailable(cfg, description) {
  return refusal(cfg, 503, "temporarily_unavailable", description, { "Retry-After": String(cfg.retryAfterS) });
}
function originUrl(env, url2) {
  return new URL(url2.pathname + url2.search, env.ORIGIN);
}
async function robots(env, cfg, url2) {
  const upstream = await fetch(originUrl(env, url2));
  const text = upstream.ok ? await upstream.text() : "User-agent: *\nAllow: /\n";
  const line = `License: ${cfg.rslUrl}`;
  const body = text.includes(line) ? text : `${text.replace(/\n*$/, "\n")}${line}
`;
  return new Response(body, { headers: { "Content-Type": "text/plain; charset=utf-8" } });
}
async function objectBytes(upstream, maxBytes) {
  if (Number(upstream.headers.get("Content-Length") ?? 0) <= maxBytes) {
    const bytes = await upstream.arrayBuffer();
    if (bytes.byteLength <= maxBytes) return bytes;
  } else {
    await upstream.body?.cancel();
  }
  return null;
}
var SINGLE_QUEUE = "usage";
function queueName(request, cfg) {
  if (cfg.queue.split !== "colo") return SINGLE_QUEUE;
  const colo = request.cf?.colo;
  return `usage:${typeof colo === "string" && /^[A-Z]{3}$/.test(colo) ? colo : "local"}`;
}
var queueIds = /* @__PURE__ */ new Map();
function queueByName(env, cfg, name) {
  let id = queueIds.get(name);
  if (id === void 0) {
    id = env.USAGE_QUEUE.idFromName(name);
    queueIds.set(name, id);
  }
  return env.USAGE_QUEUE.get(id, cfg.queue.locationHint ? { locationHint: cfg.queue.locationHint } : void 0);
}
function usageQueue(env, cfg, request, ctx) {
  const name = queueName(request, cfg);
  const known2 = queueIds.has(name);
  const queue = queueByName(env, cfg, name);
  if (!known2 && name !== SINGLE_QUEUE) {
    ctx.waitUntil(queueByName(env, cfg, SINGLE_QUEUE).register(name).catch(() => queueIds.delete(name)));
  }
  return queue;
}
var QUEUES_PATH = "/.well-known/ledger-edge/queues";
async function sameSecret(given, expected) {
  const digest = async (text) => crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return crypto.subtle.timingSafeEqual(await digest(given), await digest(expected));
}
async function queuesView(request, env, cfg) {
  if (request.method !== "GET" && request.method !== "HEAD") return notAllowed();
  const given = /^Bearer +(\S+)$/.exec(request.headers.get("Authorization") ?? "")?.[1] ?? "";
  if (!await sameSecret(given, cfg.operatorToken)) {
    const body2 = { error: { code: "unauthenticated", message: "send the operator's token: Authorization: Bearer <OPERATOR_TOKEN>" } };
    return new Response(JSON.stringify(body2), {
      status: 401,
      headers: { "Content-Type": "application/json", "WWW-Authenticate": 'Bearer realm="ledger-edge"', "Cache-Control": "no-store" }
    });
  }
  const names = [.../* @__PURE__ */ new Set([SINGLE_QUEUE, ...await queueByName(env, cfg, SINGLE_QUEUE).queueNames()])].sort();
  const stats = await Promise.all(names.map((name) => queueByName(env, cfg, name).stats()));
  const queues = Object.fromEntries(names.map((name, i) => [name, stats[i]]));
  const body = new TextEncoder().encode(JSON.stringify({ queues }));
  return new Response(body, {
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", "Content-Length": String(body.byteLength) }
  });
}
async function licensedFetch(request, env, cfg, url2, ctx) {
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
  const upstream = await fetch(originUrl(env, url2), { headers: { Accept: request.headers.get("Accept") ?? "*/*" } });
  if (!upstream.ok) return new Response(upstream.body, { status: upstream.status, headers: { "Content-Type": upstream.headers.get("Content-Type") ?? "text/plain" } });
  const bytes = await objectBytes(upstream, cfg.maxBytes);
  if (bytes === null) return new Response("the object is too large for the edge to check\n", { status: 502 });
  if (await contentHash(bytes) !== claims.asset) {
    return refusal(cfg, 403, "insufficient_scope", "the licence token is for another asset");
  }
  const requestId = crypto.randomUUID().replaceAll("-", "");
  const event = usageEvent(claims, requestId, env.USAGE_SOURCE, Date.now());
  const queued = await (metered ? queue.append(event) : queue.held(event)).catch(() => "unavailable");
  if (queued === "unpaid") {
    return refusal(cfg, 402, "payment_required", "the ledger refuses to charge this buyer: its deposit is being withdrawn");
  }
  if (queued === "refused") {
    return refusal(cfg, 401, "invalid_token", "the asset's licence no longer allows this use");
  }
  if (queued !== (metered ? "queued" : "clear")) return unavailable(cfg, "usage cannot be metered now; try again later");
  const headers = {
    "Content-Type": upstream.headers.get("Content-Type") ?? "application/octet-stream",
    "Cache-Control": "private, no-store",
    Link: cfg.link
  };
  if (metered) headers["X-Usage-Event"] = event.eventId;
  else headers["Content-Length"] = String(bytes.byteLength);
  return new Response(bytes, { status: 200, headers });
}
function misconfigured(error) {
  console.error(`the licensing Worker is misconfigured: ${error.message}`);
  const body = { error: { code: "misconfigured", message: `the edge is misconfigured: ${error.message}`, field: error.setting } };
  return new Response(JSON.stringify(body), {
    status: 500,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store" }
  });
}
var worker_default = {
  async fetch(request, env, ctx) {
    let cfg;
    try {
      cfg = settings(env);
    } catch (error) {
      if (error instanceof Misconfigured) return misconfigured(error);
      throw error;
    }
    const url2 = new URL(request.url);
    if (cfg.operatorToken && url2.pathname === QUEUES_PATH) return queuesView(request, env, cfg);
    if (url2.pathname === "/robots.txt") return robots(env, cfg, url2);
    if (!url2.pathname.startsWith(cfg.prefix)) return fetch(originUrl(env, url2), request);
    return licensedFetch(request, env, cfg, url2, ctx);
  }
};
export {
  UsageQueue,
  worker_default as default
};
