// The verifier page's checks (web/verifier/src) on the repo's shared vectors, in Node:
// manifest signatures (tests/vectors/manifests.json) and proof bundles (proofs.json).
// Prints {signatures: [[name, expected, got]], bundles: [[name, expected, got]]}.
import { readFileSync } from "node:fs";
import { hex, jcs, raw, sha } from "../../web/verifier/src/bytes.mjs";
import { bundleProblem, readBundle } from "../../web/verifier/src/merkle.mjs";
import { MANIFEST_TAG, verifySignature } from "../../web/verifier/src/signatures.mjs";

const vectors = (name) => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), "utf8"));
const outcome = (check) => {
  try {
    return check() ?? "ok";
  } catch (error) {
    return `refused: ${error.message}`;
  }
};

const signatures = [];
for (const c of vectors("manifests.json").cases) {
  let m;
  try {
    m = JSON.parse(c.manifest ?? Buffer.from(c.manifestBase64, "base64").toString("utf8"));
  } catch {
    continue;  // not JSON at all: no signature to check
  }
  const got = outcome(() => {
    const { signature, ...unsigned } = m;
    const assetCount = m.manifestVersion === "1.0" ? m.assets?.length : m.assetCount;
    verifySignature(m.creator?.signingKey, signature, MANIFEST_TAG, jcs(unsigned),
      { manifestVersion: m.manifestVersion, creatorId: m.creator?.id, assetCount });
    return c.expected && hex(sha(jcs(m))) !== c.expected.digest ? "another digest" : null;
  });
  signatures.push([c.name, c.expected ? "ok" : c.error.type, got]);
}

const bundles = [];
const proofs = vectors("proofs.json");
for (const [kind, cases] of [["valid", proofs.valid], ["invalid", proofs.invalid]]) {
  for (const c of cases) {
    let obj;
    try {
      obj = JSON.parse(c.json);
    } catch {
      continue;
    }
    const got = outcome(() => {
      const bundle = readBundle(obj);
      return bundleProblem(bundle, raw(bundle.manifestDigest)) ?? null;
    });
    bundles.push([c.name, kind === "valid" ? (obj.anchor ? "ok" : "no anchor") : "invalid", got]);
  }
}
console.log(JSON.stringify({ signatures, bundles }));
