"""A folder's files, listed and hashed for packaging: a streaming walk, parallel hashing,
and a cache that makes an interrupted run resumable.

The walk (``list_folder``) reads one directory at a time with ``os.scandir`` and keeps
one string and two integers per file, nothing more: a million files are a list of
their relative paths and two arrays. It lists them in sorted order of the relative
POSIX path (a folder's entries sort by ``name + "/"``, which visits them in exactly
that order) and applies the packaging rules (docs/manifest.md, "Packaging a folder").
``ledger audit`` examines the entries of the same walk (``walk_folder``).

Hashing (``hash_listing``) runs in a thread pool: hashlib releases the GIL while it
hashes a large buffer, and reads release it too, so threads use every core. Files are
read in 1 MiB blocks into one reusable buffer per thread and handed out in small runs
of consecutive files, so that a folder of tiny files does not pay a task per file.

``HashCache`` remembers each SHA-256 by (relative path, size, mtime_ns) in a file that
grows as hashing goes, so a rerun after an interruption hashes only what is left, and
a changed file (new size or mtime) is hashed again. Deleting the cache is always safe.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

from ledger.errors import ValidationError
from ledger.media.hashed_copy import BLOCK_SIZE, blocks

CACHE_NAME = ".ledger-hash-cache"
"""The cache file's name in the output folder (hidden, so never packaged)."""

# A task hashes consecutive files until it holds this many, or this many bytes.
_RUN_FILES = 256
_RUN_BYTES = 8 * BLOCK_SIZE
_CACHE_LINE = 32 + 1 + 64 + 1


@dataclass
class FolderListing:
    """The regular files of a folder to package, in order: relative POSIX paths,
    sizes and modification times (ns), one entry per file."""

    root: Path
    relatives: list[str] = field(default_factory=list)
    sizes: array[int] = field(default_factory=lambda: array("q"))
    mtimes: array[int] = field(default_factory=lambda: array("q"))

    def __len__(self) -> int:
        return len(self.relatives)

    @property
    def total_bytes(self) -> int:
        """The size of all files together."""
        return sum(self.sizes)


