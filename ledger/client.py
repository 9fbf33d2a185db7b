"""A small async client of HTTP API v1, for the CLI and the demo."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import aiohttp

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

    async def batches(self, after: int = 0, limit: int = 1000) -> list[Any]:
        """A page of batches."""
        _, body = await self._request("GET", f"/v1/batches?after={after}&limit={limit}")
        return list(body["batches"])

    async def service(self) -> Any:
        """The service's receipt key, chain and registry (``GET /v1/service``)."""
        return (await self._request("GET", "/v1/service"))[1]

    async def health(self) -> tuple[int, Any]:
        """The health report and its status (200 or 503)."""
        return await self._request("GET", "/healthz", ok=(200, 503))

    async def ready(self) -> tuple[int, Any]:
        """The readiness report and its status (200 or 503)."""
        return await self._request("GET", "/readyz", ok=(200, 503))

    async def _request(
        self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201, 202)
    ) -> tuple[int, Any]:
        assert self._session is not None, "use LedgerClient in `async with`"
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            async with self._session.request(
                method, self.base_url + path, data=data, headers=headers
            ) as response:
                payload = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ServiceError(f"{method} {path}: {exc or type(exc).__name__}") from exc
        if status not in ok:
            error = payload.get("error", {}) if isinstance(payload, dict) else {}
            raise ServiceError(
                f"{method} {path}: {status} {error.get('message', payload)}",
                status=status,
                field=error.get("field"),
            )
        return status, payload
