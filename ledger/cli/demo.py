"""`ledger demo`: the whole pipeline on the embedded default, end to end.

Generates sample assets for three creators (P-256 and Ethereum keys), packages
and signs 1,000 manifests, registers the creators, submits through the batch
endpoint, waits for every anchor, then verifies every proof three ways: our
verifier, the registry's `verifyInclusion` on chain, and OpenZeppelin's
`StandardMerkleTree.verify` in node. One creator also registers a library of 300
files as a 1.1 manifest (`ledger.cli.demo_library`), and one of its assets is proven
alone. Exits non-zero if anything fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ledger.app.packager import PackageSpec, package_dir
from ledger.chain.anvil import repo_root
from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.cli.client import LedgerClient
from ledger.cli.demo_library import LibraryOutcome, prove_one_asset, submit_library
from ledger.cli.demo_royalty import RoyaltyOutcome, demo_usage_keys, run_royalties
from ledger.cli.demo_web import WebOutcome, plan_web, register_creator, run_web
from ledger.config import Settings
from ledger.core.proof import ProofBundle, verify_bundle
from ledger.core.signing import SigningKey, sign_manifest
from ledger.errors import LedgerError
from ledger.keyfile import generate_key
from ledger.run.serve import running

CREATORS = (
    ("creator:ana-photo", "p256"),
    ("creator:ben-avatars", "eth"),
    ("creator:cy-moves", "p256"),
)
SUBMIT_CHUNK = 250

Say = Callable[[str], None]


@dataclass
class Outcome:
    """What the demo measured; `ok` is False if any proof failed any check."""

    manifests: int
    batches: int
    gas: int
    latencies: list[float]
    ours: int
    on_chain: int
    openzeppelin: int
    royalties: RoyaltyOutcome | None = None
    library: LibraryOutcome | None = None
    web: WebOutcome | None = None

    @property
    def ok(self) -> bool:
        """Every manifest verified three ways (and the royalty step matched the chain, and
        the library's asset proof verified, and the web loop settled every fetch)."""
        paid = self.royalties is None or self.royalties.ok
        proven = self.library is None or self.library.verified
        crawled = self.web is None or self.web.ok
        verified = self.manifests == self.ours == self.on_chain == self.openzeppelin
        return paid and proven and crawled and verified

    def table(self) -> str:
        """A short summary table."""
        lat = sorted(self.latencies)
        rows = [
            ("manifests anchored", f"{self.manifests}"),
            ("batches", f"{self.batches}"),
            ("gas in total", f"{self.gas:,}"),
            ("gas per manifest", f"{self.gas / max(self.manifests, 1):,.1f}"),
            ("submit→proof p50", f"{statistics.median(lat):.2f} s" if lat else "-"),
            ("submit→proof max", f"{lat[-1]:.2f} s" if lat else "-"),
            ("verified: ledger", f"{self.ours}/{self.manifests}"),
            ("verified: verifyInclusion", f"{self.on_chain}/{self.manifests}"),
            ("verified: OpenZeppelin", f"{self.openzeppelin}/{self.manifests}"),
            *(self.library.rows() if self.library else []),
            *(self.royalties.rows() if self.royalties else []),
            *(self.web.rows() if self.web else []),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


async def run_demo(settings: Settings, *, manifests: int = 1000, say: Say = print) -> Outcome:
    """Run the demo against a fresh embedded service in `settings.data_dir`."""
    with tempfile.TemporaryDirectory(prefix="ledger-demo-") as scratch:
        keys = {cid: generate_key(kind) for cid, kind in CREATORS}
        docs = _signed_manifests(Path(scratch), keys, manifests)
        say(f"packaged and signed {len(docs)} manifests for {len(keys)} creators")
        settings, web_plan = plan_web(settings, say)
        async with running(settings) as (service, url), LedgerClient(url) as client:
            say(
                f"service on {url}, chain {service.rpc_url}, registry "
                f"{service.deployment.registry.address}"
            )
            for creator_id, key in keys.items():
                await register_creator(client, creator_id, key)
            submitted = await _submit(client, docs)
            creator_id = CREATORS[0][0]
            library = await submit_library(client, Path(scratch), creator_id, keys[creator_id],
                                           "0x" + f"{1:040x}")
            say(f"submitted {len(submitted)} manifests and a 1.1 library of "
                f"{library.assets} assets; waiting for anchors")
            bundles, latencies = await _collect(client, submitted)
            await prove_one_asset(client, library)
            registry = AnchorRegistry(
                service.w3, service.deployment.registry.address, load_artifact("AnchorRegistry")
            )
            ours, on_chain = await _verify(bundles, registry)
            batches = {b.anchor.batch_number for b in bundles if b.anchor}
            gas = sum(
                b["anchor"]["gasUsed"]
                for b in await client.batches()
                if b["number"] in batches and b["anchor"]
            )
            # A separate step: a buyer pays per use, creators withdraw.
            royalties = await run_royalties(service, url, keys, say)
            # And one through the open web: a crawler, the Worker, per-use settlement.
            web = await run_web(service, url, web_plan, Path(scratch), say) if web_plan else None
        return Outcome(
            manifests=len(bundles),
            batches=len(batches),
            gas=gas,
            latencies=latencies,
            ours=ours,
            on_chain=on_chain,
            openzeppelin=verify_with_openzeppelin(bundles),
            royalties=royalties,
            library=library,
            web=web,
        )


def _signed_manifests(
    scratch: Path, keys: dict[str, SigningKey], count: int
) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    creators = list(keys)
    for index, creator_id in enumerate(creators):
        share = count // len(creators) + (1 if index < count % len(creators) else 0)
        folder = scratch / creator_id.split(":", 1)[1]
        folder.mkdir()
        for n in range(share):
            (folder / f"sample-{n:05d}.jpg").write_bytes(os.urandom(256))
        spec = PackageSpec(creator_id, ["non-exclusive-training"],
                           wallet="0x" + f"{index + 1:040x}", tags=["demo", "sample"])
        draft = package_dir(folder, spec)
        # One manifest per asset: each is its own provenance claim and leaf.
        for asset in draft["assets"]:
            docs.append(sign_manifest({**draft, "assets": [asset]}, keys[creator_id]))
    return docs


async def _submit(client: LedgerClient, docs: list[dict[str, Any]]) -> dict[str, float]:
    submitted: dict[str, float] = {}
    for start in range(0, len(docs), SUBMIT_CHUNK):
        sent_at = time.monotonic()
        for result in await client.submit_many(docs[start : start + SUBMIT_CHUNK]):
            if "error" in result:
                raise LedgerError(f"a manifest was refused: {result['error']['message']}")
            submitted[result["manifestDigest"]] = sent_at
    return submitted


async def _collect(
    client: LedgerClient, submitted: dict[str, float], timeout: float = 300.0
) -> tuple[list[ProofBundle], list[float]]:
    waiting = dict(submitted)
    bundles: list[ProofBundle] = []
    latencies: list[float] = []
    deadline = time.monotonic() + timeout
    while waiting:
        if time.monotonic() > deadline:
            raise LedgerError(f"{len(waiting)} manifests were not anchored in {timeout:g} s")
        for digest in list(waiting)[:200]:
            status, body = await client.proof(digest)
            if status == 200:
                bundles.append(ProofBundle.from_json(json.dumps(body)))
                latencies.append(time.monotonic() - waiting.pop(digest))
        if waiting:
            await asyncio.sleep(0.2)
    return bundles, latencies


async def _verify(bundles: list[ProofBundle], registry: AnchorRegistry) -> tuple[int, int]:
    ours = on_chain = 0
    for bundle in bundles:
        try:
            verify_bundle(bundle)
            ours += 1
        except LedgerError:
            pass
        included, _ = await registry.verify_inclusion(
            bundle.manifest_digest, list(bundle.proof), bundle.root
        )
        on_chain += included
    return ours, on_chain


def verify_with_openzeppelin(bundles: list[ProofBundle]) -> int:
    """How many bundles `StandardMerkleTree.verify` accepts (node, one process)."""
    request = {
        "verify": [
            {
                "root": "0x" + b.root.hex(),
                "digest": "0x" + b.manifest_digest.hex(),
                "proof": ["0x" + p.hex() for p in b.proof],
            }
            for b in bundles
        ]
    }
    root = repo_root()
    result = subprocess.run(
        ["node", str(root / "scripts" / "oz_merkle.mjs")],
        input=json.dumps(request).encode(),
        capture_output=True,
        cwd=root,
        check=False,
    )
    if result.returncode != 0:
        raise LedgerError(f"OpenZeppelin verifier failed: {result.stderr.decode()[-300:]}")
    return sum(bool(v) for v in json.loads(result.stdout)["verified"])


def demo_settings(data_dir: Path) -> Settings:
    """Embedded-default settings tuned for a quick demo (1 s batches; the default
    confirmations, reached through the embedded chain's idle blocks)."""
    return replace(
        Settings(),
        data_dir=data_dir,
        port=0,
        batch_max_age_s=1.0,
        poll_interval_s=0.1,
        usage_keys=demo_usage_keys(),
        usage_batch_max_age_s=1.0,
        settle_interval_s=0.5,
    ).validate()


