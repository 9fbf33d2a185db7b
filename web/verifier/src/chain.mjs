// Chain facts from a block header and EIP-1186 proofs, with no node to ask
// (ledger/core/chain_state.py): the header's state root, the registry's account,
// and the AnchorRegistry record `_anchors[root]` (storage slot 3).
import { verifyMerkleProof } from "@ethereumjs/mpt";
import { RLP } from "@ethereumjs/rlp";
import { concatBytes, hex, keccak, raw, uint, word } from "./bytes.mjs";

export const ANCHORS_SLOT = 3;
const U64 = (1n << 64n) - 1n;

/** {hash, number, timestamp, stateRoot} of an RLP header of any hard fork. */
export function parseHeader(bytes) {
  let items;
  try {
    items = RLP.decode(bytes);
  } catch (error) {
    throw new Error(`chain.blockHeader: is not RLP: ${error.message}`);
  }
  if (!Array.isArray(items) || items.length < 15 || items.length > 21 ||
      !items.every((item) => item instanceof Uint8Array) || items[3].length !== 32) {
    throw new Error("chain.blockHeader: is not a block header (an RLP list of 15 to 21 byte strings)");
  }
  return { hash: keccak(bytes), number: Number(uint(items[8])), timestamp: Number(uint(items[11])), stateRoot: items[3] };
}

async function prove(root, key, proof, field) {
  try {
    return await verifyMerkleProof(key, proof, { root, useKeyHashing: true });
  } catch {
    throw new Error(`${field}: does not prove the value under the root`);
  }
}

/** {storageRoot, codeHash} of `address`, proven under `stateRoot`. */
export async function verifyAccount(stateRoot, address, proof) {
  const value = await prove(stateRoot, raw(address), proof, "chain.accountProof");
  if (!value) throw new Error(`chain.accountProof: proves that ${address} has no account in this block`);
  const fields = RLP.decode(value);
  if (!Array.isArray(fields) || fields.length !== 4 || fields[2].length !== 32 || fields[3].length !== 32) {
    throw new Error("chain.accountProof: the proven account is not [nonce, balance, storageRoot, codeHash]");
  }
  return { storageRoot: fields[2], codeHash: fields[3] };
}

/** {timestamp, blockNumber, batchNumber} the registry recorded for `root`, or null if none. */
export async function verifyAnchorState(storageRoot, root, proof) {
  const slot = keccak(concatBytes(root, word(ANCHORS_SLOT)));
  const value = await prove(storageRoot, slot, proof, "chain.anchorProofs");
  if (!value) return null;
  const stored = RLP.decode(value);
  if (!(stored instanceof Uint8Array) || stored.length > 32) throw new Error("chain.anchorProofs: the proven value is not one word");
  const w = uint(stored);
  return { timestamp: Number(w & U64), blockNumber: Number((w >> 64n) & U64), batchNumber: Number((w >> 128n) & U64) };
}

/** The hash of block `number` per the node at `url`, and the node's chain id. */
export async function blockHashFrom(url, number) {
  const call = async (method, params) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    });
    const answer = await response.json();
    if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
    return answer.result;
  };
  const chainId = Number(await call("eth_chainId", []));
  const block = await call("eth_getBlockByNumber", ["0x" + number.toString(16), false]);
  if (!block || !/^0x[0-9a-f]{64}$/.test(block.hash)) throw new Error(`the node has no block ${number}`);
  return { chainId, hash: block.hash };
}

export { hex };
