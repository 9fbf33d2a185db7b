"""Build a manifest for a folder of files: walk, hash, describe.

The walk is deterministic: files are listed by their relative POSIX path in
sorted order, so the same folder always gives the same manifest. Hidden files
and folders (name starting with ".") are skipped, as is any path passed in
``exclude`` (the manifest being written, typically). Symbolic links and special
files (pipes, sockets, devices) are refused, named: a link is not followed, so a
manifest describes exactly the regular files inside the folder and reads nothing
else. Content is read as bytes and hashed in 1 MiB chunks, so size does not matter.

Asset ids are lower-case slugs of the relative path (the manifest's id rule), so
``Photo.JPG`` and ``photo.jpg`` would share one: such a collision is refused rather
than resolved by order, which would let one file's id move to another when a file
is added (docs/manifest.md, "Packaging a folder").
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import stat
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ledger.core.assets import PAYEE_ROLES
from ledger.core.manifest import MANIFEST_VERSION, MAX_ASSETS, Manifest
from ledger.errors import ValidationError

CHUNK_SIZE = 1024 * 1024
MAX_ID_LENGTH = 128

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while hashing."""

# A MimeTypes of its own uses only Python's built-in table, not the machine's
# /etc/mime.types, so a folder gets the same media types everywhere.
_MIME = mimetypes.MimeTypes()
_COMPRESSED = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}
_NOT_SLUG = re.compile(r"[^a-z0-9._-]+")
_EDGES = re.compile(r"^[^a-z0-9]+|[^a-z0-9]+$")