@dataclass
class HashProgress:
    """Where hashing stands; ``cached`` files were found in the cache, not read."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    cached: int
    started: float

    @property
    def elapsed(self) -> float:
        """Seconds since hashing started (monotonic clock)."""
        return time.monotonic() - self.started


ProgressFn = Callable[[HashProgress], None]


@dataclass(frozen=True)
class _Hashed:
    key: bytes
    digest: bytes
    fresh: bool  # read now, not found in the cache
    remember: bool = False  # fresh, and unchanged while read: goes to the cache


def list_folder(root: Path, exclude: Iterable[str | os.PathLike[str]] = ()) -> FolderListing:
    """Every regular file under ``root`` to package, sorted by relative path.

    Hidden files and folders (name starting with ".") and the ``exclude`` paths are
    skipped. Raises ValidationError naming the symbolic links and special files found
    (the first three, and how many more): none is followed or read.
    """
    excluded = exclusion(root, exclude)
    listing = FolderListing(root)
    refused: list[str] = []
    for entry in walk_folder(root):
        if entry.kind == SYMLINK:
            refused.append(f"{entry.relative} is a symbolic link ({entry.detail})")
        elif entry.kind == SPECIAL:
            refused.append(f"{entry.relative} is not a regular file")
        elif entry.info is not None and not excluded(entry):
            listing.relatives.append(entry.relative)
            listing.sizes.append(entry.info.st_size)
            listing.mtimes.append(entry.info.st_mtime_ns)
    if refused:
        refused.sort()
        more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
        raise ValidationError(
            f"{'; '.join(refused[:3])}{more}: links are not followed and only regular files "
            "are read, so that a manifest describes exactly the files in the folder; "
            "replace them with the files or remove them"
        )
    return listing


class Entry(NamedTuple):
    """An entry of `walk_folder`: its relative POSIX path, its kind (`FILE`, `SYMLINK`,
    `SPECIAL`, `UNREADABLE`), a link's target (``to …``) or why a folder could not be
    read, and a file's own status (not its link's)."""

    relative: str
    kind: str
    detail: str | None
    info: os.stat_result | None


FILE, SYMLINK, SPECIAL, UNREADABLE = "file", "symlink", "special", "unreadable"


def walk_folder(root: Path, *, report_unreadable: bool = False) -> Iterator[Entry]:
    """Every entry under ``root`` but hidden ones (name starting with "."), one folder
    read at a time, in sorted order of the relative path; no link is followed. A folder
    that cannot be read raises OSError, or with ``report_unreadable`` is one
    `UNREADABLE` entry (``"."`` for ``root``), where the folder stands."""
    return _scan(str(root), "", report_unreadable)


def exclusion(root: Path, exclude: Iterable[str | os.PathLike[str]]
              ) -> Callable[[Entry], bool]:
    """Whether an entry of `walk_folder` is one of the ``exclude`` paths, compared as
    real paths (so ``./out`` and a link to ``out`` name ``out``)."""
    skipped = {os.path.realpath(item) for item in exclude}
    names = {os.path.basename(item) for item in skipped}

    def excluded(entry: Entry) -> bool:
        # A file's real path ends in its own name (the walk follows no link), so the
        # name rules most out without the system call per component a real path costs.
        if not skipped or (entry.kind == FILE and os.path.basename(entry.relative) not in names):
            return False
        return os.path.realpath(os.path.join(root, entry.relative)) in skipped

    return excluded


def _scan(folder: str, prefix: str, report_unreadable: bool) -> Iterator[Entry]:
    try:
        with os.scandir(folder) as found:
            entries = sorted(found, key=_sort_key)
    except OSError as exc:
        if not report_unreadable:
            raise
        yield Entry(prefix.rstrip("/") or ".", UNREADABLE, exc.strerror, None)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        relative = prefix + entry.name
        if entry.is_symlink():
            yield Entry(relative, SYMLINK, f"to {os.readlink(entry.path)}", None)
        elif entry.is_dir(follow_symlinks=False):
            yield from _scan(entry.path, relative + "/", report_unreadable)
        else:
            info = entry.stat(follow_symlinks=False)
            yield Entry(relative, FILE if stat.S_ISREG(info.st_mode) else SPECIAL, None, info)


def _sort_key(entry: os.DirEntry[str]) -> str:
    # "a/x" sorts after "a.jpg" as a path although "a" sorts before "a.jpg" as a name.
    return entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name


class HashCache:
    """SHA-256 digests by (relative path, size, mtime_ns), kept in ``path``.

    Each line is a 16-byte key and a digest in hex; a line cut short by an interruption
    is ignored. ``None`` as the path keeps nothing.
    """

    def __init__(self, path: Path | None) -> None:
        self._digests: dict[bytes, bytes] = {}
        self._file: IO[str] | None = None
        if path is None:
            return
        if path.exists():
            self._load(path)
        self._file = open(path, "a", encoding="ascii")  # noqa: SIM115 (closed by close())

    def _load(self, path: Path) -> None:
        line = "\n"
        with open(path, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if len(line) == _CACHE_LINE and line[32] == " ":
                    try:
                        self._digests[bytes.fromhex(line[:32])] = bytes.fromhex(line[33:97])
                    except ValueError:
                        continue
        if not line.endswith("\n"):  # cut short: the next line must start on its own
            with open(path, "a", encoding="ascii") as handle:
                handle.write("\n")

    def __len__(self) -> int:
        return len(self._digests)

    def __enter__(self) -> HashCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: bytes) -> bytes | None:
        """The digest stored under ``key``, if any."""
        return self._digests.get(key)

    def add(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Store (key, digest) pairs and write them to the file at once."""
        lines = []
        for key, digest in items:
            self._digests[key] = digest
            lines.append(f"{key.hex()} {digest.hex()}\n")
        if self._file is not None and lines:
            self._file.write("".join(lines))
            self._file.flush()

    def close(self) -> None:
        """Close the file (what was added is already written)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def cache_key(relative: str, size: int, mtime_ns: int) -> bytes:
    """The cache key of one file's state: changes when its path, size or mtime does."""
    text = f"{size} {mtime_ns} {relative}".encode("utf-8", "surrogateescape")
    return hashlib.blake2b(text, digest_size=16).digest()


