"""Submit → batch → anchor → proof → verify, on a real anvil and SQLite."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.chain.verify import verify_anchor_on_chain
from ledger.core.proof import ProofBundle, verify_bundle
from ledger.core.receipt import Receipt
from ledger.core.trust import TrustRoot
from ledger.errors import ProofError
from tests.integration.service.conftest import (
    Running,
    manifest,
    p256,
    register,
    wait_for_proof,
)

pytestmark = pytest.mark.chain


async def test_manifest_is_anchored_and_proof_verifies_on_chain(svc_any_db: Running) -> None:
    svc = svc_any_db
    key = p256()
    await register(svc.client, "creator:alice", key)
    status, body = await svc.client.submit(manifest("creator:alice", key, 1))
    assert status == 202 and body["status"] == "pending"
    receipt = Receipt.from_obj(body["receipt"])
    receipt.verify()
    assert receipt.anchor_by > receipt.accepted_at

    bundle_obj = await wait_for_proof(svc.client, body["manifestDigest"])
    bundle = ProofBundle.from_json(json.dumps(bundle_obj))
    verify_bundle(bundle)
    assert bundle.anchor is not None
    registry = AnchorRegistry(
        svc.service.w3, bundle.anchor.contract, load_artifact("AnchorRegistry")
    )
    included, timestamp = await registry.verify_inclusion(
        bundle.manifest_digest, list(bundle.proof), bundle.root
    )
    assert included and timestamp == bundle.anchor.block_timestamp
    await verify_anchor_on_chain(
        svc.service.w3, bundle, pinned(svc), load_artifact("AnchorRegistry")
    )


def pinned(svc: Running) -> TrustRoot:
    """The trust root a verifier of this service pins: its deployment's chain and registry."""
    deployment = svc.service.deployment
    return TrustRoot.for_registry(deployment.chain_id, deployment.registry.address, "test")


async def test_chain_check_rejects_a_bundle_whose_anchor_lies(svc: Running) -> None:
    key = p256()
    await register(svc.client, "creator:liar", key)
    _, body = await svc.client.submit(manifest("creator:liar", key, 3))
    bundle = ProofBundle.from_json(
        json.dumps(await wait_for_proof(svc.client, body["manifestDigest"]))
    )
    assert bundle.anchor is not None
    artifact = load_artifact("AnchorRegistry")
    lies = {
        "anchor.chainId": replace(bundle.anchor, chain_id=1),
        "anchor": replace(bundle.anchor, batch_number=bundle.anchor.batch_number + 1),
        "anchor.blockTimestamp": replace(bundle.anchor, block_timestamp=1),
        "anchor.txHash": replace(bundle.anchor, tx_hash=b"\x01" * 32),
    }
    for field, anchor in lies.items():
        with pytest.raises(ProofError) as caught:
            await verify_anchor_on_chain(
                svc.service.w3, replace(bundle, anchor=anchor), pinned(svc), artifact
            )
        assert caught.value.field == field


async def test_same_manifest_twice_is_one_leaf(svc: Running) -> None:
    key = p256()
    await register(svc.client, "creator:bob", key)
    doc = manifest("creator:bob", key, 2)
    first_status, first = await svc.client.submit(doc)
    again_status, again = await svc.client.submit(doc)
    assert (first_status, again_status) == (202, 200)
    assert first["manifestDigest"] == again["manifestDigest"]
    assert first["acceptedAt"] == again["acceptedAt"]
    await wait_for_proof(svc.client, first["manifestDigest"])
    batches = await svc.client.batches()
    assert sum(b["leafCount"] for b in batches if b["kind"] == "manifests") == 1


async def test_batch_endpoint_reports_each_item(svc_any_db: Running) -> None:
    svc = svc_any_db
    key = p256()
    await register(svc.client, "creator:carol", key)
    good = [manifest("creator:carol", key, n) for n in range(20)]
    tampered = dict(good[0], assets=[dict(good[0]["assets"][0], tags=["edited"])])
    results = await svc.client.submit_many([*good, tampered])
    assert [r["httpStatus"] for r in results[:20]] == [202] * 20
    assert results[20]["httpStatus"] == 422
    assert results[20]["error"]["field"].startswith("manifests[20]")
    for result in results[:20]:
        await wait_for_proof(svc.client, result["manifestDigest"])
