"""``ledger submit`` of a 1.1 manifest: the signed header, then its assets in chunks.

The entries are read from ``assets.jsonl`` once, to hash them and check that they are
the ones the header signed (their tree's root is ``assetsRoot``); only their hashes and
where each chunk starts in the file are kept, so a million assets cost 32 MB here.
The header goes to ``POST /v1/uploads``, whose answer lists the chunks the service
still lacks; those are sent a few at a time, each with its proof up to the signed root,
read back from the file as they go. A rerun after an interruption posts the header
again and sends only what is still missing; the service stores each chunk once.
"""

from __future__ import annotations

import asyncio
import json
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.core.asset_tree import (
    AssetTree,
    check_chunk_size,
    check_entry_line,
    chunk_count,
    chunk_proof,
    chunk_span,
    entry_hash,
)
from ledger.core.hashing import to_hex
from ledger.core.manifest import ManifestHeader
from ledger.errors import LedgerError, ValidationError

if TYPE_CHECKING:  # checking a library offline needs no HTTP client
    from ledger.cli.client import LedgerClient

IN_FLIGHT = 3
"""Chunks sent at once: enough to keep the service's checking workers busy."""

Progress = Callable[[int, int, int], None]
"""Called as ``progress(chunks_done, chunks_total, assets_done)``."""


@dataclass(frozen=True)
class Library:
    """A signed 1.1 header and its entries' file, checked against each other."""

    header: ManifestHeader
    header_obj: dict[str, Any]
    assets_file: Path
    chunk_size: int
    chunk_roots: bytes
    offsets: array[int]  # where each chunk's first line starts, then the file's end

    @property
    def digest(self) -> str:
        """The manifest digest, ``0x`` and hex."""
        return self.header.digest_hex()

    @property
    def chunks(self) -> int:
        """How many chunks carry the entries."""
        return chunk_count(self.header.asset_count, self.chunk_size)

    def chunk(self, index: int) -> tuple[list[bytes], list[bytes]]:
        """Chunk ``index``'s entries (canonical bytes, read from the file) and its proof."""
        start, end = self.offsets[index], self.offsets[index + 1]
        with open(self.assets_file, "rb") as handle:
            handle.seek(start)
            lines = handle.read(end - start).split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        return lines, chunk_proof(self.chunk_roots, index)


def read_library(header_obj: dict[str, Any], assets_file: Path, chunk_size: int) -> Library:
    """Check ``assets_file`` against the signed header; ValidationError naming the file
    when it holds another number of entries or other entries than the header signed."""
    header = ManifestHeader.from_obj(header_obj)
    check_chunk_size(chunk_size, "--chunk-size")
    hashes = bytearray()
    offsets: array[int] = array("q")
    position = 0
    with open(assets_file, "rb") as handle:
        for number, line in enumerate(handle):
            if number % chunk_size == 0:
                offsets.append(position)
            position += len(line)
            hashes += entry_hash(line.rstrip(b"\n"))
    offsets.append(position)
    tree = _check_root(header, assets_file, bytes(hashes))
    return Library(header, header_obj, assets_file, chunk_size, tree.chunk_roots(chunk_size),
                   offsets)


def _check_root(header: ManifestHeader, assets_file: Path, hashes: bytes) -> AssetTree:
    count = len(hashes) // 32
    if count != header.asset_count:
        raise ValidationError(f"has {count} entries but the manifest signed assetCount "
                              f"{header.asset_count}", field=str(assets_file))
    tree = AssetTree.from_hashes(hashes)
    if tree.root != header.assets_root:
        raise ValidationError(
            f"is not what the manifest signed: its entries' root is {to_hex(tree.root)}, the "
            f"signed assetsRoot {to_hex(header.assets_root)} (package the folder again, or "
            "give the right file with --assets)", field=str(assets_file))
    return tree


def check_entries(header: ManifestHeader, assets_file: Path) -> None:
    """Check every line of ``assets_file`` as an entry (canonical, valid, ids unique) and
    that together they are what ``header`` signed; ValidationError naming the line."""
    hashes = bytearray()
    first_line: dict[str, int] = {}
    with open(assets_file, "rb") as handle:
        for number, line in enumerate(handle, 1):
            where = f"{assets_file} line {number}"
            entry = check_entry_line(line.rstrip(b"\n"), where)
            asset_id = json.loads(entry)["id"]
            if asset_id in first_line:
                raise ValidationError(f"id {asset_id} is also on line {first_line[asset_id]}",
                                      field=where)
            first_line[asset_id] = number
            hashes += entry_hash(entry)
    _check_root(header, assets_file, bytes(hashes))


async def upload_library(
    client: LedgerClient, library: Library, *, in_flight: int = IN_FLIGHT,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Start (or resume) the upload and send every missing chunk; the final upload view,
    whose ``receipt`` is the service's signed promise to anchor the manifest."""
    _, view = await client.start_upload(library.header_obj, library.chunk_size)
    if view["chunkSize"] != library.chunk_size:
        raise LedgerError(f"the service holds this upload in chunks of {view['chunkSize']}: "
                          f"send it again with --chunk-size {view['chunkSize']}")
    done = view["chunksReceived"]
    while view["status"] != "complete":
        missing: list[int] = view["missingChunks"]
        if not missing:
            raise LedgerError(f"upload {library.digest} is incomplete but the service "
                              "lists no missing chunk")
        sent = await _send(client, library, missing, in_flight, done, progress)
        done += sent
        view = await client.upload(library.digest)
    return dict(view)


async def _send(
    client: LedgerClient, library: Library, missing: Sequence[int], in_flight: int,
    done: int, progress: Progress | None,
) -> int:
    queue = list(reversed(missing))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        while queue:
            index = queue.pop()
            entries, proof = await asyncio.to_thread(library.chunk, index)
            await _put(client, library, index, entries, proof)
            sent += 1
            if progress is not None:
                assets = min((done + sent) * library.chunk_size, library.header.asset_count)
                progress(done + sent, library.chunks, assets)

    await asyncio.gather(*(worker() for _ in range(min(in_flight, len(queue)))))
    return sent


async def _put(client: LedgerClient, library: Library, index: int,
               entries: list[bytes], proof: list[bytes]) -> None:
    try:
        await client.put_chunk(library.digest, index, entries, proof)
    except LedgerError as exc:
        # Name the line of assets.jsonl rather than the entry's place in its chunk.
        field = exc.field or ""
        if field.startswith("assets["):
            position, _, rest = field[len("assets["):].partition("]")
            if position.isdigit():
                first = chunk_span(library.header.asset_count, library.chunk_size, index)[0]
                line = first + int(position) + 1
                exc.field = f"{library.assets_file} line {line}" + (f" {rest[1:]}" if rest else "")
        raise


def upload_progress(stream: Any) -> Progress:
    """A progress line on ``stream`` (a terminal): chunks, assets, assets per second."""
    started = time.monotonic()
    last = 0.0

    def show(done: int, total: int, assets: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < 0.1 and done < total:
            return
        last = now
        rate = assets / max(now - started, 1e-6)
        stream.write(f"\ruploading {done:,}/{total:,} chunks, {assets:,} assets, "
                     f"{rate:,.0f} assets/s" + ("\n" if done >= total else ""))
        stream.flush()

    return show
