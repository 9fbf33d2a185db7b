// Lifecycle statements and what an asset's licence is at a time, replayed from them
// alone (ledger/core/statements.py, ledger/core/licence_status.py, docs/lifecycle.md).
import { checksummed, concatBytes, hex, jcs, sha, utf8ToBytes } from "./bytes.mjs";
import { verifySignature } from "./signatures.mjs";

export const STATEMENT_TAG = "ledger-statement-v1";
const REVOKE = "revoke", AMEND = "amend", GRANT = "grant-exclusive", WITHDRAW = "withdraw-consent";
const TAKEDOWN = "takedown", ANSWER = "takedown-answer", DECISION = "takedown-decision";
const SIGNERS = {
  [REVOKE]: ["creator"], [AMEND]: ["creator"], [GRANT]: ["creator"], [WITHDRAW]: ["creator", "operator"],
  [TAKEDOWN]: ["anyone"], [ANSWER]: ["creator"], [DECISION]: ["operator"],
};
const COMMON = ["version", "type", "deployment", "issuedAt", "signer", "target", "signature"];
const TYPED = {
  [REVOKE]: ["effectiveAt"], [AMEND]: ["effectiveAt", "terms"], [GRANT]: ["buyer", "licences", "start", "end", "irrevocable"],
  [WITHDRAW]: [], [TAKEDOWN]: ["grounds", "claimant"], [ANSWER]: ["case", "answer"], [DECISION]: ["case", "outcome"],
};
const OPTIONAL = { [WITHDRAW]: ["reason"], [DECISION]: ["reason"] };
const ASSET_ID = /^asset:[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$/;
const DEFAULT_NOTICE_MS = 30 * 24 * 60 * 60 * 1000;
const isMs = (v) => Number.isSafeInteger(v) && v >= 0;

/** A statement's fields, read and checked (not its signature: `verifyStatement`); throws "member: reason". */
export function readStatement(obj) {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new Error("a statement must be a JSON object");
  const members = [...COMMON, ...(TYPED[obj.type] ?? []), ...(OPTIONAL[obj.type] ?? [])];
  if (!TYPED[obj.type]) throw new Error(`type: must be one of ${Object.keys(TYPED).join(", ")}`);
  for (const name of [...COMMON, ...TYPED[obj.type]]) if (!(name in obj)) throw new Error(`${name}: is required`);
  for (const name of Object.keys(obj)) if (!members.includes(name)) throw new Error(`${name}: is not a member of a ${obj.type}`);
  if (obj.version !== "ledger-statement/1") throw new Error('version: must be "ledger-statement/1"');
  for (const name of ["issuedAt", "effectiveAt", "start", "end"]) {
    if (name in obj && !isMs(obj[name])) throw new Error(`${name}: must be milliseconds since the Unix epoch`);
  }
  const target = obj.target;
  if (!target || !/^0x[0-9a-f]{64}$/.test(target.manifestDigest) ||
      ("assetIds" in target && (!Array.isArray(target.assetIds) || target.assetIds.length === 0))) {
    throw new Error("target: must be {manifestDigest, assetIds?}");
  }
  const ids = target.assetIds ?? [];
  if (!ids.every((a, i) => typeof a === "string" && ASSET_ID.test(a) && (i === 0 || ids[i - 1] < a))) {
    throw new Error("target.assetIds: must be asset ids, sorted, each once");
  }
  if (obj.type === GRANT) readGrant(obj);
  if (obj.type === DECISION && obj.outcome !== "upheld" && obj.outcome !== "rejected") {
    throw new Error("outcome: must be upheld or rejected");
  }
  return {
    obj, type: obj.type, deployment: obj.deployment, issuedAt: obj.issuedAt, signer: obj.signer,
    target: { manifestDigest: target.manifestDigest, assetIds: target.assetIds ?? null },
    effectiveAt: obj.effectiveAt ?? null, buyer: obj.buyer ?? null, licences: obj.licences ?? null,
    start: obj.start ?? null, end: obj.end ?? null, irrevocable: obj.irrevocable === true,
    case: obj.case ?? null, outcome: obj.outcome ?? null,
    digest: hex(sha(concatBytes(utf8ToBytes(STATEMENT_TAG + "\n"), jcs(obj)))),
  };
}

function readGrant(obj) {
  const buyer = obj.buyer;
  if (typeof buyer !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(buyer)) throw new Error("buyer: must be an address");
  // As ledger reads it: all lower case, or mixed case with a valid EIP-55 checksum.
  if (buyer.slice(2) !== buyer.slice(2).toLowerCase() && checksummed(buyer) !== buyer) {
    throw new Error("buyer: has a wrong EIP-55 checksum");
  }
  if (!(obj.end > obj.start)) throw new Error("end: must be after start");
}

/** Check the signature against `signer`; throws the reason. */
export function verifyStatement(s) {
  const { signature, ...unsigned } = s.obj;
  verifySignature(s.signer, signature, STATEMENT_TAG, jcs(unsigned));
}

/** Whether the statement is about asset `assetId` of manifest `manifestDigest` ("0x…"). */
export const covers = (s, manifestDigest, assetId) =>
  s.target.manifestDigest === manifestDigest && (s.target.assetIds === null || s.target.assetIds.includes(assetId));

/** Who signed must be allowed for the type: the creator's keys, the operator's, or anyone. */
export function authorise(s, creatorKeys, operatorKey) {
  const allowed = SIGNERS[s.type];
  if (allowed.includes("anyone")) return;
  if (allowed.includes("creator") && creatorKeys.has(s.signer)) return;
  if (allowed.includes("operator") && s.signer === operatorKey) return;
  throw new Error(`signer: a ${s.type} must be signed by the ${[...allowed].sort().join(" or ")}'s key; ${s.signer} is not`);
}

/** The notice a revocation of `entry` must give: the longest revocationNotice (s) its licences declare. */
export function noticeMs(entry) {
  const declared = (entry.licenses ?? []).filter((l) => l && typeof l === "object" && "revocationNotice" in l)
    .map((l) => l.revocationNotice);
  return declared.length ? Math.max(...declared) * 1000 : DEFAULT_NOTICE_MS;
}

const id = (s) => `statement ${s.digest}`;

/** The statements about one asset replayed in canonical order (issuedAt, digest): `valid`,
 *  and why each other one was `dropped` (digest -> reason). */
export class History {
  constructor(asset, statements) {
    this.asset = asset;
    const unique = new Map(statements.filter((s) => covers(s, asset.manifestDigest, asset.assetId)).map((s) => [s.digest, s]));
    this.valid = [];
    this.dropped = new Map();
    const ordered = [...unique.values()].sort((a, b) => a.issuedAt - b.issuedAt || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
    for (const s of ordered) {
      const reason = this.invalid(s);
      if (reason === null) this.valid.push(s);
      else this.dropped.set(s.digest, reason);
    }
  }

  all(kind) { return this.valid.filter((s) => s.type === kind); }
  first(kind) { return this.valid.find((s) => s.type === kind) ?? null; }

  invalid(s) {
    if (s.type === REVOKE) return this.invalidRevoke(s);
    if (s.type === AMEND) return s.effectiveAt < s.issuedAt ? "effectiveAt is before issuedAt (backdated)" : null;
    if (s.type === GRANT) return this.invalidGrant(s);
    if (s.type === WITHDRAW) {
      const first = this.first(WITHDRAW);
      return first === null ? null : `consent was withdrawn already by ${id(first)}`;
    }
    if (s.type === ANSWER || s.type === DECISION) return this.invalidCase(s);
    return null;
  }

  invalidRevoke(s) {
    const earliest = s.issuedAt + this.asset.noticeMs;
    if (s.effectiveAt < earliest) {
      return `effectiveAt ${s.effectiveAt} gives less than the licence's notice of ${Math.floor(this.asset.noticeMs / 1000)} s (earliest ${earliest})`;
    }
    const first = this.first(REVOKE);
    if (first !== null) return `the asset was revoked already by ${id(first)}`;
    const grant = this.all(GRANT).find((g) => g.irrevocable && g.end > s.effectiveAt);
    return grant ? `contradicts the irrevocable exclusive grant ${id(grant)}, which runs until ${grant.end}` : null;
  }

  invalidGrant(s) {
    if (s.start < s.issuedAt) return "start is before issuedAt (backdated)";
    const withdrawn = this.first(WITHDRAW);
    if (withdrawn !== null) return `consent was withdrawn by ${id(withdrawn)}`;
    const revoke = this.first(REVOKE);
    if (revoke !== null && s.end > revoke.effectiveAt) return `runs past the revocation ${id(revoke)} effective at ${revoke.effectiveAt}`;
    const grant = this.all(GRANT).find((g) => g.start < s.end && s.start < g.end && g.licences.some((l) => s.licences.includes(l)));
    return grant ? `overlaps the exclusive grant ${id(grant)} to ${grant.buyer}` : null;
  }

  invalidCase(s) {
    if (!this.all(TAKEDOWN).some((c) => c.digest === s.case)) return "names no takedown case of this asset";
    if (s.type === DECISION && this.all(DECISION).some((d) => d.case === s.case)) return "the case was decided already";
    return null;
  }

  /** {state, since, until, buyer, statement, noticeUntil, disputed} at time `at` (ms). */
  status(at) {
    const known = this.valid.filter((s) => s.issuedAt <= at);
    const revoke = known.find((s) => s.type === REVOKE) ?? null;
    const notice = revoke?.effectiveAt ?? null;
    const decided = new Set(known.filter((s) => s.type === DECISION).map((s) => s.case));
    const disputes = known.filter((s) => s.type === TAKEDOWN && !decided.has(s.digest));
    return { ...shown(known, at, revoke, disputes), noticeUntil: notice !== null && at < notice ? notice : null, disputed: disputes.length > 0 };
  }
}

function shown(known, at, revoke, disputes) {
  const status = (state, since = null, until = null, buyer = null, statement = null) => ({ state, since, until, buyer, statement });
  const withdrawn = known.find((s) => s.type === WITHDRAW);
  if (withdrawn) return status("withdrawn", withdrawn.issuedAt, null, null, withdrawn.digest);
  const upheld = known.find((s) => s.type === DECISION && s.outcome === "upheld");
  if (upheld) return status("taken-down", upheld.issuedAt, null, null, upheld.digest);
  if (revoke && at >= revoke.effectiveAt) return status("revoked", revoke.effectiveAt, null, null, revoke.digest);
  if (disputes.length) return status("disputed", disputes[0].issuedAt, null, null, disputes[0].digest);
  const grant = known.find((s) => s.type === GRANT && s.start <= at && at < s.end);
  if (grant) return status("exclusive", grant.start, grant.end, grant.buyer, grant.digest);
  if (revoke) return status("notice", revoke.issuedAt, revoke.effectiveAt, null, revoke.digest);
  return status("licensable");
}
