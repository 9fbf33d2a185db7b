"""The metadata step of packaging: read what each file says, stop on conflicts, write copies.

Before a folder is hashed, each JPEG, PNG and WebP file's own metadata is read
(`ledger.media.xmp`): its capture date fills the asset's ``captureDate``, and its rights
statements are checked against the package's licences (`ledger.core.rights.conflicts`).
A conflict stops packaging, naming the file and the conflict, unless the creator
overrides it with a reason, which is then recorded in the asset's signed
``extensions["ledger:metadata"]``.

With an output folder, each file is copied there, images with ledger's XMP written in
(and optionally their location removed, then a C2PA manifest signed in by the
``sign_copy`` step); the copies are what is hashed and registered, so a file and its
record agree. Originals are only read. Other files are copied unchanged, with a notice.
Each copy is hashed from the bytes as they are written, and packaging takes those
digests instead of reading the copies again (``FolderMetadata.known``); a copy a C2PA
manifest is then signed into has changed, and packaging hashes its final bytes.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from ledger.core.rights import (
    METADATA_KEY,
    C2paSummary,
    Claims,
    Conflict,
    EmbeddedRights,
    claims_for,
    conflicts,
    metadata_record,
    registered_by_others,
)
from ledger.errors import ValidationError

CopySigner = Callable[[Path, Claims], None]
"""Signs a C2PA manifest into the copy at the path, in place (H5's ``--c2pa-cert``)."""
C2paReader = Callable[[Path], C2paSummary | None]
"""Reads an existing C2PA manifest of a file, if it has one."""

_SHOWN = 3
T = TypeVar("T")


@dataclass(frozen=True)
class MetadataOptions:
    """How packaging treats the files' metadata.

    ``embed_dir``: write copies there (must not exist or be empty, and be neither inside
    the folder nor contain it). ``service``: the ledger service whose creator record page
    the copies' ``xmpRights:WebStatement`` names. ``override_reason``: package despite
    conflicts, recording them and this reason. ``workers``: files read and written at
    once (default: the number of CPUs). ``registered_by``: the files whose bytes other
    creators registered already (relative path -> their creator ids), a conflict too.
    """

    embed_dir: Path | None = None
    strip_location: bool = False
    override_reason: str | None = None
    service: str | None = None
    sign_copy: CopySigner | None = None
    read_c2pa: C2paReader | None = None
    workers: int | None = None
    registered_by: Mapping[str, Collection[str]] = field(default_factory=dict)


@dataclass
class FolderMetadata:
    """What the metadata step found: the folder to hash (the copies when embedding),
    each file's extra entry members by relative path, and notices for the user.

    ``known``: each copy's SHA-256 by its hash cache key
    (`ledger.app.file_hashes.cache_key`: relative path, size and mtime after writing),
    computed from the bytes written; a copy changed since no longer matches its key.
    """

    folder: Path
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    known: dict[bytes, bytes] = field(default_factory=dict)


def read_folder_metadata(
    root: Path, creator_id: str, creator_name: str | None,
    licences: Iterable[str | Mapping[str, Any]], options: MetadataOptions,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> FolderMetadata:
    """Run the metadata step over the files of ``root`` (ValidationError on conflicts
    not overridden, or on a bad output folder; nothing is written then)."""
    from ledger.app.file_hashes import list_folder
    from ledger.app.packager import asset_ids

    licences = list(licences)
    if options.embed_dir is not None:
        _check_output(root, options.embed_dir)
    relatives = list_folder(root, exclude).relatives
    ids = {relative: asset_id for asset_id, relative in asset_ids(relatives).items()}
    result = FolderMetadata(options.embed_dir or root)
    with ThreadPoolExecutor(options.workers or os.cpu_count() or 1) as pool:
        reads = _each(pool, lambda relative, notices: _read(
            root / relative, options, notices, relative), relatives, result.notices)
        found = {relative: facts for relative, facts in zip(relatives, reads, strict=True)
                 if facts is not None}
        _stop_on_conflicts(found, creator_id, creator_name, licences, options)
        written: list[_Written] = [_Written(None, None)] * len(relatives)
        if options.embed_dir is not None:
            # c2pa's signer is not known to be thread-safe: with one, copies go one by one.
            copier = pool if options.sign_copy is None else None
            try:
                written = _each(copier, lambda relative, notices: _copy(
                    root, relative, found.get(relative), options, notices,
                    _claims(licences, creator_id, creator_name, ids[relative], options)),
                    relatives, result.notices)
            except BaseException:
                _empty(options.embed_dir)
                raise
            result.known = dict(copy.known for copy in written if copy.known is not None)
    for relative, copy in zip(relatives, written, strict=True):
        if relative in found or relative in options.registered_by:
            result.members[relative] = _members(
                relative, found.get(relative, EmbeddedRights()), copy.claims, creator_id,
                creator_name, licences, options)
    return result


@dataclass(frozen=True)
class _Written:
    """One copy: the claims written into it (None if copied as is), and its hash cache
    key and SHA-256 (None when signing rewrote it after it was hashed)."""

    claims: Claims | None
    known: tuple[bytes, bytes] | None


def _each(pool: ThreadPoolExecutor | None, work: Callable[[str, list[str]], T],
          relatives: list[str], notices: list[str]) -> list[T]:
    """``work(relative, its notices)`` for every file, on ``pool`` when given (file I/O
    and c2pa's calls leave the interpreter's lock); results and notices in the files'
    order."""
    per_file: list[list[str]] = [[] for _ in relatives]
    jobs = zip(relatives, per_file, strict=True)
    results = (list(pool.map(lambda job: work(*job), jobs)) if pool is not None
               else [work(*job) for job in jobs])
    notices.extend(notice for found in per_file for notice in found)
    return results


def _check_output(root: Path, out: Path) -> None:
    inside, outer = os.path.realpath(root), os.path.realpath(out)
    if outer == inside or outer.startswith(inside + os.sep) or inside.startswith(outer + os.sep):
        raise ValidationError("must be outside the folder packaged, and not contain it",
                              field="--embed")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValidationError(f"{out} must be a new or empty folder", field="--embed")


def _empty(out: Path) -> None:
    """Remove a failed run's copies: the folder was new or empty (`_check_output`)."""
    for child in out.iterdir() if out.is_dir() else ():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _read(path: Path, options: MetadataOptions, notices: list[str], relative: str
          ) -> EmbeddedRights | None:
    from ledger.media.formats import sniff_file
    from ledger.media.xmp import MetadataError, read_rights_file

    if sniff_file(path) is None:
        if options.embed_dir is not None:
            notices.append(f"{relative}: not JPEG, PNG or WebP: copied unchanged")
        return None
    try:
        found = read_rights_file(path)
    except MetadataError as exc:
        notices.append(f"{relative}: {exc}: packaged unchanged")
        return None
    if options.read_c2pa is not None:
        found = replace(found, c2pa=options.read_c2pa(path))
    return found


def _stop_on_conflicts(
    found: Mapping[str, EmbeddedRights], creator_id: str, creator_name: str | None,
    licences: list[str | Mapping[str, Any]], options: MetadataOptions,
) -> None:
    if options.override_reason is not None:
        return
    named = [f"{relative}: {item.code} ({item.message})"
             for relative in sorted({*found, *options.registered_by})  # the folder's order
             for item in _conflicts(relative, found.get(relative, EmbeddedRights()),
                                    creator_id, creator_name, licences, options)]
    if named:
        more = f"; and {len(named) - _SHOWN} more" if len(named) > _SHOWN else ""
        raise ValidationError(
            f"{'; '.join(named[:_SHOWN])}{more}: the files' own metadata (or another "
            "creator's registration) contradicts this package; fix the files, or give "
            "--override-conflicts REASON (recorded with each asset)")


def _conflicts(relative: str, facts: EmbeddedRights, creator_id: str,
               creator_name: str | None, licences: list[str | Mapping[str, Any]],
               options: MetadataOptions) -> list[Conflict]:
    names = [creator_name] if creator_name else []
    others = options.registered_by.get(relative)
    return [*([registered_by_others(others)] if others else []),
            *conflicts(facts, creator_id=creator_id, creator_names=names, licences=licences)]


def _claims(licences: list[str | Mapping[str, Any]], creator_id: str,
            creator_name: str | None, asset_id: str, options: MetadataOptions) -> Claims:
    return claims_for(licences, creator_id=creator_id, asset_id=asset_id,
                      holder=creator_name or creator_id,
                      web_statement=record_page(options.service, creator_id))


def record_page(service: str | None, creator_id: str) -> str | None:
    """The public page of a creator's records on ``service``: what a copy's
    ``xmpRights:WebStatement`` names (a copy cannot name its own hash, which covers it)."""
    if service is None:
        return None
    return f"{service.rstrip('/')}/v1/creators/{urllib.parse.quote(creator_id, safe=':')}/records"


def _copy(root: Path, relative: str, facts: EmbeddedRights | None, options: MetadataOptions,
          notices: list[str], claims: Claims) -> _Written:
    """Write the copy of one file, and hash it from the bytes written."""
    from ledger.media.hashed_copy import copy_file_hashing
    from ledger.media.xmp import MetadataError, embed_file

    assert options.embed_dir is not None
    source, target = root / relative, options.embed_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    written: Claims | None = None
    if facts is None:
        digest = copy_file_hashing(source, target)
    else:
        try:
            digest = embed_file(source, target, claims, strip_location=options.strip_location)
            written = claims
        except MetadataError as exc:
            notices.append(f"{relative}: {exc}: copied unchanged")
            digest = copy_file_hashing(source, target)
    if written is not None and options.sign_copy is not None:
        # Signing rewrites the copy; packaging hashes it then, on every CPU (signing
        # goes one file at a time).
        options.sign_copy(target, claims)
        return _Written(written, None)
    return _Written(written, (_cache_key(relative, target), digest))


def _cache_key(relative: str, target: Path) -> bytes:
    from ledger.app.file_hashes import cache_key

    info = target.stat()
    return cache_key(relative, info.st_size, info.st_mtime_ns)


def _members(relative: str, facts: EmbeddedRights, claims: Claims | None, creator_id: str,
             creator_name: str | None, licences: list[str | Mapping[str, Any]],
             options: MetadataOptions) -> dict[str, Any]:
    """The entry members the file's metadata gives: ``captureDate`` and the record."""
    members: dict[str, Any] = {}
    if facts.capture_date is not None:
        members["captureDate"] = facts.capture_date
    overridden = _conflicts(relative, facts, creator_id, creator_name, licences, options)
    record = metadata_record(facts, overridden=overridden, reason=options.override_reason,
                             claims=claims, registered_by=options.registered_by.get(relative, ()),
                             location_stripped=bool(claims and options.strip_location
                                                    and facts.gps))
    if record is not None:
        members["extensions"] = {METADATA_KEY: record}
    return members
