"""A running service on the embedded default (its own anvil, SQLite), and helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ledger.app.clock import now_ms
from ledger.cli.client import LedgerClient
from ledger.config import Settings
from ledger.core.creators import sign_action
from ledger.core.signing import P256SigningKey, SigningKey, sign_manifest
from ledger.keyfile import generate_key
from ledger.run.compose import Service
from ledger.run.serve import running
from tests.integration.service.libraries import Http

FAST = Settings(
    port=0,
    batch_max_size=500,
    batch_max_age_s=0.3,
    confirmations=1,
    poll_interval_s=0.05,
    anchor_deadline_s=60.0,
)


@dataclass
class Running:
    """A service under test with a client bound to it."""

    service: Service
    url: str
    client: LedgerClient


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Running]:
    """The embedded service in a fresh data dir."""
    settings = replace(FAST, data_dir=tmp_path / "data")
    async with running(settings) as (service, url), LedgerClient(url) as client:
        yield Running(service, url, client)


#: The creator of the libraries the `http` fixture's service knows.
LIB_CREATOR = "creator:lib"
LIB_KEY = generate_key("p256")


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[Http]:
    """The embedded service (chunk bodies limited to 256 KiB) with `LIB_CREATOR`
    registered, called over raw HTTP."""
    async with _library_service(tmp_path, None) as found:
        yield found


@pytest.fixture(params=["sqlite", "postgresql"])
async def http_any_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Http]:
    """`http` on SQLite, then on a fresh PostgreSQL database."""
    db_url = None
    if request.param == "postgresql":
        db_url = request.getfixturevalue("postgres").new_database()
    async with _library_service(tmp_path, db_url) as found:
        yield found


@asynccontextmanager
async def _library_service(tmp_path: Path, db_url: str | None) -> AsyncIterator[Http]:
    settings = replace(FAST, data_dir=tmp_path / "data", chunk_body_bytes=256 * 1024,
                       db_url=db_url)
    async with running(settings) as (service, url), aiohttp.ClientSession() as session:
        async with LedgerClient(url) as client:
            await register(client, LIB_CREATOR, LIB_KEY)
        yield Http(url, session, service)


@pytest.fixture(params=["sqlite", "postgresql"])
async def svc_any_db(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Running]:
    """The service on SQLite, then on a fresh PostgreSQL database."""
    db_url = None
    if request.param == "postgresql":
        db_url = request.getfixturevalue("postgres").new_database()
    settings = replace(FAST, data_dir=tmp_path / "data", db_url=db_url)
    async with running(settings) as (service, url), LedgerClient(url) as client:
        yield Running(service, url, client)


async def register(
    client: LedgerClient, creator_id: str, key: SigningKey, *, recovery: SigningKey | None = None
) -> None:
    """Register `creator_id` with signing `key` and `recovery` (default: a throwaway key)."""
    recovery = recovery or p256()
    action = sign_action(
        "register", creator_id, [key.public_id], now_ms(), [key, recovery],
        deployment=await client.deployment(), recovery_key=recovery.public_id,
    )
    status, _ = await client.creator_action(action)
    assert status == 201


def manifest(creator_id: str, key: SigningKey, n: int, *, assets: int = 1) -> dict[str, Any]:
    """A signed manifest, distinct for each `n`."""
    obj = {
        "manifestVersion": "1.0",
        "creator": {"id": creator_id, "wallet": "0x" + "11" * 20},
        "assets": [
            {
                "id": f"asset:photo-{n}-{i}",
                "type": "image/jpeg",
                "hash": "sha256:" + f"{n:032x}{i:032x}",
                "licenses": ["non-exclusive-training"],
                "tags": ["test"],
            }
            for i in range(assets)
        ],
    }
    return sign_manifest(obj, key)


def p256() -> P256SigningKey:
    """A fresh P-256 key."""
    key = generate_key("p256")
    assert isinstance(key, P256SigningKey)
    return key


async def wait_for_proof(client: LedgerClient, digest: str, timeout: float = 30.0) -> Any:
    """Poll the proof endpoint until it answers 200; return the bundle."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = await client.proof(digest)
        if status == 200:
            return body
        assert time.monotonic() < deadline, f"no proof for {digest}: {body}"
        await asyncio.sleep(0.1)
