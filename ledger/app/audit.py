"""The rights audit of a folder, before anything is packaged or listed.

``audit`` walks the folder (never following a link: a link is reported, not read;
hidden files are skipped, as packaging skips them), examines every regular file
(SHA-256, opens it safely, a perceptual hash, its EXIF/IPTC/XMP and C2PA facts,
candidate faces), asks ``lookup`` who else registered the same bytes, and has
`ledger.core.audit` judge it all. Files are examined in a process pool: decoding, face
detection and the metadata reading hold the interpreter's lock, so threads would not
help, even for an audit that decodes nothing (``ledger audit --quick``), whose hashing
would wait for the lock after every block.

``audit_for_package`` is the part ``ledger package`` runs: error-level findings only, no
face detection, no metadata, and with ``lookup`` who else registered each file
(packaging reads and decides the metadata conflicts and those registrations itself,
where the creator can override them).

Nothing leaves the machine except, when ``lookup`` is given, the files' SHA-256 digests.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from ledger.app.file_hashes import cache_key, exclusion, sha256_rest, unchanged, walk_folder
from ledger.app.packager import PackageSpec
from ledger.core.audit import (
    SEVERITIES,
    Declared,
    FileFacts,
    Finding,
    exit_code,
    judge,
    registered_by_others_than,
)
from ledger.core.hashing import sha256
from ledger.core.rights import REGISTERED_BY_OTHER
from ledger.errors import ValidationError
from ledger.media.jpeg_segments import Segment, header_segments
from ledger.media.probe import END_BYTES

Lookup = Callable[[Sequence[str]], Mapping[str, Collection[str]]]
"""SHA-256 digests (hex) -> the creator ids that registered each one's bytes (a digest
nobody registered: absent or empty). One call for the whole folder, so that whoever
answers can ask a service many at a time."""

REPORT_FORMAT = "ledger-audit/1"
FACE_SIDE = 512
"""Pictures are decoded at about this size for the face detector (its working size)."""
_HASH_SIDE = 64
_POOL_FROM = 16  # fewer files than this are examined in this process: a pool costs more
_C2PA_MARK = b"c2pa"  # every embedded C2PA manifest store carries its JUMBF label
_HEAD_BYTES = 1 << 16  # a JPEG's header (its metadata) nearly always fits in this


@dataclass(frozen=True)
class AuditOptions:
    """What to examine: ``faces`` (the detector, the slowest part), ``metadata``
    (EXIF/IPTC/XMP and C2PA), ``phash`` (near-duplicates), ``decode`` (every picture to
    its end, which finds truncated and damaged files; without it only headers are read,
    unless faces or phash need the pixels), ``check_ends`` (without decoding, whether
    each picture's data ends where its format says: finds truncated files, not damage
    inside), ``hashes`` (SHA-256: duplicates and the lookup); ``max_pixels`` the
    decompression-bomb limit; ``workers`` the processes (default: the CPUs)."""

    faces: bool = True
    metadata: bool = True
    phash: bool = True
    decode: bool = True
    check_ends: bool = False
    hashes: bool = True
    max_pixels: int | None = None
    workers: int | None = None


@dataclass(frozen=True)
class AuditReport:
    """The audit of one folder: the facts of every entry and the findings."""

    folder: str
    files: tuple[FileFacts, ...]
    findings: tuple[Finding, ...]
    faces_checked: bool

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings (`ledger.core.audit.exit_code`)."""
        return exit_code(self.findings)

    def counts(self) -> dict[str, int]:
        """How many findings of each severity."""
        return {name: sum(item.severity == name for item in self.findings)
                for name in SEVERITIES}

    def to_obj(self) -> dict[str, Any]:
        """The report as JSON (docs/metadata.md, "Audit")."""
        return {
            "format": REPORT_FORMAT,
            "folder": self.folder,
            "facesChecked": self.faces_checked,
            "counts": {"files": len(self.files), **self.counts()},
            "files": [_file_obj(facts) for facts in self.files],
            "findings": [item.to_obj() for item in self.findings],
        }


