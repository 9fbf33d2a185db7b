"""Creator records end to end on the embedded default (issue 15): every accepted
creator action is kept, sealed into its own batches and anchored, and
``GET /v1/creators/{id}/records`` serves each with a proof the registry confirms;
refused actions leave no record."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from ledger.chain.contracts.artifacts import load_artifact
from ledger.chain.contracts.registry import AnchorRegistry
from ledger.cli.client import LedgerClient, ServiceError
from ledger.core.canonical import canonicalize
from ledger.core.creators import RECORD_TAG, sign_action
from ledger.core.hashing import sha256
from ledger.core.proof import ProofBundle, verify_bundle
from ledger.core.signing import SigningKey
from tests.integration.service.conftest import Running, manifest, now_ms, p256, register

pytestmark = pytest.mark.chain


async def act(client: LedgerClient, kind: str, creator_id: str, keys: list[SigningKey],
              signers: list[SigningKey]) -> tuple[int, Any]:
    signed = sign_action(kind, creator_id, [k.public_id for k in keys], now_ms(), signers,
                         deployment=await client.deployment())
    return await client._request("POST", "/v1/creators", signed, ok=(200, 201, 409, 422))


async def records(client: LedgerClient, creator_id: str) -> Any:
    return (await client._request("GET", f"/v1/creators/{creator_id}/records"))[1]


async def anchored_records(client: LedgerClient, creator_id: str, timeout: float = 30.0
                           ) -> list[Any]:
    """Poll until every record of the creator is anchored and confirmed (a sealed batch
    gives a proof before its anchor is confirmed)."""
    deadline = time.monotonic() + timeout
    while True:
        found = (await records(client, creator_id))["records"]
        if all(r["status"] == "confirmed" and r["proof"] is not None for r in found):
            return list(found)
        assert time.monotonic() < deadline, f"records not anchored: {found}"
        await asyncio.sleep(0.1)


async def test_creator_actions_are_recorded_and_anchored(svc_any_db: Running) -> None:
    svc = svc_any_db
    client = svc.client
    key, other, stranger = p256(), p256(), p256()
    await register(client, "creator:ana", key)
    assert (await act(client, "add-key", "creator:ana", [other], [other, key]))[0] == 201
    assert (await act(client, "revoke-key", "creator:ana", [other], [key]))[0] == 201
    # Refused or changing nothing: no record. A duplicate register, an add-key signed by
    # a stranger, and a revoke of the key revoked already.
    with pytest.raises(ServiceError) as duplicate:
        await register(client, "creator:ana", key)
    assert duplicate.value.status == 409
    assert (await act(client, "add-key", "creator:ana", [stranger], [stranger]))[0] == 422
    assert (await act(client, "revoke-key", "creator:ana", [other], [key]))[0] == 200

    found = await anchored_records(client, "creator:ana")
    assert [r["record"]["action"] for r in found] == ["register", "add-key", "revoke-key"]
    accepted = [r["acceptedAt"] for r in found]
    assert accepted == sorted(accepted)
    registry = AnchorRegistry(svc.service.w3, svc.service.deployment.registry.address,
                              load_artifact("AnchorRegistry"))
    for item in found:
        digest = sha256(RECORD_TAG + canonicalize(item["record"]))
        assert item["digest"] == "0x" + digest.hex() and item["status"] == "confirmed"
        bundle = ProofBundle.from_obj(item["proof"])
        assert bundle.manifest_digest == digest and bundle.anchor is not None
        verify_bundle(bundle)
        assert await registry.verify_inclusion(digest, bundle.proof, bundle.root) == (
            True, bundle.anchor.block_timestamp)
        batch = await client._request("GET", f"/v1/batches/{bundle.anchor.batch_number}")
        assert batch[1]["kind"] == "creator-records"
        assert batch[1]["root"] == "0x" + bundle.root.hex()

    # What evidence packages use: the records up to a time, with their acceptance times.
    until = await svc.service.ctx.creator_history.actions("creator:ana", accepted[1])
    assert [(action["action"], bundle is not None and bundle.anchor is not None)
            for action, bundle, _ in until] == [("register", True), ("add-key", True)]
    assert [at for _, _, at in until] == sorted(at for _, _, at in until)
    assert until[-1][2] <= accepted[1]
    assert [action for action, _, _ in until] == [r["record"] for r in found[:2]]


async def test_manifest_batches_show_their_kind(svc: Running) -> None:
    key = p256()
    await register(svc.client, "creator:kinds", key)
    _, accepted = await svc.client.submit(manifest("creator:kinds", key, 1))
    deadline = time.monotonic() + 30.0
    while (status := await svc.client.manifest(accepted["manifestDigest"]))["batchNumber"] is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    batch = await svc.client._request("GET", f"/v1/batches/{status['batchNumber']}")
    assert batch[1]["kind"] == "manifests"


async def test_records_of_an_unknown_creator_are_404(svc: Running) -> None:
    with pytest.raises(ServiceError) as unknown:
        await records(svc.client, "creator:nobody")
    assert unknown.value.status == 404
