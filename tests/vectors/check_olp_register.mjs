// An independent check of tests/vectors/olp_register.json, in Node: the registration's
// canonical bytes (npm canonicalize), its EIP-712 LedgerMessage hash and the signer
// recovered from the signature, written here from scratch on @noble/hashes and
// @noble/curves from the recipe in docs/web-licensing.md ("Registration"), and the
// server normalisation rule reimplemented from its text. Nothing here imports ledger's
// Python or the verifier page. Prints {checks: [[name, "ok" | reason]]}.
import { readFileSync } from "node:fs";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import canonicalize from "canonicalize";

const v = JSON.parse(readFileSync(new URL("olp_register.json", import.meta.url), "utf8"));
const hex = (bytes) => "0x" + bytesToHex(bytes);
const k = (text) => keccak_256(utf8ToBytes(text));
const checks = [];
const check = (name, fn) => {
  try {
    fn();
    checks.push([name, "ok"]);
  } catch (error) {
    checks.push([name, error.message]);
  }
};
const equal = (what, got, want) => {
  if (got !== want) throw new Error(`${what} is ${got}, the vector says ${want}`);
};

const TYPE_HASH = k("LedgerMessage(string tag,bytes32 contentHash)");
const DOMAIN = keccak_256(concatBytes(k("EIP712Domain(string name,string version)"), k("ledger"), k("1")));

/** The EIP-712 digest a wallet signs for `body` (its signature left out) under `tag`. */
function digestOf(body, tag) {
  const { signature, ...unsigned } = body;
  const struct = keccak_256(concatBytes(TYPE_HASH, k(tag), keccak_256(utf8ToBytes(canonicalize(unsigned)))));
  return keccak_256(concatBytes(new Uint8Array([0x19, 0x01]), DOMAIN, struct));
}

/** The address (0x, lower case) that made `signature` ("eip712:0x" r s v) of `digest`. */
function signer(signature, digest) {
  const raw = hexToBytes(signature.slice("eip712:0x".length));
  const v = raw[64];
  if (v !== 27 && v !== 28) throw new Error("v must be 27 or 28");
  const sig = secp256k1.Signature.fromBytes(raw.slice(0, 64), "compact");
  if (sig.hasHighS()) throw new Error("high s");
  const point = sig.addRecoveryBit(v - 27).recoverPublicKey(digest);
  return hex(keccak_256(point.toBytes(false).slice(1)).slice(12));
}

/** docs/web-licensing.md's rule: null when refused, else the form compared. */
function audience(server) {
  if (server.length > 2048 || !/^[\x21-\x7e]+$/.test(server)) return null;
  if (!/^[hH][tT][tT][pP][sS]?:\/\/[^/?#@]+(\/[^?#]*)?$/.test(server)) return null;
  const [scheme, rest] = [server.slice(0, server.indexOf("://")), server.slice(server.indexOf("://") + 3)];
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = (slash < 0 ? "" : rest.slice(slash)).replace(/\/+$/, "");
  return `${scheme.toLowerCase()}://${authority.toLowerCase()}${path}`;
}

const wallet = v.body.wallet.toLowerCase();
check("private key is the wallet's", () => {
  const pub = secp256k1.getPublicKey(hexToBytes(v.privateKey.slice(2)), false);
  equal("address", hex(keccak_256(pub.slice(1)).slice(12)), wallet);
});
check("payload", () => {
  const { signature, ...unsigned } = v.body;
  equal("payload", canonicalize(unsigned), v.payload);
});
check("hashes", () => {
  equal("contentHash", hex(keccak_256(utf8ToBytes(v.payload))), v.contentHash);
  equal("typeHash", hex(TYPE_HASH), v.typeHash);
  equal("domainSeparator", hex(DOMAIN), v.domainSeparator);
  equal("structHash", hex(keccak_256(concatBytes(TYPE_HASH, k(v.tag), hexToBytes(v.contentHash.slice(2))))), v.structHash);
  equal("digest", hex(digestOf(v.body, v.tag)), v.digest);
});
check("signature recovers the wallet", () => {
  equal("signature", v.body.signature, v.signature);
  equal("signer", signer(v.signature, hexToBytes(v.digest.slice(2))), wallet);
});
check("signature is the key's (RFC 6979)", () => {
  const sig = secp256k1.sign(hexToBytes(v.digest.slice(2)), hexToBytes(v.privateKey.slice(2)), { prehash: false, lowS: true, format: "recovered" });
  const rs = bytesToHex(sig.slice(1)), rec = sig[0];
  equal("signature", `eip712:0x${rs}${(27 + rec).toString(16)}`, v.signature);
});
for (const m of v.mutations) {
  check(`mutation ${m.name} is refused`, () => {
    let got;
    try {
      got = signer(m.body.signature, digestOf(m.body, m.tag));
    } catch {
      return;
    }
    if (got === wallet) throw new Error("the signature still recovers the wallet");
  });
}
check("relayed: a good signature for another server", () => {
  equal("signer", signer(v.relayed.body.signature, digestOf(v.relayed.body, v.tag)), wallet);
  if (audience(v.relayed.body.server) === audience(v.body.server)) throw new Error("same audience");
});
for (const [server, want] of v.audience) {
  check(`audience ${server}`, () => equal("normalised", audience(server), want));
}
console.log(JSON.stringify({ checks }));
