"""`ledger demo`'s 1.1 step: one creator registers a library as a 1.1 manifest (header plus
chunked assets), and one of its assets is proven alone once anchored."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ledger.app.packager import PackageSpec, package_library
from ledger.cli.client import LedgerClient
from ledger.cli.upload import read_library, upload_library
from ledger.core.asset_tree import AssetProof
from ledger.core.proof import verify_bundle
from ledger.core.signing import SigningKey, sign_manifest
from ledger.errors import LedgerError

LIBRARY_ASSETS = 300
CHUNK_SIZE = 64


@dataclass
class LibraryOutcome:
    """The library registered, and what proving one of its assets took."""

    assets: int
    digest: str
    proof_bytes: int = 0
    verified: bool = False

    def rows(self) -> list[tuple[str, str]]:
        """Summary rows for the demo's table."""
        state = "verified" if self.verified else "NOT verified"
        return [("1.1 library: assets", f"{self.assets:,} (chunks of {CHUNK_SIZE})"),
                ("1.1 library: one asset's proof", f"{self.proof_bytes:,} bytes, {state}")]


async def submit_library(
    client: LedgerClient, scratch: Path, creator_id: str, key: SigningKey, wallet: str
) -> LibraryOutcome:
    """Package a folder of synthetic files as a 1.1 manifest and upload it."""
    folder = scratch / "library"
    folder.mkdir()
    for index in range(LIBRARY_ASSETS):
        (folder / f"frame-{index:05d}.jpg").write_bytes(os.urandom(64))
    spec = PackageSpec(creator_id, ["non-exclusive-training"], wallet=wallet, tags=["demo"])
    assets = scratch / "assets.jsonl"
    header = sign_manifest(package_library(folder, spec, assets), key)
    library = read_library(header, assets, CHUNK_SIZE)
    view = await upload_library(client, library)
    return LibraryOutcome(assets=view["assetCount"], digest=view["digest"])


async def prove_one_asset(
    client: LedgerClient, outcome: LibraryOutcome, timeout: float = 300.0
) -> None:
    """Fetch the proof of the library's middle asset once its batch is anchored, verify it
    offline and record its size."""
    index = outcome.assets // 2
    deadline = time.monotonic() + timeout
    while True:
        status, body = await client.asset_proof(outcome.digest, index)
        if status == 200 and body["manifestProof"].get("anchor") is not None:
            break
        if time.monotonic() > deadline:
            raise LedgerError(f"the library was not anchored in {timeout:g} s")
        await asyncio.sleep(0.2)
    proof = AssetProof.from_obj(body)
    verify_bundle(proof.manifest_proof)
    outcome.proof_bytes = len(proof.to_json())
    outcome.verified = True
