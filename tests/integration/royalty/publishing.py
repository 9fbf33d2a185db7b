"""Publish a priced one-asset manifest for royalty tests on a running service."""

from __future__ import annotations

from typing import Any

from ledger.app.payments import Chain, address_of, register_splits
from ledger.cli.client import LedgerClient
from ledger.core.manifest import Manifest
from ledger.core.signing import EthSigningKey, sign_manifest
from tests.integration.service.conftest import register, wait_for_proof


async def publish_priced(client: LedgerClient, chain: Chain, creator: str, creator_id: str,
                         hash_byte: str, price: int) -> tuple[Manifest, dict[str, Any]]:
    """Register ``creator_id``, anchor a manifest of ``asset:1`` at ``price`` wei a sample
    and register its splits; return the manifest and the signed document."""
    key = EthSigningKey.from_hex(creator)
    await register(client, creator_id, key)
    doc = sign_manifest({
        "manifestVersion": "1.0",
        "creator": {"id": creator_id, "wallet": address_of(creator)},
        "assets": [{"id": "asset:1", "type": "image/jpeg", "hash": "sha256:" + hash_byte * 32,
                    "licenses": ["training"],
                    "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                                   "unit": "sample", "amount": str(price)}}],
    }, key)
    status, _ = await client.submit(doc)
    assert status == 202
    manifest = Manifest.from_obj(doc)
    await wait_for_proof(client, manifest.digest_hex())
    await register_splits(chain, creator, manifest)
    return manifest, doc
