// Byte and hex helpers shared by the checks: hashes travel as "0x" + lower-case hex.
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import canonicalize from "canonicalize";

export { concatBytes, utf8ToBytes };

/** "0x" + lower-case hex of `bytes`. */
export const hex = (bytes) => "0x" + bytesToHex(bytes);

/** The bytes of a "0x…" hex string; throws on anything else. */
export function raw(text) {
  if (typeof text !== "string" || !/^0x(?:[0-9a-fA-F]{2})*$/.test(text)) {
    throw new Error(`${JSON.stringify(text)?.slice(0, 40)} is not 0x-prefixed hex`);
  }
  return hexToBytes(text.slice(2));
}

/** `n` as a 32-byte big-endian word (Solidity's uint256). */
export const word = (n) => hexToBytes(BigInt(n).toString(16).padStart(64, "0"));

/** A big-endian unsigned integer (RLP's scalars: empty bytes are 0). */
export const uint = (bytes) => (bytes.length === 0 ? 0n : BigInt(hex(bytes)));

/** RFC 8785 canonical JSON bytes (docs/proof-format.md section 1). */
export const jcs = (value) => utf8ToBytes(canonicalize(value));

export const keccak = (bytes) => keccak_256(bytes);
export const sha = (bytes) => sha256(bytes);

/** Byte-wise equality. */
export function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The EIP-55 spelling of a 0x address (mixed case from keccak256 of its lower-case hex). */
export function checksummed(address) {
  const lower = address.slice(2).toLowerCase();
  const digest = hex(keccak(utf8ToBytes(lower))).slice(2);
  return "0x" + [...lower].map((c, i) => (parseInt(digest[i], 16) >= 8 ? c.toUpperCase() : c)).join("");
}
