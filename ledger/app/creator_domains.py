"""Fetching a domain id's ``/.well-known/ledger-creator.json`` at registration."""

from __future__ import annotations

from typing import Any

import aiohttp

from ledger.core.canonical import parse_strict
from ledger.core.creators import WELL_KNOWN_PATH
from ledger.errors import LedgerError, ValidationError

#: A creator document lists one id and a few keys; anything larger is not one.
MAX_DOCUMENT_BYTES = 64 * 1024
TIMEOUT_S = 5.0


def document_url(domain: str, base_url: str | None) -> str:
    """``https://<domain>/.well-known/ledger-creator.json``, or the test-only base URL's."""
    return (base_url.rstrip("/") if base_url else f"https://{domain}") + WELL_KNOWN_PATH


async def fetch_document(domain: str, *, base_url: str | None = None) -> tuple[str, Any]:
    """GET the domain's creator document; return (its URL, the parsed JSON).

    Redirects are not followed: the document must be served by the domain itself.
    With `base_url` (tests) the request still names `domain` in its Host header.
    ValidationError (the registration's fault, 422) when it cannot be had.
    """
    url = document_url(domain, base_url)
    headers = {"Host": domain} if base_url else {}
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)
        ) as http, http.get(url, headers=headers, allow_redirects=False) as response:
            if response.status != 200:
                raise ValidationError(
                    f"{url} answered HTTP {response.status}, not the creator document",
                    field="creatorId",
                )
            body = await response.content.read(MAX_DOCUMENT_BYTES + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ValidationError(
            f"could not fetch {url} to verify the domain: {exc or type(exc).__name__}",
            field="creatorId",
        ) from exc
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValidationError(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes", field="creatorId")
    try:
        return url, parse_strict(body)
    except LedgerError as exc:
        raise ValidationError(f"{url} is not JSON: {exc.message}", field="creatorId") from exc