def package_dir(
    path: str | os.PathLike[str],
    creator_id: str,
    licenses: Sequence[str | dict[str, Any]],
    *,
    signing_key: str | None = None,
    wallet: str | None = None,
    payout: str | None = None,
    creator_name: str | None = None,
    price_model: dict[str, Any] | None = None,
    payees: Sequence[dict[str, Any]] | None = None,
    consent: dict[str, Any] | None = None,
    privacy: dict[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    attribution: str | None = None,
    url_base: str | None = None,
    created_at: str | None = None,
    exclude: Iterable[str | os.PathLike[str]] = (),
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """An unsigned manifest object describing every file under ``path``.

    Each file becomes one asset with its SHA-256, a media type guessed from its
    name, an id derived from its relative path, and the licenses and terms
    given here. ``url_base`` (https:// or r2://) plus the relative path gives
    each asset's url. The result is validated (ValidationError on bad input)
    and ready for ``ledger.core.signing.sign_manifest``.
    """
    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"{root} is not a folder")
    files = list_files(root, exclude)
    if not files:
        raise ValidationError(f"{root} has no files to package")
    if len(files) > MAX_ASSETS:
        raise ValidationError(
            f"{root} has {len(files)} files; a manifest holds at most {MAX_ASSETS}"
        )
    digests = hash_files([file for _, file in files], progress)
    ids = asset_ids([relative for relative, _ in files])
    terms = _asset_terms(licenses, price_model, payees, consent, privacy, tags, attribution)
    assets = []
    for (relative, _), asset_id, digest in zip(files, ids, digests, strict=True):
        asset: dict[str, Any] = {"id": asset_id, "type": media_type(relative), "hash": digest}
        if url_base is not None:
            asset["url"] = url_base.rstrip("/") + "/" + urllib.parse.quote(relative)
        asset.update(_copy(terms))
        assets.append(asset)
    manifest = {
        "manifestVersion": MANIFEST_VERSION,
        "creator": _creator(creator_id, signing_key, wallet, payout, creator_name),
        "assets": assets,
    }
    if created_at is not None:
        manifest["createdAt"] = created_at
    Manifest.from_obj(manifest, allow_unsigned=True)
    return manifest


def list_files(
    root: Path, exclude: Iterable[str | os.PathLike[str]] = ()
) -> list[tuple[str, Path]]:
    """``(relative POSIX path, path)`` of each regular file to package, sorted.

    Raises ValidationError naming the symbolic links and special files found (links
    to folders included): none is followed or read.
    """
    skipped = {os.path.realpath(item) for item in exclude}
    found: list[tuple[str, Path]] = []
    refused: list[str] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in [name for name in subfolders if Path(folder, name).is_symlink()]:
            subfolders.remove(name)
            refused.append(_refusal(root, Path(folder, name), stat.S_IFLNK))
        for name in names:
            file = Path(folder, name)
            if name.startswith(".") or os.path.realpath(file) in skipped:
                continue
            mode = file.lstat().st_mode
            if stat.S_ISREG(mode):
                found.append((file.relative_to(root).as_posix(), file))
            else:
                refused.append(_refusal(root, file, mode))
    if refused:
        refused.sort()
        more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
        raise ValidationError(
            f"{'; '.join(refused[:3])}{more}: links are not followed and only regular files "
            "are read, so that a manifest describes exactly the files in the folder; "
            "replace them with the files or remove them"
        )
    found.sort(key=lambda item: item[0])
    return found


def _refusal(root: Path, path: Path, mode: int) -> str:
    relative = path.relative_to(root).as_posix()
    if stat.S_ISLNK(mode):
        return f"{relative} is a symbolic link (to {os.readlink(path)})"
    return f"{relative} is not a regular file"


def hash_files(files: Sequence[Path], progress: ProgressFn | None = None) -> list[str]:
    """``sha256:<hex>`` of each file, read in ``CHUNK_SIZE`` pieces."""
    total = sum(file.stat().st_size for file in files) if progress else 0
    done = 0
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    digests = []
    for file in files:
        hasher = hashlib.sha256()
        with open(file, "rb") as handle:
            while count := handle.readinto(buffer):
                hasher.update(view[:count])
                if progress:
                    done += count
                    progress(done, total)
        digests.append("sha256:" + hasher.hexdigest())
    return digests


def media_type(name: str) -> str:
    """The media type of a file, guessed from its name; application/octet-stream if unknown."""
    guessed, encoding = _MIME.guess_type(name, strict=False)
    if encoding is not None:
        return _COMPRESSED.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def asset_ids(relative_paths: Sequence[str]) -> list[str]:
    """One ``asset:<slug>`` per path, in order, each made from its own path alone.

    Raises ValidationError naming both paths when two give the same id (they differ
    only in case or punctuation: ``Photo.JPG`` and ``photo.jpg``).
    """
    owners: dict[str, str] = {}
    ids = []
    for relative in relative_paths:
        slug = slugify(relative)
        if slug in owners:
            raise ValidationError(
                f"{owners[slug]} and {relative} would both be asset:{slug} (asset ids are "
                "lower-case slugs of the path): rename one"
            )
        owners[slug] = relative
        ids.append("asset:" + slug)
    return ids


def slugify(relative_path: str) -> str:
    """A lower-case slug of a relative path: ``Photos/IMG 01.JPG`` → ``photos-img-01.jpg``."""
    ascii_text = unicodedata.normalize("NFKD", relative_path).encode("ascii", "ignore").decode()
    slug = _EDGES.sub("", _NOT_SLUG.sub("-", ascii_text.lower()))
    fingerprint = hashlib.sha256(relative_path.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    if not slug:
        return "file-" + fingerprint
    if len(slug) > MAX_ID_LENGTH:
        slug = slug[: MAX_ID_LENGTH - 9].rstrip("._-") + "-" + fingerprint
    return slug


def parse_payee(text: str) -> dict[str, Any]:
    """A payee object from the command-line form ``ADDRESS:BPS:ROLE``."""
    parts = text.split(":")
    if len(parts) != 3 or not parts[1].isdigit():
        raise ValidationError(f"payee {text!r} must be ADDRESS:BPS:ROLE, e.g. 0xAbc…:7000:creator")
    if parts[2] not in PAYEE_ROLES:
        raise ValidationError(f"payee role {parts[2]!r} must be one of {', '.join(PAYEE_ROLES)}")
    return {"account": parts[0], "shareBps": int(parts[1]), "role": parts[2]}


def _creator(
    creator_id: str,
    signing_key: str | None,
    wallet: str | None,
    payout: str | None,
    name: str | None,
) -> dict[str, Any]:
    creator: dict[str, Any] = {"id": creator_id}
    for member, value in (
        ("signingKey", signing_key),
        ("wallet", wallet),
        ("payout", payout),
        ("name", name),
    ):
        if value is not None:
            creator[member] = value
    return creator


def _asset_terms(
    licenses: Sequence[str | dict[str, Any]],
    price_model: dict[str, Any] | None,
    payees: Sequence[dict[str, Any]] | None,
    consent: dict[str, Any] | None,
    privacy: dict[str, Any] | None,
    tags: Sequence[str] | None,
    attribution: str | None,
) -> dict[str, Any]:
    """The members every asset of the package shares."""
    terms: dict[str, Any] = {"licenses": list(licenses)}
    optional = {
        "priceModel": price_model,
        "payees": list(payees) if payees else None,
        "consent": consent,
        "privacy": privacy,
        "attribution": attribution,
        "tags": list(tags) if tags else None,
    }
    terms.update({name: value for name, value in optional.items() if value is not None})
    return terms


def _copy(value: Any) -> Any:
    """A deep copy of plain JSON data, so assets share no mutable objects."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
