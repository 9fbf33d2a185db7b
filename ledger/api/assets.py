"""Handlers of 1.1 uploads, one asset's proof and lookups by content hash."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from ledger.api.appkeys import CONTEXT
from ledger.api.caching import immutable, not_final, proof_response
from ledger.api.provenance import manifest_json, parse_hex32, read_body
from ledger.api.rsl import licence_link
from ledger.app.clock import now_ms
from ledger.app.evidence import Pending
from ledger.app.library import ChunkAnswer, Registration
from ledger.core.asset_tree import AssetProof
from ledger.core.canonical import parse_strict
from ledger.core.fields import CONTENT_HASH, CONTENT_HASH_FORM
from ledger.errors import ValidationError

# A chunk or asset index: below 2**24 (the most assets a manifest holds), so 8 digits.
_INDEX = re.compile(r"(?:0|[1-9][0-9]{0,7})")
#: The Retry-After of a pending evidence package, in seconds.
EVIDENCE_RETRY_S = 5


async def post_upload(request: web.Request) -> web.Response:
    """POST /v1/uploads: start (or resume) the upload of a signed 1.1 header."""
    obj = parse_strict(await read_body(request, "manifest"))
    view, created = await request.app[CONTEXT].library.start(obj)
    return _json(view.to_obj(), status=201 if created else 200)


async def get_upload(request: web.Request) -> web.Response:
    """GET /v1/uploads/{digest}: where an upload stands."""
    digest = parse_hex32(request.match_info["digest"], "digest")
    view = await request.app[CONTEXT].library.upload(digest)
    return _json(view.to_obj())


async def put_chunk(request: web.Request) -> web.Response:
    """PUT /v1/uploads/{digest}/chunks/{index}: one chunk of assets with its proof."""
    digest = parse_hex32(request.match_info["digest"], "digest")
    index = _index(request.match_info["index"])
    body = await read_body(request, "chunk")
    answer = await request.app[CONTEXT].library.put_chunk(digest, index, body)
    return _json(chunk_json(answer))


async def get_asset_proof(request: web.Request) -> web.Response:
    """GET /v1/manifests/{digest}/assets/{index}/proof: one asset disclosed alone, with
    its proof (immutable once its anchor is final); 202 and the manifest's status while
    it awaits its batch."""
    digest = parse_hex32(request.match_info["digest"], "digest")
    index = _index(request.match_info["index"])
    found = await request.app[CONTEXT].library.asset_proof(digest, index)
    if not isinstance(found, AssetProof):
        return not_final(_json(manifest_json(found), status=202))
    answer = await proof_response(request, found.to_json(), found.manifest_proof.anchor)
    return await with_licence_link(request, answer, [(digest, index)])


async def get_evidence(request: web.Request) -> web.Response:
    """GET /v1/manifests/{digest}/assets/{index}/evidence: the evidence package of one
    asset, immutable; 202 with the reason while an anchor it needs is not final."""
    digest = parse_hex32(request.match_info["digest"], "digest")
    index = _index(request.match_info["index"])
    found = await request.app[CONTEXT].evidence.evidence(digest, index)
    if isinstance(found, Pending):
        answer = _json({"status": "pending", "reason": found.reason}, status=202)
        answer.headers["Retry-After"] = str(EVIDENCE_RETRY_S)
        return not_final(answer)
    return await with_licence_link(request, immutable(request, found.to_json()),
                                   [(digest, index)])


async def get_by_hash(request: web.Request) -> web.Response:
    """GET /v1/assets/by-hash/{sha256}: every registration of these bytes."""
    content_hash = path_sha256(request)
    found = await request.app[CONTEXT].library.by_hash(content_hash)
    answer = _json(lookup_json(content_hash, found, anchor_chain(request)))
    return await with_licence_link(request, answer,
                                   [(r.manifest_digest, r.asset_index) for r in found])


async def post_lookup(request: web.Request) -> web.Response:
    """POST /v1/assets/by-hash:batch: ``{"hashes": [...]}``; each file's registrations,
    as `get_by_hash` answers them, in the request's order (no Link: a crawler follows
    the one lookup's, or the RSL document's)."""
    found = await request.app[CONTEXT].library.lookup(
        parse_strict(await read_body(request, "batch")))
    chain = anchor_chain(request)
    return _json({"results": [lookup_json(h, registrations, chain)
                              for h, registrations in found]})


def lookup_json(content_hash: bytes, found: list[Registration], chain: dict[str, Any]
                ) -> dict[str, Any]:
    """Every registration of one content hash, as a lookup shows them."""
    return {
        "sha256": content_hash.hex(),
        "registrations": [registration_json(r, chain) for r in found],
        "conflict": len({r.creator_id for r in found}) > 1,
    }


def path_sha256(request: web.Request) -> bytes:
    """The ``{sha256}`` of a by-hash route: 64 lower-case hex digits, bare or as a
    manifest writes it; 422 naming it otherwise."""
    given = request.match_info["sha256"]
    if CONTENT_HASH.fullmatch(given) is None:
        raise ValidationError(f"must be {CONTENT_HASH_FORM}", field="sha256")
    return bytes.fromhex(given[-64:])


def anchor_chain(request: web.Request) -> dict[str, Any]:
    """The chain and registry every registration's anchor is on, as a lookup shows them."""
    ctx = request.app[CONTEXT]
    return {"chainId": ctx.chain.chain_id, "contract": ctx.chain.registry}


async def with_licence_link(request: web.Request, response: web.Response,
                            assets: Iterable[tuple[bytes, int]]) -> web.Response:
    """`response` with a ``Link`` to the RSL document of each manifest whose asset
    (digest, index) is licensable through the licence server now, if any is: how a
    crawler that found the bytes learns where to license them."""
    publisher = request.app[CONTEXT].licensing.publisher
    now = now_ms()
    urls: dict[str, None] = {}
    for digest, index in assets:
        if await publisher.offered(digest, index, now):
            urls[publisher.manifest_url(digest)] = None
    if urls:
        response.headers["Link"] = licence_link(*urls)
    return response


def chunk_json(answer: ChunkAnswer) -> dict[str, Any]:
    """The answer to a chunk PUT."""
    return {"index": answer.index, "stored": answer.stored, "upload": answer.view.to_obj()}


def registration_json(found: Registration, chain: dict[str, Any]) -> dict[str, Any]:
    """One registration of a content hash, as the lookup shows it."""
    entry = orjson.loads(found.entry)
    out: dict[str, Any] = {
        "creatorId": found.creator_id,
        "creatorVerification": {"method": found.verification_method,
                                "detail": found.verification_detail},
        "assetId": found.asset_id,
        "assetIndex": found.asset_index,
        "manifestDigest": "0x" + found.manifest_digest.hex(),
        "manifestVersion": found.manifest_version,
        "licenses": entry["licenses"],
    }
    for member in ("priceModel", "payees"):
        if member in entry:
            out[member] = entry[member]
    anchor = found.anchor
    out.update({
        "status": found.status,
        "acceptedAt": found.accepted_at,
        "anchor": None if anchor is None else {
            **chain,
            "batchNumber": anchor.batch_number,
            "blockNumber": anchor.block_number,
            "blockTimestamp": anchor.block_timestamp,
            "txHash": "0x" + anchor.tx_hash.hex(),
        },
    })
    return out


def _index(text: str) -> int:
    if not _INDEX.fullmatch(text):
        raise ValidationError("must be an integer from 0 to 99999999", field="index")
    return int(text)


def _json(data: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")
