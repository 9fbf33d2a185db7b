"""Every route of HTTP API v1, called on one live service, answers as the OpenAPI
document declares it: each real answer (a success and, where the route can refuse, a
refusal) is validated against its declared schema, and each request body sent is
validated against its declared request schema first.

The service is the embedded default with royalties on: a creator with an anchored,
priced manifest and a registered split; a co-signing buyer with a deposit, so usage
leads to a proposal the buyer co-signs.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.api.openapi import operations
from ledger.app.payments import Chain, address_of, deposit, register_splits, set_limits
from ledger.chain.anvil import DEV_KEYS
from ledger.chain.contracts.splitter import ANY_PRICE, NO_CAP
from ledger.chain.rpc import connect
from ledger.core.canonical import canonicalize
from ledger.core.creators import sign_action
from ledger.core.manifest import Manifest
from ledger.core.royalty.auth import request_headers
from ledger.core.royalty.terms import asset_terms
from ledger.core.signing import EthSigningKey, sign_manifest
from ledger.core.statements import sign_statement
from ledger.run.serve import running
from tests.contract import answer_problems, operation, validator
from tests.integration.service.conftest import FAST, now_ms, p256
from tests.integration.service.libraries import library
from tests.support import until

pytestmark = pytest.mark.chain

SECRET = bytes(range(32))
SOURCE = "edge-1"
ADMIN = "a" * 32
KEYS = json.dumps({"version": "ledger-usage-keys/1",
                   "sources": {SOURCE: [{"id": "k1", "secret": SECRET.hex()}]}})
CREATOR_KEY, BUYER_KEY = DEV_KEYS[5], DEV_KEYS[1]
CREATOR = "creator:ana"
ASSET = "asset:a-1"
MISSING = "0x" + "00" * 32


@dataclass
class Api:
    """Calls one route at a time, checks each answer against the document, and keeps
    which (method, route, status) were seen."""

    url: str
    http: aiohttp.ClientSession
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    async def call(self, method: str, route: str, *, params: Mapping[str, str] | None = None,
                   query: Mapping[str, str] | None = None, body: Any = None,
                   raw: bytes | None = None, auth: str = "") -> tuple[int, Any]:
        """`method` on `route` (a template filled from `params`); `body` is checked
        against the request schema and sent canonical, `raw` is sent as is. `auth`:
        "admin" (the operator's token), "source" (the metering source's HMAC) or none."""
        if body is not None:
            schema = operation(method, route)["requestBody"]["content"]["application/json"]
            assert not list(validator(schema["schema"]).iter_errors(body)), (route, body)
            raw = canonicalize(body)
        target = route.format(**(params or {}))
        headers = {"Content-Type": "application/json"} if raw is not None else {}
        if auth == "admin":
            headers["Authorization"] = f"Bearer {ADMIN}"
        elif auth == "source":
            signed = raw if method == "POST" else f"GET {target}".encode()
            headers.update(request_headers(SECRET, SOURCE, signed or b"", int(time.time())))
        async with self.http.request(method, self.url + target, params=query, data=raw,
                                     headers=headers) as response:
            data = await response.read()
            media = response.content_type
        assert answer_problems(method, route, response.status, media, data) == []
        self.seen.add((method, route, response.status))
        return response.status, json.loads(data) if media == "application/json" else data


@dataclass
class World:
    api: Api
    chain: Chain
    deployment: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = replace(FAST, data_dir=tmp_path / "data", usage_keys=KEYS, admin_token=ADMIN,
                       usage_batch_max_age_s=0.2, settle_interval_s=0.2,
                       # A receiver that never answers is given up on at once: dead letters.
                       webhook_retry_for_s=0.2, webhook_backoff_s=0.05, webhook_timeout_s=1.0,
                       # Evidence is issued 64 blocks deep, so its 202 is seen first.
                       evidence_depth=64)
    async with running(settings) as (service, url), aiohttp.ClientSession() as http:
        w3 = connect(service.rpc_url)
        try:
            chain = Chain.open(w3, service.deployment)
            api = Api(url, http)
            _, about = await api.call("GET", "/v1/service")
            yield World(api, chain, about["deployment"])
        finally:
            await w3.provider.disconnect()


def signed_manifest() -> dict[str, Any]:
    creator = address_of(CREATOR_KEY)
    return sign_manifest({
        "manifestVersion": "1.0",
        "creator": {"id": CREATOR, "wallet": creator},
        "assets": [{"id": ASSET, "type": "image/jpeg", "hash": "sha256:" + "ab" * 32,
                    "licenses": ["training"],
                    "priceModel": {"type": "per-unit", "rate": 1, "currency": "ETH",
                                   "unit": "sample", "amount": "1000"},
                    "payees": [{"account": creator, "shareBps": 10_000, "role": "creator"}]}],
    }, EthSigningKey.from_hex(CREATOR_KEY))


async def test_every_route_answers_as_declared(world: World) -> None:
    hook = await _subscribe(world.api)
    await _creators(world)
    manifest = await _manifests(world.api)
    await _batches(world.api, manifest)
    await _uploads(world.api, manifest)
    await _evidence(world, manifest)
    await _fund_cosigning_buyer(world.chain, manifest)
    event = await _usage(world.api, manifest)
    await _usage_reads(world.api, event)
    await _buyer(world.api)
    await _statement(world.api)
    # Last: a new split version makes the settler propose open usage again under it.
    await _splits(world.api, manifest)
    await _lifecycle(world, manifest)
    await _dataset_checks(world.api)
    await _webhooks(world.api, hook)
    await _service(world.api)
    missing = []
    for op in operations():
        statuses = {s for m, p, s in world.api.seen if (m, p) == (op.method, op.path)}
        if not any(200 <= s < 300 for s in statuses):
            missing.append(f"{op.method} {op.path}: no success")
        if any(400 <= s < 500 for s in op.answers) and not any(400 <= s < 500
                                                              for s in statuses):
            missing.append(f"{op.method} {op.path}: no refusal")
    assert missing == [], missing


async def _creators(world: World) -> None:
    api, key, recovery, extra = world.api, EthSigningKey.from_hex(CREATOR_KEY), p256(), p256()

    def action(name: str, keys: list[str], signers: list[Any], **more: Any) -> Any:
        return sign_action(name, CREATOR, keys, now_ms(), signers,
                           deployment=world.deployment, **more)

    register = action("register", [key.public_id], [key, recovery],
                      recovery_key=recovery.public_id)
    assert (await api.call("POST", "/v1/creators", body=register))[0] == 201
    assert (await api.call("POST", "/v1/creators", body=register))[0] == 409
    added = action("add-key", [extra.public_id], [key, extra])
    assert (await api.call("POST", "/v1/creators", body=added))[0] == 201
    for status in (201, 200):  # revoked, then already revoked
        revoke = action("revoke-key", [extra.public_id], [key])
        assert (await api.call("POST", "/v1/creators", body=revoke))[0] == status
    status, creator = await api.call("GET", "/v1/creators/{id}", params={"id": CREATOR})
    assert status == 200 and len(creator["keys"]) == 3
    assert (await api.call("GET", "/v1/creators/{id}", params={"id": "creator:nobody"}))[0] \
        == 404
    records = "/v1/creators/{id}/records"
    assert (await api.call("GET", records, params={"id": "creator:nobody"}))[0] == 404

    async def anchored() -> bool:
        _, found = await api.call("GET", records, params={"id": CREATOR})
        return all(r["status"] == "confirmed" and r["proof"] is not None
                   for r in found["records"])

    await until(anchored)  # the records' answers with their proofs, as declared


async def _manifests(api: Api) -> Manifest:
    doc = signed_manifest()
    assert (await api.call("POST", "/v1/manifests", body=doc))[0] == 202
    assert (await api.call("POST", "/v1/manifests", body=doc))[0] == 200
    assert (await api.call("POST", "/v1/manifests", raw=b'{"manifestVersion":'))[0] == 400
    bad = {**doc, "signature": doc["signature"][:-8] + "00000000"}  # r ‖ s changed
    status, batch = await api.call("POST", "/v1/manifests:batch",
                                   body={"manifests": [doc, bad]})
    assert status == 200 and [r["httpStatus"] for r in batch["results"]] == [200, 422]
    assert (await api.call("POST", "/v1/manifests:batch", raw=b'{"manifests":[]}'))[0] == 422
    manifest = Manifest.from_obj(doc)
    digest = {"digest": manifest.digest_hex()}
    await api.call("GET", "/v1/manifests/{digest}/proof", params=digest)  # 202 or 200

    async def proved() -> bool:
        return (await api.call("GET", "/v1/manifests/{digest}/proof", params=digest))[0] == 200

    await until(proved)
    assert (await api.call("GET", "/v1/manifests/{digest}", params=digest))[0] == 200
    for route in ("/v1/manifests/{digest}", "/v1/manifests/{digest}/proof"):
        assert (await api.call("GET", route, params={"digest": MISSING}))[0] == 404
    return manifest


async def _uploads(api: Api, manifest: Manifest) -> None:
    lib = library(CREATOR, EthSigningKey.from_hex(CREATOR_KEY), 3, tag="resp", chunk_size=2,
                  content=lambda i: "ab" * 32 if i == 0 else None)
    digest = {"digest": lib.digest}
    assert (await api.call("POST", "/v1/uploads", body=lib.start_body()))[0] == 201
    assert (await api.call("POST", "/v1/uploads", body=lib.start_body()))[0] == 200
    assert (await api.call("POST", "/v1/uploads", body=lib.start_body(4)))[0] == 409
    assert (await api.call("GET", "/v1/uploads/{digest}", params=digest))[0] == 200
    assert (await api.call("GET", "/v1/uploads/{digest}", params={"digest": MISSING}))[0] \
        == 404
    chunk = "/v1/uploads/{digest}/chunks/{index}"
    for index in range(lib.chunks):
        body = json.loads(lib.chunk_body(index))
        assert (await api.call("PUT", chunk, params={**digest, "index": str(index)},
                               body=body))[0] == 200
    assert (await api.call("PUT", chunk, params={**digest, "index": "0"},
                           raw=lib.chunk_body(0, proof_of=1)))[0] == 422
    proof = "/v1/manifests/{digest}/assets/{index}/proof"

    async def proved() -> bool:
        return (await api.call("GET", proof, params={**digest, "index": "2"}))[0] == 200

    await until(proved)
    one_0 = {"digest": manifest.digest_hex(), "index": "0"}
    assert (await api.call("GET", proof, params=one_0))[0] == 422
    lookup = "/v1/assets/by-hash/{sha256}"
    status, found = await api.call("GET", lookup, params={"sha256": "ab" * 32})
    assert status == 200 and found["conflict"] is False and len(found["registrations"]) == 2
    assert (await api.call("GET", lookup, params={"sha256": "AB" * 32}))[0] == 422
    lookups = "/v1/assets/by-hash:batch"
    status, found = await api.call("POST", lookups, body={
        "hashes": ["ab" * 32, "sha256:" + "cd" * 32, "sha256:" + "ab" * 32]})
    assert status == 200 and [(r["sha256"], len(r["registrations"])) for r in found["results"]] \
        == [("ab" * 32, 2), ("cd" * 32, 0), ("ab" * 32, 2)]
    assert (await api.call("POST", lookups, raw=b'{"hashes": []}'))[0] == 422


async def _evidence(world: World, manifest: Manifest) -> None:
    route = "/v1/manifests/{digest}/assets/{index}/evidence"
    asset = {"digest": manifest.digest_hex(), "index": "0"}
    assert (await world.api.call("GET", route, params=asset))[0] == 202  # not final yet
    await world.chain.w3.provider.make_request("anvil_mine", [70])  # type: ignore[arg-type]

    async def issued() -> bool:
        return (await world.api.call("GET", route, params=asset))[0] == 200

    await until(issued)
    assert (await world.api.call("GET", route, params={**asset, "digest": MISSING}))[0] == 404
    assert (await world.api.call("GET", route, params={**asset, "index": "x"}))[0] == 422


async def _batches(api: Api, manifest: Manifest) -> None:
    status, page = await api.call("GET", "/v1/batches", query={"limit": "10"})
    assert status == 200 and page["batches"]
    first = page["batches"][0]
    assert first["anchor"] is not None
    assert (await api.call("GET", "/v1/batches", query={"limit": "0"}))[0] == 422
    number = {"number": str(first["number"])}
    assert (await api.call("GET", "/v1/batches/{number}", params=number))[0] == 200
    assert (await api.call("GET", "/v1/batches/{number}", params={"number": "99999"}))[0] \
        == 404
    assert (await api.call("GET", "/v1/roots/{root}", params={"root": first["root"]}))[0] == 200
    assert (await api.call("GET", "/v1/roots/{root}", params={"root": MISSING}))[0] == 404


async def _fund_cosigning_buyer(chain: Chain, manifest: Manifest) -> None:
    await register_splits(chain, CREATOR_KEY, manifest)
    asset_key = asset_terms(manifest, manifest.digest(), ASSET).asset_key
    # Co-signing first: with no deposit yet it applies at once.
    await set_limits(chain, BUYER_KEY, "ETH", cosigning=True)
    await deposit(chain, BUYER_KEY, "ETH", 10**18)
    await set_limits(chain, BUYER_KEY, "ETH", spending_cap=NO_CAP,
                     max_prices={asset_key: ANY_PRICE})


def usage_event(manifest: Manifest, event_id: str, units: int = 1) -> dict[str, Any]:
    return {"eventId": event_id, "buyer": address_of(BUYER_KEY), "units": units,
            "asset": {"manifestDigest": manifest.digest_hex(), "assetId": ASSET},
            "time": "2025-06-01T12:00:00.000Z", "source": SOURCE}


async def _usage(api: Api, manifest: Manifest) -> dict[str, Any]:
    event = usage_event(manifest, "job:1", 3)
    assert (await api.call("POST", "/v1/usage", body=event, auth="source"))[0] == 202
    assert (await api.call("POST", "/v1/usage", body=event, auth="source"))[0] == 200
    assert (await api.call("POST", "/v1/usage", body=event))[0] == 401
    more = {"events": [usage_event(manifest, f"job:{i}", i) for i in (2, 3)]}
    status, stored = await api.call("POST", "/v1/usage", body=more, auth="source")
    assert status == 202 and stored["accepted"] == 2
    refused = {"events": [{**event, "eventId": "job:4", "units": 0}]}
    status, answer = await api.call("POST", "/v1/usage", raw=canonicalize(refused),
                                    auth="source")
    assert status == 422 and answer["rejected"] == 1
    return event


async def _usage_reads(api: Api, event: dict[str, Any]) -> None:
    params = {"event_id": event["eventId"]}
    source = {"source": SOURCE}
    for route in ("/v1/usage/{event_id}", "/v1/usage/{event_id}/proof"):
        assert (await api.call("GET", route, params=params, query=source, auth="admin"))[0] \
            in (200, 202)
        assert (await api.call("GET", route, params=params))[0] == 401
        assert (await api.call("GET", route, params={"event_id": "job:none"}, query=source,
                               auth="admin"))[0] == 404
    assert (await api.call("GET", "/v1/usage/{event_id}", params=params, auth="source"))[0] \
        == 200

    async def receipt() -> bool:
        status, _ = await api.call("GET", "/v1/usage/{event_id}/proof", params=params,
                                   query=source, auth="admin")
        return status == 200

    await until(receipt)


async def _buyer(api: Api) -> None:
    buyer = {"address": address_of(BUYER_KEY)}

    async def proposed() -> Any:
        _, body = await api.call("GET", "/v1/buyers/{address}/proposals", params=buyer,
                                 auth="admin")
        return body["proposals"]

    proposal = (await until(proposed))[0]  # one per usage batch the events landed in
    assert (await api.call("GET", "/v1/buyers/{address}/proposals", params=buyer))[0] == 401
    assert (await api.call("GET", "/v1/buyers/{address}", params=buyer, auth="admin"))[0] \
        == 200
    assert (await api.call("GET", "/v1/buyers/{address}", params=buyer))[0] == 401
    assert (await api.call("GET", "/v1/buyers/{address}", params={"address": "0x12"},
                           auth="admin"))[0] == 422
    signature = EthSigningKey.from_hex(BUYER_KEY).sign_typed_data(proposal["typedData"])
    cosign = {"usageRoot": proposal["usageRoot"], "token": "ETH",
              "signature": signature.removeprefix("eip712:")}
    route = "/v1/buyers/{address}/cosign"
    assert (await api.call("POST", route, params=buyer, body={**cosign, "usageRoot": MISSING})
            )[0] == 404
    assert (await api.call("POST", route, params=buyer, body=cosign))[0] == 202
    assert (await api.call("POST", route, params=buyer, body=cosign))[0] == 200


async def _splits(api: Api, manifest: Manifest) -> None:
    query = {"manifestDigest": manifest.digest_hex(), "assetId": ASSET}
    status, terms = await api.call("GET", "/v1/splits/terms", query=query)
    assert status == 200 and terms["version"] == 2
    assert (await api.call("GET", "/v1/splits/terms", query={**query, "manifestDigest": "0x1"})
            )[0] == 422
    assert (await api.call("GET", "/v1/splits/terms", query={**query, "manifestDigest": MISSING})
            )[0] == 404
    signature = EthSigningKey.from_hex(CREATOR_KEY).sign_typed_data(terms["typedData"])
    body = {**query, "version": terms["version"], "deadline": terms["deadline"],
            "signature": signature.removeprefix("eip712:")}
    assert (await api.call("POST", "/v1/splits", body={**body, "manifestDigest": MISSING})
            )[0] == 404
    assert (await api.call("POST", "/v1/splits", body=body))[0] == 202


async def _statement(api: Api) -> None:
    route, creator = "/v1/creators/{id}/statement", {"id": CREATOR}

    async def settled() -> Any:
        status, statement = await api.call("GET", route, params=creator, auth="admin")
        assert status == 200 and statement["usage"]
        return statement["splits"]  # once the co-signed settlement is recorded

    await until(settled)
    status, csv = await api.call("GET", route, params=creator, query={"format": "csv"},
                                 auth="admin")
    assert status == 200 and csv.startswith(b"kind,")
    assert (await api.call("GET", route, params=creator))[0] == 401
    assert (await api.call("GET", route, params=creator, query={"format": "xml"},
                           auth="admin"))[0] == 422


async def _lifecycle(world: World, manifest: Manifest) -> None:
    """Last: a takedown claim by a stranger (it refuses nobody's usage), and the status
    routes (docs/lifecycle.md)."""
    api, digest = world.api, manifest.digest_hex()
    claim = sign_statement({"type": "takedown", "deployment": world.deployment,
                            "issuedAt": now_ms(), "target": {"manifestDigest": digest},
                            "grounds": "my photo", "claimant": "Bo <bo@example.org>"}, p256())
    status, stored = await api.call("POST", "/v1/statements", body=claim)
    assert status == 202 and stored["type"] == "takedown"
    assert (await api.call("POST", "/v1/statements", body=claim))[0] == 200
    assert (await api.call("POST", "/v1/statements", raw=canonicalize(
        {**claim, "grounds": "changed"})))[0] == 422
    statement = "/v1/statements/{digest}"
    assert (await api.call("GET", statement, params={"digest": stored["digest"]}))[0] == 200
    assert (await api.call("GET", statement, params={"digest": MISSING}))[0] == 404
    asset = "/v1/manifests/{digest}/assets/{index}/status"
    status, found = await api.call("GET", asset, params={"digest": digest, "index": ASSET})
    assert status == 200 and found["state"] == "disputed"
    assert (await api.call("GET", asset, params={"digest": digest, "index": "7"}))[0] == 404
    assert (await api.call("GET", asset, params={"digest": digest, "index": "0"},
                           query={"at": "soon"}))[0] == 422
    page = "/v1/manifests/{digest}/status"
    assert (await api.call("GET", page, params={"digest": digest}))[0] == 200
    assert (await api.call("GET", page, params={"digest": MISSING}))[0] == 404
    by_hash = "/v1/assets/by-hash/{sha256}/status"
    status, found = await api.call("GET", by_hash, params={"sha256": "ab" * 32})
    assert status == 200 and found["registrations"][0]["licenceStatus"]["disputed"]
    assert (await api.call("GET", by_hash, params={"sha256": "AB" * 32}))[0] == 422
    unsettled = "/v1/manifests/{digest}/assets/{assetId}/unsettled"
    params = {"digest": digest, "assetId": ASSET}
    status, found = await api.call("GET", unsettled, params=params,
                                   query={"before": str(now_ms())}, auth="admin")
    assert status == 200 and found["events"] >= 0
    assert (await api.call("GET", unsettled, params=params,
                           query={"before": str(now_ms())}))[0] == 401
    assert (await api.call("GET", unsettled, params=params, auth="admin"))[0] == 422


async def _dataset_checks(api: Api) -> None:
    """A dataset check of a registered file and an unknown one, and its snapshot served
    once anchored (docs/lifecycle.md, "The dataset check")."""
    status, check = await api.call("POST", "/v1/dataset-checks",
                                   body={"hashes": ["ab" * 32, "cd" * 32]})
    assert status == 201 and [a["registered"] for a in check["answers"]] == [True, False]
    assert (await api.call("POST", "/v1/dataset-checks", raw=b'{"hashes":[]}'))[0] == 422
    stored = "/v1/dataset-checks/{id}"

    async def anchored() -> bool:
        _, found = await api.call("GET", stored, params={"id": check["id"]})
        return found["proof"] is not None and found["proof"]["anchor"] is not None

    await until(anchored)
    assert (await api.call("GET", stored, params={"id": MISSING}))[0] == 404


async def _subscribe(api: Api) -> str:
    """A subscription to every event, at a port nothing listens on."""
    body = {"url": "http://127.0.0.1:9/hook"}
    assert (await api.call("POST", "/v1/webhooks", body=body))[0] == 401
    status, made = await api.call("POST", "/v1/webhooks", body=body, auth="admin")
    assert status == 201
    hook_id: str = made["id"]
    return hook_id


async def _webhooks(api: Api, hook: str) -> None:
    one, letters = "/v1/webhooks/{id}", "/v1/webhooks/{id}/dead-letters"
    assert (await api.call("GET", "/v1/webhooks"))[0] == 401
    assert (await api.call("GET", "/v1/webhooks", auth="admin"))[0] == 200
    assert (await api.call("GET", one, params={"id": hook}, auth="admin"))[0] == 200
    assert (await api.call("GET", one, params={"id": "wh_none"}, auth="admin"))[0] == 404
    assert (await api.call("GET", letters, params={"id": "wh_none"}, auth="admin"))[0] == 404

    async def dead() -> Any:
        status, answer = await api.call("GET", letters, params={"id": hook}, auth="admin")
        assert status == 200
        return answer["deadLetters"]

    event = (await until(dead))[0]["event"]["id"]
    redeliver = "/v1/webhooks/{id}/dead-letters/{event}/redeliver"
    assert (await api.call("POST", redeliver, params={"id": hook, "event": event},
                           auth="admin"))[0] == 202
    assert (await api.call("POST", redeliver, params={"id": hook, "event": "evt_none"},
                           auth="admin"))[0] == 404
    assert (await api.call("GET", "/v1/events", auth="admin"))[0] == 200
    assert (await api.call("GET", "/v1/events", query={"after": "-1"}, auth="admin"))[0] == 422
    assert (await api.call("DELETE", one, params={"id": hook}, auth="admin"))[0] == 204
    assert (await api.call("DELETE", one, params={"id": hook}, auth="admin"))[0] == 404


async def _service(api: Api) -> None:
    for route in ("/v1/service", "/v1/openapi.json", "/healthz", "/readyz", "/metrics"):
        assert (await api.call("GET", route))[0] == 200