def _file_obj(facts: FileFacts) -> dict[str, Any]:
    obj: dict[str, Any] = {"path": facts.path, "kind": facts.kind, "size": facts.size}
    optional = {
        "sha256": facts.sha256.hex() if facts.sha256 is not None else None,
        "format": facts.format, "width": facts.width, "height": facts.height,
        "problem": facts.problem, "faces": facts.faces,
        "phash": f"{facts.phash:016x}" if facts.phash is not None else None,
        "registeredBy": list(facts.registered_by) or None,
    }
    obj.update({name: value for name, value in optional.items() if value is not None})
    return obj


def declared_from_spec(spec: PackageSpec) -> Declared:
    """What a packaging spec declares about every file."""
    return Declared(
        creator_id=spec.creator_id,
        creator_names=(spec.creator_name,) if spec.creator_name else (),
        licences=tuple(spec.licenses),
        privacy=dict(spec.privacy or {}),
        consent=dict(spec.consent or {}),
    )


def audit(
    folder: str | os.PathLike[str], declared: Declared, *,
    options: AuditOptions | None = None, lookup: Lookup | None = None,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> AuditReport:
    """Audit every entry of ``folder`` (ValidationError when it is not a folder)."""
    root = Path(folder)
    if not root.is_dir():
        raise ValidationError(f"{root} is not a folder")
    options = options or AuditOptions()
    faces = options.faces and _faces_available()
    options = dataclasses.replace(options, faces=faces)
    excluded = exclusion(root, exclude)
    # Sorted again: the walk lists an unreadable folder where the folder stands, the
    # report under its own name ("a" before "a.jpg", whose folder walks after it).
    entries = sorted((e.relative, e.kind, e.detail)
                     for e in walk_folder(root, report_unreadable=True) if not excluded(e))
    files = _examine_all(root, entries, options)
    if lookup is not None:
        files = _registered(files, lookup)
    return AuditReport(str(root), tuple(files), tuple(judge(files, declared)), faces)


@dataclass(frozen=True)
class PackageAudit:
    """What ``ledger package`` takes from the audit: the ``errors`` that stop it, the
    files another creator registered already (``registered_by``: relative path -> their
    creator ids), a conflict packaging decides as it decides the metadata conflicts,
    with the creator's override, and the digests it computed (``known``: SHA-256 by
    hash cache key, `ledger.app.file_hashes.cache_key`), which packaging need not
    compute again."""

    errors: tuple[Finding, ...]
    registered_by: Mapping[str, tuple[str, ...]]
    known: Mapping[bytes, bytes]


def audit_for_package(
    folder: str | os.PathLike[str], spec: PackageSpec, *, lookup: Lookup | None = None,
    exclude: Iterable[str | os.PathLike[str]] = (), workers: int | None = None,
    decode: bool = False,
) -> PackageAudit:
    """The audit ``ledger package`` runs: error-level findings only (metadata conflicts
    and registrations by others aside: packaging decides those), and, with ``lookup``,
    who else registered each file's bytes.

    By default only what needs no decoding is checked (links, special, unreadable and
    empty files, image types and dimensions), which keeps packaging near the speed of
    hashing; ``decode`` also decodes every picture to find truncated or damaged ones,
    at several times the cost of hashing it (docs/benchmarks.md, "bench:audit").
    """
    options = AuditOptions(faces=False, metadata=False, phash=False, decode=decode,
                           hashes=lookup is not None, workers=workers)
    report = audit(folder, declared_from_spec(spec), options=options, lookup=lookup,
                   exclude=exclude)
    registered = {facts.path: others for facts in report.files
                  if (others := registered_by_others_than(facts, spec.creator_id))}
    known = {facts.hash_key: facts.sha256 for facts in report.files
             if facts.hash_key is not None and facts.sha256 is not None}
    return PackageAudit(tuple(item for item in report.findings if item.severity == "error"
                              and item.code != REGISTERED_BY_OTHER), registered, known)


def audit_errors(
    folder: str | os.PathLike[str], spec: PackageSpec, *, lookup: Lookup | None = None,
    exclude: Iterable[str | os.PathLike[str]] = (), workers: int | None = None,
    decode: bool = False,
) -> list[Finding]:
    """`audit_for_package`'s errors."""
    return list(audit_for_package(folder, spec, lookup=lookup, exclude=exclude,
                                  workers=workers, decode=decode).errors)


def _examine_all(root: Path, entries: list[tuple[str, str, str | None]],
                 options: AuditOptions) -> list[FileFacts]:
    work = partial(examine, str(root), options=options)
    workers = options.workers or os.cpu_count() or 1
    if workers < 2 or len(entries) < _POOL_FROM or _header_only(options):  # a pool costs more
        return [work(entry) for entry in entries]
    _preload(options)
    # Processes even without decoding: hashing leaves the interpreter's lock, but the
    # header and metadata reading around it does not, and on threads a file's hash
    # waits for the lock after every block (400 JPEGs of 1.4 MiB: 0.62 of hashing's
    # throughput on threads, 0.72 in processes; docs/benchmarks.md, "bench:metadata").
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # Up to 32 files a chunk: few hand-offs between processes (10,000 photographs:
        # 0.83 of hashing against 0.79 with 8), and the last chunk, which one worker
        # finishes while the other idles, lasts a few tens of milliseconds.
        chunk = max(1, min(32, len(entries) // (workers * 16)))
        return list(pool.map(work, entries, chunksize=chunk))


def _preload(options: AuditOptions) -> None:
    """Import the media libraries here once, so forked workers inherit them instead of
    each importing them again (scipy, under imagehash, alone takes a few tenths of a
    second)."""
    names = ["PIL.Image", "ledger.media.probe"]
    names += ["imagehash", "scipy.fftpack"] if options.phash else []
    names += ["ledger.media.xmp"] if options.metadata else []
    for name in names:
        importlib.import_module(name)
    if options.faces:
        from ledger.media.faces import load_detector

        load_detector()


def examine(root: str, entry: tuple[str, str, str | None], *,
            options: AuditOptions) -> FileFacts:
    """The facts of one entry of the folder (run in a worker process or thread)."""
    relative, kind, detail = entry
    if kind != "file":
        return FileFacts(relative, kind=kind, detail=detail)
    path = os.path.join(root, relative)
    try:
        with _open(path) as handle:
            before = os.fstat(handle.fileno())
            size = before.st_size
            if size == 0:
                return FileFacts(relative, problem="empty", detail="the file is empty")
            if _header_only(options):
                with io.BufferedReader(handle) as buffered:
                    return _image_facts(FileFacts(relative, size=size), buffered, path, options)
            data = handle.read(_HEAD_BYTES)
            segments = header_segments(data) if _streamed(options) and len(data) < size else None
            if segments is not None:
                digest, tail = sha256_rest(handle, data, END_BYTES)
                facts = FileFacts(relative, size=size, sha256=digest,
                                  hash_key=_hash_key(relative, before, handle))
                return _image_facts(facts, data, path, options, tail=tail, segments=segments)
            data += handle.read()
            key = _hash_key(relative, before, handle) if options.hashes else None
    except OSError as exc:
        return FileFacts(relative, kind="unreadable", detail=exc.strerror)
    if not data:
        return FileFacts(relative, problem="empty", detail="the file is empty")
    facts = FileFacts(relative, size=len(data), sha256=sha256(data) if options.hashes else None,
                      hash_key=key)
    return _image_facts(facts, data, path, options)


def _hash_key(relative: str, before: os.stat_result, handle: io.FileIO) -> bytes | None:
    """The hash cache key of the file as it was read, or None if it changed meanwhile
    (then its digest is no one's to reuse)."""
    if not unchanged(handle, before.st_size, before.st_mtime_ns):
        return None
    return cache_key(relative, before.st_size, before.st_mtime_ns)


def _streamed(options: AuditOptions) -> bool:
    """Whether a JPEG whose header fits in its first `_HEAD_BYTES` is hashed as it is
    read, and only that header and its last bytes are kept (nothing decodes it; the
    metadata, C2PA store and end marker checks need no more): reading a photograph
    whole into new memory costs about a fifth as much again as hashing it."""
    return options.hashes and not (options.decode or options.phash or options.faces)


def _header_only(options: AuditOptions) -> bool:
    """Whether only a file's header is read (``ledger package``'s checks: a fraction
    of a millisecond a file, where reading a whole photograph takes more)."""
    return not (options.hashes or options.decode or options.phash or options.faces
                or options.metadata or options.check_ends)


def _open(path: str) -> io.FileIO:
    """The file, unbuffered (it is read in large blocks or whole; a header reader wraps
    it in a buffer)."""
    # O_NOFOLLOW: a file swapped for a link after the walk is refused, not followed.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    return io.FileIO(descriptor, "rb")


def _read(path: str) -> bytes:
    with _open(path) as handle:
        return handle.read()


def _image_facts(facts: FileFacts, data: bytes | BinaryIO, path: str,
                 options: AuditOptions, *, tail: bytes | None = None,
                 segments: list[Segment] | None = None) -> FileFacts:
    """``data``: the file's bytes, or the open file when only its header is read, or
    (with ``tail``, its last bytes, and ``segments``, its header) a JPEG's start,
    holding its whole header."""
    from ledger.media.probe import MAX_PIXELS, probe

    # The perceptual hash needs 32 x 32 pixels: without faces a JPEG decodes at 1/8 scale.
    reduce_to = FACE_SIDE if options.faces else _HASH_SIDE
    # A JPEG's header is walked once here for the probe, the metadata and the C2PA check.
    if segments is None and isinstance(data, bytes):
        segments = header_segments(data)
    probed = probe(data, max_pixels=options.max_pixels or MAX_PIXELS, reduce_to=reduce_to,
                   decode=options.decode or options.phash or options.faces,
                   check_end=options.check_ends, tail=tail, segments=segments)
    facts = dataclasses.replace(facts, problem=probed.problem, detail=probed.detail,
                                format=probed.format, width=probed.width,
                                height=probed.height)
    if probed.problem is not None:
        return facts
    if options.phash and probed.image is not None:
        from ledger.media.similarity import phash

        facts = dataclasses.replace(facts, phash=phash(probed.image))
    if options.faces and probed.image is not None:
        from ledger.media.faces import detect_faces

        facts = dataclasses.replace(facts, faces=len(detect_faces(probed.image)))
    if options.metadata and isinstance(data, bytes):
        facts = _metadata(facts, data, path, segments)
    return facts


def _metadata(facts: FileFacts, data: bytes, path: str, segments: list[Segment] | None
              ) -> FileFacts:
    from ledger.media.c2pa_boxes import jpeg_header_holds_c2pa, may_hold_c2pa
    from ledger.media.formats import EMBEDDABLE, sniff
    from ledger.media.xmp import MetadataError, read_rights

    if sniff(data[:12]) not in EMBEDDABLE:
        return facts
    try:
        rights = read_rights(data, segments)
    except MetadataError as exc:
        return dataclasses.replace(facts, metadata_error=str(exc))
    if segments:
        holds = jpeg_header_holds_c2pa(data, segments)
    else:  # the structural walk first: it answers for most files in far less than the scan
        holds = may_hold_c2pa(io.BytesIO(data)) and _C2PA_MARK in data
    if holds:
        from ledger.media.c2pa_read import read_c2pa

        rights = dataclasses.replace(rights, c2pa=read_c2pa(path))
    return dataclasses.replace(facts, rights=rights)


def _registered(files: list[FileFacts], lookup: Lookup) -> list[FileFacts]:
    """``files`` with who registered each one's bytes (each digest asked once)."""
    def asked(facts: FileFacts) -> str | None:
        return None if facts.sha256 is None or facts.problem == "empty" else facts.sha256.hex()

    found = lookup(sorted({digest for facts in files if (digest := asked(facts))}))
    return [dataclasses.replace(facts, registered_by=tuple(found.get(digest, ())))
            if (digest := asked(facts)) else facts for facts in files]


def thumbnails(report: AuditReport, side: int = 96) -> dict[str, bytes]:
    """A PNG thumbnail of every decodable image of the report, by path (for its page)."""
    from ledger.media.probe import MAX_PIXELS, probe, thumbnail_png

    made: dict[str, bytes] = {}
    for facts in report.files:
        if facts.kind != "file" or facts.problem is not None:
            continue
        try:
            data = _read(os.path.join(report.folder, facts.path))
        except OSError:
            continue
        probed = probe(data, max_pixels=MAX_PIXELS, reduce_to=side)
        if probed.image is not None:
            made[facts.path] = thumbnail_png(probed.image, side)
    return made


def _faces_available() -> bool:
    from ledger.media.faces import available

    return available()
