"""Copying bytes through this process while hashing them, so that a copy's SHA-256
comes from the bytes written and the copy need not be read again to be registered.

Reading, hashing and writing 1 MiB blocks costs less than a kernel copy
(``copy_file_range``) followed by a second read to hash the copy (bench:metadata in
docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from hashlib import _Hash

BLOCK_SIZE = 1024 * 1024
_buffers = threading.local()


def blocks(reader: BinaryIO | IO[bytes]) -> Iterator[memoryview]:
    """What is left of ``reader``, in blocks of up to 1 MiB read into this thread's
    buffer (a fresh buffer per file costs as much again in page faults): each block is
    overwritten by the next, so a caller keeps a copy of what it keeps."""
    view: memoryview | None = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(bytearray(BLOCK_SIZE))
    while count := reader.readinto(view):  # type: ignore[union-attr]
        yield view[:count]


def copy_hashing(reader: BinaryIO, writer: BinaryIO, hasher: _Hash) -> None:
    """Copy what is left of ``reader`` to ``writer``, feeding each block to ``hasher``
    (hashlib leaves the interpreter's lock for large blocks, so threads overlap)."""
    for block in blocks(reader):
        hasher.update(block)
        writer.write(block)


def copy_file_hashing(source: Path, target: Path) -> bytes:
    """Copy ``source`` to ``target`` (bytes only, as `shutil.copyfile`); the copy's
    SHA-256, computed from the bytes written."""
    hasher = hashlib.sha256()
    with source.open("rb", buffering=0) as reader, target.open("wb", buffering=0) as writer:
        copy_hashing(reader, writer, hasher)
    return hasher.digest()
