"""1.1 libraries for the service tests: a signed header, its entries and its chunk bodies."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import aiohttp
from sqlalchemy import func, select

from ledger.core.asset_tree import AssetTree, chunk_count, chunk_proof, chunk_span
from ledger.core.canonical import canonicalize
from ledger.core.hashing import to_hex
from ledger.core.manifest import ManifestHeader
from ledger.core.signing import SigningKey, sign_manifest
from ledger.run.compose import Service
from ledger.storage.models import AssetChunkRow, AssetRow, ManifestRow


def entry(tag: str, index: int, content: str | None = None) -> dict[str, Any]:
    """Asset `index` of library `tag`; its file's SHA-256 is `content` (hex) when given."""
    return {
        "id": f"asset:{tag}-{index}",
        "type": "image/jpeg",
        "hash": "sha256:" + (content or hashlib.sha256(tag.encode()).hexdigest()[:32]
                             + f"{index:032x}"),
        "licenses": ["non-exclusive-training"],
    }


@dataclass
class Library:
    """A signed 1.1 header and its entries, sent in chunks of `chunk_size`."""

    header: dict[str, Any]
    entries: list[bytes]
    chunk_size: int
    tree: AssetTree

    @property
    def digest(self) -> str:
        """The header's digest, 0x-hex."""
        return ManifestHeader.from_obj(self.header).digest_hex()

    @property
    def chunks(self) -> int:
        """How many chunks carry the entries."""
        return chunk_count(len(self.entries), self.chunk_size)

    @cached_property
    def _roots(self) -> bytes:
        return self.tree.chunk_roots(self.chunk_size)

    def proof(self, index: int) -> list[str]:
        """Chunk `index`'s proof up to assetsRoot, as the PUT body carries it."""
        return [to_hex(node) for node in chunk_proof(self._roots, index)]

    def chunk_body(self, index: int, *, proof_of: int | None = None) -> bytes:
        """The PUT body of chunk `index` (with the proof of chunk `proof_of`, to test)."""
        span = chunk_span(len(self.entries), self.chunk_size, index)
        proof = self.proof(index if proof_of is None else proof_of)
        return (b'{"assets":[' + b",".join(self.entries[i] for i in span)
                + b'],"proof":' + canonicalize(proof) + b"}")

    def start_body(self, chunk_size: int | None = None) -> dict[str, Any]:
        """The body of POST /v1/uploads."""
        return {"manifest": self.header, "chunkSize": chunk_size or self.chunk_size}


def library(creator_id: str, key: SigningKey, count: int, *, tag: str, chunk_size: int = 4,
            content: Callable[[int], str | None] = lambda _: None,
            objs: list[dict[str, Any]] | None = None) -> Library:
    """A library of `count` assets (or exactly `objs`) signed by `key` for `creator_id`."""
    objs = objs or [entry(tag, i, content(i)) for i in range(count)]
    entries = [canonicalize(obj) for obj in objs]
    tree = AssetTree.from_entries(entries)
    header = sign_manifest({
        "manifestVersion": "1.1",
        "creator": {"id": creator_id, "wallet": "0x" + "11" * 20},
        "assetCount": len(entries),
        "assetsRoot": to_hex(tree.root),
    }, key)
    return Library(header, entries, chunk_size, tree)


@dataclass
class Http:
    """Raw calls to one service, and counts of what it stored."""

    url: str
    session: aiohttp.ClientSession
    service: Service

    async def call(self, method: str, path: str, body: Any = None,
                   raw: bytes | None = None) -> tuple[int, Any]:
        """`method` on `path` with `body` (sent canonical) or `raw`: status and JSON."""
        data = canonicalize(body) if body is not None else raw
        async with self.session.request(method, self.url + path, data=data) as response:
            text = await response.read()
            assert response.content_type == "application/json", (path, text[:200])
            return response.status, json.loads(text)

    async def put(self, lib: Library, index: int, raw: bytes | None = None) -> tuple[int, Any]:
        """PUT chunk `index` of `lib` (or `raw` in its place)."""
        body = lib.chunk_body(index) if raw is None else raw
        return await self.call("PUT", f"/v1/uploads/{lib.digest}/chunks/{index}", raw=body)

    async def count(self, table: Any, digest: str) -> int:
        """Rows of `table` for this digest (assets, chunks or manifests)."""
        column = {AssetRow: AssetRow.manifest_digest, AssetChunkRow: AssetChunkRow.digest,
                  ManifestRow: ManifestRow.digest}[table]
        stmt = select(func.count()).select_from(table).where(
            column == bytes.fromhex(digest[2:]))
        async with self.service.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())