def unchanged(handle: IO[bytes] | io.FileIO, size: int, mtime_ns: int) -> bool:
    """Whether the open file still has the size and mtime it was listed (or opened) with:
    one written to while it was listed or read is hashed, but its digest is remembered
    under no key, for that key may name bytes it never had."""
    after = os.fstat(handle.fileno())
    return (after.st_size, after.st_mtime_ns) == (size, mtime_ns)


def hash_listing(
    listing: FolderListing,
    cache: HashCache | None = None,
    *,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> Iterator[bytes]:
    """The 32-byte SHA-256 of each listed file, in order, hashed ``workers`` at a time
    (default: the CPU count); files whose key is in ``cache`` are not read."""
    cache = HashCache(None) if cache is None else cache
    count = workers or os.cpu_count() or 1
    state = HashProgress(0, len(listing), 0, listing.total_bytes, 0, time.monotonic())
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="hash") as pool:
        pending: deque[Future[list[_Hashed]]] = deque()
        try:
            for run in _runs(listing):
                pending.append(pool.submit(_hash_run, listing, run, cache))
                if len(pending) >= 2 * count:
                    yield from _finish(pending.popleft(), cache, listing, state, progress)
            while pending:
                yield from _finish(pending.popleft(), cache, listing, state, progress)
        finally:
            for future in pending:
                future.cancel()


def _runs(listing: FolderListing) -> Iterator[range]:
    start = size = 0
    for index, file_size in enumerate(listing.sizes):
        size += file_size
        if index + 1 - start >= _RUN_FILES or size >= _RUN_BYTES:
            yield range(start, index + 1)
            start, size = index + 1, 0
    if start < len(listing):
        yield range(start, len(listing))


def _hash_run(listing: FolderListing, run: range, cache: HashCache) -> list[_Hashed]:
    out = []
    for index in run:
        relative = listing.relatives[index]
        key = cache_key(relative, listing.sizes[index], listing.mtimes[index])
        known = cache.get(key)
        if known is not None:
            out.append(_Hashed(key, known, fresh=False))
            continue
        with open(os.path.join(listing.root, relative), "rb", buffering=0) as handle:
            digest = _sha256(handle)
            same = unchanged(handle, listing.sizes[index], listing.mtimes[index])
        out.append(_Hashed(key, digest, fresh=True, remember=same))
    return out


def _finish(
    future: Future[list[_Hashed]],
    cache: HashCache,
    listing: FolderListing,
    state: HashProgress,
    progress: ProgressFn | None,
) -> Iterator[bytes]:
    results = future.result()
    fresh = [item for item in results if item.fresh]
    cache.add((item.key, item.digest) for item in fresh if item.remember)
    first = state.files_done
    state.files_done += len(results)
    state.cached += len(results) - len(fresh)
    state.bytes_done += sum(listing.sizes[first : state.files_done])
    if progress is not None:
        progress(state)
    for item in results:
        yield item.digest


def sha256_file(path: str) -> bytes:
    """The SHA-256 of one file, read in `blocks`."""
    with open(path, "rb", buffering=0) as handle:
        return _sha256(handle)


def _sha256(handle: io.FileIO) -> bytes:
    return sha256_rest(handle, b"")[0]


def sha256_rest(handle: IO[bytes], start: bytes, keep: int = 0) -> tuple[bytes, bytes]:
    """The SHA-256 of ``start`` followed by the rest of the file open in ``handle``, read
    in `blocks`, and the file's last ``keep`` bytes (of ``start`` too, when the rest is
    shorter)."""
    hasher = hashlib.sha256(start)
    tail = start[-keep:] if keep else b""
    for block in blocks(handle):
        hasher.update(block)
        if keep:
            tail = (tail + block[-keep:])[-keep:]
    return hasher.digest(), tail
