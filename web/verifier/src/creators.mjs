// Creator-key records: replaying the key rules of ledger/core/creators.py
// (docs/service.md "Creators", docs/security.md section 5).
import { concatBytes, hex, jcs, sha, utf8ToBytes } from "./bytes.mjs";
import { verifySignature } from "./signatures.mjs";

export const CREATOR_TAG = "ledger-creator-v2";
const RECORD_TAG = utf8ToBytes("ledger-creator-record-v1\n");
const COMMON = ["action", "creatorId", "deployment", "issuedAt", "signatures"];
const MEMBERS = {
  register: [...COMMON, "keys", "recoveryKey"],
  "add-key": [...COMMON, "key"],
  "revoke-key": [...COMMON, "key"],
  recover: [...COMMON, "keys", "recoveryKey"],
};

/** The digest a record is anchored under: SHA-256("ledger-creator-record-v1\n" ‖ JCS(action)). */
export const recordDigest = (action) => sha(concatBytes(RECORD_TAG, jcs(action)));

/** The deployment an action is bound to: eip155:<chainId>:<registry, lower-case>. */
export const deploymentId = (chainId, registry) => `eip155:${chainId}:${registry.toLowerCase()}`;

/** `creator:k-` and 32 hex digits of SHA-256(first key): an id no one had to approve. */
export const keyDerivedId = (key) => "creator:k-" + hex(sha(utf8ToBytes(key))).slice(2, 34);

/** How an id is bound to its holder, in words. */
export function binding(creatorId) {
  if (creatorId.startsWith("creator:k-")) return "the id is derived from its first key, checked here";
  if (creatorId.slice(8).includes(".")) return "the id's domain vouched for the key at the service; not provable here";
  return "the id was approved by the service's operator; not provable here";
}

/** The keys after replaying `actions` in order, each checked against the keys before
 *  it; throws "[i].member: reason". */
export function replay(actions) {
  let state = null;
  actions.forEach((action, index) => {
    const at = (field, why) => new Error(`[${index}].${field}: ${why}`);
    readAction(action, at);
    if ((index === 0) !== (action.action === "register")) {
      throw at("action", index === 0 ? "must be the register action" : "registers the creator again");
    }
    if (action.creatorId !== actions[0].creatorId) throw at("creatorId", `is not ${actions[0].creatorId}`);
    const signed = verifiedSigners(action, at);
    state = apply(state, action, signed, at);
  });
  if (state === null) throw new Error("no creator record: nothing shows who holds the key");
  return state;
}

function readAction(action, at) {
  if (!action || typeof action !== "object" || !MEMBERS[action.action]) throw at("action", "is not a creator action");
  const members = MEMBERS[action.action];
  for (const name of members) if (!(name in action)) throw at(name, "is missing");
  for (const name of Object.keys(action)) if (!members.includes(name)) throw at(name, `is not a member of a ${action.action} action`);
  if (!Array.isArray(action.signatures) || action.signatures.length === 0) throw at("signatures", "must be a list of signatures");
  if ("keys" in action && (!Array.isArray(action.keys) || action.keys.length < 1 || action.keys.length > 8 ||
      new Set(action.keys).size !== action.keys.length)) {
    throw at("keys", "must be a list of 1 to 8 distinct keys");
  }
}

function verifiedSigners(action, at) {
  const { signatures, ...unsigned } = action;
  const payload = jcs(unsigned);
  signatures.forEach((item, i) => {
    try {
      verifySignature(item?.key, item?.signature, CREATOR_TAG, payload);
    } catch (error) {
      throw at(`signatures[${i}]`, error.message);
    }
  });
  return new Set(signatures.map((item) => item.key));
}

const listed = (a) => (a.recoveryKey === undefined ? [a.key] : [...a.keys, a.recoveryKey]);

function requireSigned(signed, keys, at) {
  const missing = keys.filter((k) => !signed.has(k)).sort();
  if (missing.length) throw at("signatures", `not signed by ${missing[0]}`);
}

function checkNewKeys(action, used, at, keep = null) {
  if (action.recoveryKey !== undefined && action.keys.includes(action.recoveryKey)) {
    throw at("recoveryKey", "must differ from every signing key");
  }
  const keys = action.recoveryKey === undefined ? [action.key] : action.keys;
  keys.forEach((key, i) => {
    if (used.has(key)) throw at(action.recoveryKey === undefined ? "key" : `keys[${i}]`, "was a key of this creator already");
  });
  if (action.recoveryKey !== undefined && action.recoveryKey !== keep && used.has(action.recoveryKey)) {
    throw at("recoveryKey", "was a key of this creator already");
  }
}

function apply(state, action, signed, at) {
  const kind = action.action;
  if (kind === "register") {
    checkNewKeys(action, new Set(), at);
    requireSigned(signed, listed(action), at);
    if (action.creatorId.startsWith("creator:k-") && action.creatorId !== keyDerivedId(action.keys[0])) {
      throw at("creatorId", "a creator:k-… id is derived from the first key");
    }
    return { signing: new Set(action.keys), recovery: action.recoveryKey, used: new Set(listed(action)) };
  }
  const used = new Set([...state.used, ...listed(action)]);
  const currentSigner = [...signed].some((k) => state.signing.has(k) || k === state.recovery);
  if (kind === "add-key") {
    checkNewKeys(action, state.used, at);
    requireSigned(signed, listed(action), at);
    if (!currentSigner) throw at("signatures", "not signed by a current signing key or the recovery key");
    return { signing: new Set([...state.signing, action.key]), recovery: state.recovery, used };
  }
  if (kind === "revoke-key") {
    if (action.key === state.recovery) throw at("key", "is the recovery key: only a recover action replaces it");
    const byRecovery = state.recovery !== null && signed.has(state.recovery);
    if (!byRecovery && ![...signed].some((k) => state.signing.has(k))) {
      throw at("signatures", "not signed by a current signing key or the recovery key");
    }
    if (!byRecovery && state.signing.size === 1 && state.signing.has(action.key)) {
      throw at("key", "is the last signing key: only the recovery key may revoke it");
    }
    const signing = new Set(state.signing);
    signing.delete(action.key);
    return { signing, recovery: state.recovery, used };
  }
  if (state.recovery === null || !signed.has(state.recovery)) {
    throw at("signatures", "recover must be signed by the creator's recovery key");
  }
  checkNewKeys(action, state.used, at, state.recovery);
  requireSigned(signed, listed(action), at);
  return { signing: new Set(action.keys), recovery: action.recoveryKey, used };
}
