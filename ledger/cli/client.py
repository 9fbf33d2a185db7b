"""A small async client of HTTP API v1, for the CLI and the demo."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from ledger.core.creators import deployment_id
from ledger.core.reads import signed_read_headers
from ledger.core.royalty.auth import request_headers
from ledger.core.signed_requests import signed_request_headers
from ledger.core.signing import SigningKey
from ledger.errors import LedgerError


class ServiceError(LedgerError):
    """The service answered with an error body, or could not be reached."""

    code = "service_error"

    def __init__(self, message: str, *, status: int | None = None, field: str | None = None):
        super().__init__(message, field=field)
        self.status = status


class LedgerClient:
    """`async with LedgerClient(url) as client:`; every method returns parsed JSON."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LedgerClient:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def submit(self, manifest: Any) -> tuple[int, Any]:
        """POST one manifest; (status, body) with status 202 (new) or 200 (known)."""
        return await self._request("POST", "/v1/manifests", manifest)

    async def submit_many(self, manifests: Sequence[Any]) -> list[Any]:
        """POST many manifests at once; one result per manifest, each with its status."""
        _, body = await self._request("POST", "/v1/manifests:batch", {"manifests": list(manifests)})
        return list(body["results"])

    async def creator_action(self, action: Any) -> tuple[int, Any]:
        """POST a signed creator action."""
        return await self._request("POST", "/v1/creators", action)

    async def manifest(self, digest: str) -> Any:
        """The record of one manifest."""
        return (await self._request("GET", f"/v1/manifests/{digest}"))[1]

    async def proof(self, digest: str) -> tuple[int, Any]:
        """(200, bundle) once confirmed, else (202, status record)."""
        return await self._request("GET", f"/v1/manifests/{digest}/proof")

    async def start_upload(self, header: Any, chunk_size: int | None = None) -> tuple[int, Any]:
        """POST a signed 1.1 header; (201, upload view) when started, (200, view) when this
        digest's upload already exists or the manifest is complete."""
        body: dict[str, Any] = {"manifest": header}
        if chunk_size is not None:
            body["chunkSize"] = chunk_size
        return await self._request("POST", "/v1/uploads", body)

    async def upload(self, digest: str) -> Any:
        """Where an upload stands: its view, with ``missingChunks``."""
        return (await self._request("GET", f"/v1/uploads/{digest}"))[1]

    async def put_chunk(
        self, digest: str, index: int, entries: Sequence[bytes], proof: Sequence[bytes]
    ) -> Any:
        """PUT chunk ``index``: its canonical entries as they are (no re-encoding) and the
        chunk's proof up to ``assetsRoot``; the answer carries the upload view."""
        hashes = ",".join(f'"0x{node.hex()}"' for node in proof).encode()
        body = b'{"assets":[' + b",".join(entries) + b'],"proof":[' + hashes + b"]}"
        return (await self._request("PUT", f"/v1/uploads/{digest}/chunks/{index}", raw=body))[1]

    async def asset_proof(self, digest: str, index: int) -> tuple[int, Any]:
        """(200, ``ledger-asset-proof/1``) once the manifest is in a batch, else (202, its
        status record)."""
        return await self._request("GET", f"/v1/manifests/{digest}/assets/{index}/proof")

    async def evidence(self, digest: str, index: int) -> tuple[int, Any]:
        """(200, ``ledger-evidence/1``) once the manifest's anchor and the creator records
        it relies on are final, else (202, ``{"status": "pending", "reason": …}``)."""
        return await self._request("GET", f"/v1/manifests/{digest}/assets/{index}/evidence")

    async def lookup(self, sha256_hex: str) -> Any:
        """Every registration of the content with this SHA-256 (64 hex digits)."""
        return (await self._request("GET", f"/v1/assets/by-hash/{sha256_hex}"))[1]

    async def lookups(self, sha256_hex: Sequence[str]) -> list[Any]:
        """`lookup` of each of up to `MAX_LOOKUP` SHA-256s at once, in order."""
        _, body = await self._request("POST", "/v1/assets/by-hash:batch",
                                      {"hashes": list(sha256_hex)})
        return list(body["results"])

    async def batches(self, after: int = 0, limit: int = 1000) -> list[Any]:
        """A page of batches."""
        _, body = await self._request("GET", f"/v1/batches?after={after}&limit={limit}")
        return list(body["batches"])

    async def batch(self, number: int) -> Any:
        """One batch: its root, status and, once confirmed, its anchor."""
        return (await self._request("GET", f"/v1/batches/{number}"))[1]

    async def service(self) -> Any:
        """The service's receipt key, chain and registry (``GET /v1/service``)."""
        return (await self._request("GET", "/v1/service"))[1]

    async def deployment(self) -> str:
        """The deployment creator actions must name, from ``GET /v1/service``."""
        service = await self.service()
        return deployment_id(int(service["chainId"]), str(service["registry"]))

    async def creator(self, creator_id: str) -> Any:
        """A creator's verification and keys (``GET /v1/creators/{id}``)."""
        return (await self._request("GET", f"/v1/creators/{creator_id}"))[1]

    async def read_own(self, path: str, key: SigningKey) -> tuple[int, Any]:
        """GET a record only its owner may read (a buyer's view or proposals with the
        buyer's Ethereum key, a creator's statement with one of its signing keys),
        signed with `key` (docs/royalties.md, "Who may read what")."""
        raw = URL(self.base_url + path).raw_path_qs
        headers = signed_read_headers(key, raw, int(time.time()))
        return await self._request("GET", path, headers=headers)

    async def read_as_source(self, path: str, source: str, secret: bytes) -> tuple[int, Any]:
        """GET one of metering `source`'s own usage events (``/v1/usage/{id}[/proof]``),
        authenticated with its HMAC `secret` over ``GET <path>``."""
        raw = URL(self.base_url + path).raw_path_qs
        headers = request_headers(secret, source, f"GET {raw}".encode(), int(time.time()))
        return await self._request("GET", path, headers=headers)

    async def health(self) -> tuple[int, Any]:
        """The health report and its status (200 or 503)."""
        return await self._request("GET", "/healthz", ok=(200, 503))

    async def ready(self) -> tuple[int, Any]:
        """The readiness report and its status (200 or 503)."""
        return await self._request("GET", "/readyz", ok=(200, 503))

    async def lifecycle_statement(self, statement: Any) -> tuple[int, Any]:
        """POST a signed lifecycle statement; (202, stored view) when new, (200, …) known."""
        return await self._request("POST", "/v1/statements", statement)

    async def stored_statement(self, digest: str) -> Any:
        """A stored lifecycle statement as signed, with its proof once anchored."""
        return (await self._request("GET", f"/v1/statements/{digest}"))[1]

    async def asset_status(self, digest: str, asset_id: str, at: int) -> Any:
        """One asset's licence status at `at`, with the amended terms then in force."""
        return (await self._request(
            "GET", f"/v1/manifests/{digest}/assets/{asset_id}/status?at={at}"))[1]

    async def hash_status(self, sha256_hex: str, at: int | None = None) -> Any:
        """Every registration of these bytes with its licence status at `at` (default now)."""
        query = "" if at is None else f"?at={at}"
        return (await self._request("GET", f"/v1/assets/by-hash/{sha256_hex}/status{query}"))[1]

    async def dataset_check(self, hashes: Sequence[str], at: int | None = None,
                            key: SigningKey | None = None) -> Any:
        """Check a dataset's hashes: the answers and the signed licence snapshot (naming
        the buyer whose wallet `key` signs the request, when given)."""
        body: dict[str, Any] = {"hashes": list(hashes)}
        if at is not None:
            body["at"] = at
        if key is not None:
            return (await self.signed("POST", "/v1/dataset-checks", key, body))[1]
        return (await self._request("POST", "/v1/dataset-checks", body))[1]

    async def signed(self, method: str, path: str, key: SigningKey, body: Any = None, *,
                     creator_id: str | None = None, ok: tuple[int, ...] = (200, 201, 202, 204),
                     ) -> tuple[int, Any]:
        """A request signed with `key`, for `creator_id` or else as the buyer whose wallet
        it is (docs/lifecycle.md, "Who may subscribe")."""
        raw = b"" if body is None else json.dumps(body).encode()
        headers = signed_request_headers(key, method, URL(self.base_url + path).raw_path_qs,
                                         raw, timestamp=int(time.time()), creator_id=creator_id)
        return await self._request(method, path, headers=headers, ok=ok,
                                   raw=raw if body is not None else None)

    async def stored_dataset_check(self, check_id: str) -> Any:
        """A dataset check's snapshot, its batch's status and its proof."""
        return (await self._request("GET", f"/v1/dataset-checks/{check_id}"))[1]

    async def _request(
        self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201, 202),
        headers: Mapping[str, str] | None = None, raw: bytes | None = None,
    ) -> tuple[int, Any]:
        assert self._session is not None, "use LedgerClient in `async with`"
        data = raw if body is None else json.dumps(body).encode()
        headers = {**(headers or {}),
                   **({"Content-Type": "application/json"} if data is not None else {})}
        try:
            async with self._session.request(
                method, self.base_url + path, data=data, headers=headers
            ) as response:
                # CSV (a creator's statement) comes back as text; everything else is JSON.
                payload = (await response.text() if response.content_type.startswith("text/")
                           else await response.json(content_type=None))
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ServiceError(f"{method} {path}: {exc or type(exc).__name__}") from exc
        if status not in ok:
            raise _refused(f"{method} {path}", status, payload)
        return status, payload


