"""docs/service.md's error table shows the service's real answers.

Each row whose answer is written out in full (no "…") is produced here by sending the
request the row describes to a running service, and compared byte for byte as JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.core.creators import sign_action
from tests.integration.service.conftest import Running, now_ms, p256, register

pytestmark = pytest.mark.chain

DOC = Path(__file__).resolve().parents[3] / "docs" / "service.md"
ZERO_DIGEST = "0x" + "00" * 32


def documented() -> dict[tuple[int, str], list[Any]]:
    """Every fully written answer of the error table, by (status, code)."""
    section = DOC.read_text("utf-8").split("## Errors", 1)[1]
    rows: dict[tuple[int, str], list[Any]] = {}
    for status, code, answer in re.findall(
        r"^\| (\d{3}) \| `([a-z_]+)` \| [^|]* \| `(\{.*\})` \|$", section, flags=re.M
    ):
        if "…" not in answer:
            rows.setdefault((int(status), code), []).append(json.loads(answer))
    return rows


async def _send(url: str, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(
        method, url + path, data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    ) as response:
        return response.status, await response.json(content_type=None)


async def test_documented_errors_are_the_real_answers(svc: Running) -> None:
    await register(svc.client, "creator:alice", p256())
    key, recovery = p256(), p256()
    twice = sign_action("register", "creator:alice", [key.public_id], now_ms(), [key, recovery],
                        deployment=await svc.client.deployment(),
                        recovery_key=recovery.public_id)
    requests = {
        (400, "non_canonical_json"): ("POST", "/v1/manifests", b'{"a": 1, "a": 2}', None),
        (401, "unauthenticated"): ("GET", "/v1/buyers/0x" + "00" * 19 + "01", None, None),
        (404, "not_found"): ("GET", f"/v1/manifests/{ZERO_DIGEST}", None, None),
        (405, "method_not_allowed"): ("PUT", "/v1/manifests", None, None),
        (409, "exists"): ("POST", "/v1/creators", json.dumps(twice).encode(), None),
        (413, "body_too_large"): ("POST", "/v1/creators", b" " * 100_000, None),
        (415, "unsupported_encoding"): ("POST", "/v1/manifests", b"xx",
                                        {"Content-Encoding": "gzip"}),
        (422, "invalid"): ("POST", "/v1/manifests", b"{}", None),
    }
    rows = documented()
    for key, (method, path, body, headers) in requests.items():
        status, answer = await _send(svc.url, method, path, body, headers)
        assert status == key[0], (key, answer)
        assert answer in rows[key], (key, answer, rows[key])
    status, answer = await _send(svc.url, "POST", "/v1/usage", b"{}")
    assert (status, answer) == (401, rows[(401, "unauthenticated")][1])
