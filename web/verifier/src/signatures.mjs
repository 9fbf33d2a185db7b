// The two signature schemes (docs/proof-format.md section 2; ledger/core/signing/).
// p256: ECDSA over SHA-256(tag "\n" payload), strict DER, low s.
// eth: EIP-712 in the domain {name: "ledger", version: "1"}, address recovery, low s.
import { p256 } from "@noble/curves/nist.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { concatBytes, equal, hex, keccak, utf8ToBytes, word } from "./bytes.mjs";

export const MANIFEST_TAG = "ledger-manifest-v1";
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const text = (s) => keccak(utf8ToBytes(s));
const DOMAIN = keccak(concatBytes(text("EIP712Domain(string name,string version)"), text("ledger"), text("1")));
const MANIFEST_TYPE = text("LedgerManifest(string manifestVersion,string creatorId,uint256 assetCount,bytes32 contentHash)");
const MESSAGE_TYPE = text("LedgerMessage(string tag,bytes32 contentHash)");

/** Check `signature` by `key` over `payload` (bytes) under domain `tag`; throws the reason.
 *  `manifest` ({manifestVersion, creatorId, assetCount}) selects the manifest's EIP-712 type. */
export function verifySignature(key, signature, tag, payload, manifest = null) {
  if (typeof key !== "string" || typeof signature !== "string") throw new Error("the key or signature is not a string");
  if (key.startsWith("p256:")) return verifyP256(key, signature, concatBytes(utf8ToBytes(tag + "\n"), payload));
  if (key.startsWith("eth:")) {
    const struct = manifest
      ? concatBytes(MANIFEST_TYPE, text(manifest.manifestVersion), text(manifest.creatorId),
          word(manifest.assetCount), keccak(payload))
      : concatBytes(MESSAGE_TYPE, text(tag), keccak(payload));
    return verifyEip712(key, signature, keccak(concatBytes(new Uint8Array([0x19, 1]), DOMAIN, keccak(struct))));
  }
  throw new Error(`unknown key scheme: ${key.split(":")[0]}`);
}

function verifyP256(key, signature, message) {
  if (!signature.startsWith("p256ecdsa:")) throw new Error("a p256 key needs a p256ecdsa: signature");
  const point = base64(key.slice(5), "bad key encoding");
  if (point.length !== 33 || (point[0] !== 2 && point[0] !== 3)) throw new Error("bad key encoding: not a compressed P-256 point");
  const der = base64(signature.slice(10), "malformed signature");
  strictDer(der);
  let ok = false;
  try {
    ok = p256.verify(der, message, point, { prehash: true, lowS: true, format: "der" });
  } catch (error) {
    throw new Error(`the signature does not verify (${error.message})`);
  }
  if (!ok) throw new Error("the signature does not verify against the signing key");
}

function verifyEip712(key, signature, digest) {
  if (!/^eip712:0x[0-9a-f]{130}$/.test(signature)) throw new Error("an eth key needs an eip712:0x<65 bytes> signature");
  const rs = Uint8Array.from(signature.slice(9, 137).match(/../g), (b) => parseInt(b, 16));
  const v = parseInt(signature.slice(137), 16);
  const r = BigInt(hex(rs.slice(0, 32))), s = BigInt(hex(rs.slice(32)));
  if (v !== 27 && v !== 28) throw new Error("malformed signature: v must be 27 or 28");
  if (!(r > 0n && r < K1_N && s > 0n && s < K1_N)) throw new Error("malformed signature: r or s out of range");
  if (s > K1_N / 2n) throw new Error("high-s signature: s must be at most n/2");
  let address;
  try {
    const point = secp256k1.Signature.fromBytes(rs, "compact").addRecoveryBit(v - 27).recoverPublicKey(digest);
    address = hex(keccak(point.toBytes(false).slice(1)).slice(12));
  } catch {
    throw new Error("the signature does not verify: no key recovers");
  }
  if (address !== key.slice(4).toLowerCase()) {
    throw new Error(`the signature does not verify: it recovers address ${address}, not ${key.slice(4)}`);
  }
}

function base64(textValue, what) {
  let bytes;
  try {
    bytes = Uint8Array.from(atob(textValue), (c) => c.charCodeAt(0));
  } catch {
    throw new Error(`${what}: bad base64`);
  }
  // Non-zero padding bits would give one signature several spellings.
  if (btoa(String.fromCharCode(...bytes)) !== textValue) throw new Error(`${what}: non-canonical base64`);
  return bytes;
}

/** Only the one DER encoding of SEQUENCE { r INTEGER, s INTEGER }, with low s. */
function strictDer(der) {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) throw new Error("not strict DER: bad SEQUENCE header or length");
  const [r, next] = derInteger(der, 2);
  const [s, end] = derInteger(der, next);
  if (end !== der.length) throw new Error("not strict DER: bytes after the integers");
  if (!(r > 0n && r < P256_N && s > 0n && s < P256_N)) throw new Error("malformed signature: r or s out of range");
  if (s > P256_N / 2n) throw new Error("high-s signature: s must be at most n/2");
}

function derInteger(der, offset) {
  if (offset + 2 > der.length || der[offset] !== 0x02) throw new Error("not strict DER: INTEGER expected");
  const length = der[offset + 1];
  const body = der.slice(offset + 2, offset + 2 + length);
  if (length < 1 || length > 33 || body.length !== length) throw new Error("not strict DER: bad INTEGER length");
  if (body[0] & 0x80) throw new Error("not strict DER: negative INTEGER");
  if (length > 1 && body[0] === 0 && !(body[1] & 0x80)) throw new Error("not strict DER: INTEGER has a needless leading zero");
  return [BigInt(hex(body)), offset + 2 + length];
}