def _refused(request: str, status: int, payload: Any) -> ServiceError:
    """The error a refusal's body names (its message and field), else the body itself."""
    error = payload.get("error", {}) if isinstance(payload, dict) else {}
    return ServiceError(f"{request}: {status} {error.get('message', payload)}",
                        status=status, field=error.get("field"))


USAGE_BATCH = 1_000


async def send_usage(
    url: str,
    source: str,
    secret: bytes,
    events: Iterable[Mapping[str, Any]],
    *,
    batch_size: int = USAGE_BATCH,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """Send usage events as metering ``source`` to the service at ``url``, signed with its
    HMAC ``secret`` (docs/royalties.md), ``batch_size`` events per request.

    Returns one result per event, in order, each with its ``eventId``: ``httpStatus``
    202 when stored now, 200 when stored before, or an ``error`` with its 4xx status.
    A refused request (401: unknown source, stale clock, wrong key; 403: an event naming
    another source) raises `ServiceError`; events already sent in earlier requests stay
    stored, and sending them again is harmless (stored once by ``eventId``).
    """
    if not 1 <= batch_size <= 10_000:
        raise ValueError("batch_size must be 1 to 10,000")
    batch: list[Mapping[str, Any]] = []
    results: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
        for event in events:
            batch.append(event)
            if len(batch) == batch_size:
                results += await _post_usage(http, url, source, secret, batch)
                batch = []
        if batch:
            results += await _post_usage(http, url, source, secret, batch)
    return results


async def _post_usage(
    http: aiohttp.ClientSession,
    url: str,
    source: str,
    secret: bytes,
    events: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    body = json.dumps({"events": list(events)}).encode()
    # Signed just before sending: the service refuses a timestamp off by more than
    # `usage_window_s` from its clock.
    headers = request_headers(secret, source, body, int(time.time()))
    path = "/v1/usage"
    try:
        async with http.post(url.rstrip("/") + path, data=body, headers=headers) as response:
            payload = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ServiceError(f"POST {path}: {exc or type(exc).__name__}") from exc
    if isinstance(payload, dict) and isinstance(payload.get("results"), list):
        # A refusal names no event: the answers are in the order of the events sent.
        return [{"eventId": event.get("eventId"), **result}
                for event, result in zip(events, payload["results"], strict=True)]
    raise _refused(f"POST {path}", status, payload)
