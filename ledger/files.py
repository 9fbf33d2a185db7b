"""Replacing a file whole: written beside it under a fresh name, then renamed over it.

A reader (or a crash) sees the old file or the new one, never half of one. The
temporary name is new on every write and created exclusively without following links,
so two writers into one folder never share it and a stale file or link left at a
predictable name is neither written through nor installed. Like `errors`, this module
imports nothing of a layer, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


@contextlib.contextmanager
def replacing(target: Path, *, durable: bool = False, buffering: int = -1
              ) -> Iterator[BinaryIO]:
    """A binary handle on a new temporary file beside ``target`` that replaces
    ``target`` when the block ends without an exception (and is removed when it does
    not). ``durable`` fsyncs the file before the rename and the folder after it, so the
    new file survives a power cut. The file gets the mode ``open`` would give it."""
    temporary, descriptor = _create(target)
    try:
        with os.fdopen(descriptor, "wb", buffering=buffering) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    if durable:
        _sync_folder(target.parent)


def replace_file(target: Path, data: bytes, *, durable: bool = False) -> None:
    """Replace ``target`` with ``data`` as `replacing` does."""
    with replacing(target, durable=durable) as handle:
        handle.write(data)


def _create(target: Path) -> tuple[Path, int]:
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        with contextlib.suppress(FileExistsError):
            return temporary, os.open(temporary, _FLAGS, 0o666)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
