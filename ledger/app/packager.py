"""Build a manifest for a folder of files: walk, hash, describe.

The walk is deterministic: files are listed by their relative POSIX path in
sorted order, so the same folder always gives the same manifest. Hidden files
and folders (name starting with ".") are skipped, as is any path passed in
``exclude`` (the manifest being written, typically). Symbolic links and special
files (pipes, sockets, devices) are refused, named: a link is not followed, so a
manifest describes exactly the regular files inside the folder and reads nothing
else. Content is read as bytes, in parallel and in 1 MiB blocks, so size does not
matter (`ledger.app.file_hashes`).

``package_dir`` makes a 1.0 manifest, assets inline. ``package_library`` makes a
1.1 one: it streams the entries to ``assets.jsonl`` and returns the small header
that commits to them through their Merkle root, for a library of up to 2**24 files.

Asset ids are lower-case slugs of the relative path (the manifest's id rule), so
``Photo.JPG`` and ``photo.jpg`` would share one: such a collision is refused rather
than resolved by order, which would let one file's id move to another when a file
is added (docs/manifest.md, "Packaging a folder").
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import os
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.app.file_hashes import (
    FolderListing,
    HashCache,
    ProgressFn,
    hash_listing,
    list_folder,
)
from ledger.core.asset_tree import AssetTree, entry_bytes
from ledger.core.canonical import canonicalize
from ledger.core.fields import ASSET_ID
from ledger.core.hashing import to_hex
from ledger.core.manifest import (
    HEADER_VERSION,
    MANIFEST_VERSION,
    MAX_ASSETS,
    MAX_HEADER_ASSETS,
    NOTICE_VERSION,
    Manifest,
    ManifestHeader,
)
from ledger.core.vocabulary import PAYEE_ROLES
from ledger.errors import ValidationError
from ledger.files import replacing

MAX_ID_LENGTH = 128
ASSETS_FILE = "assets.jsonl"
"""A 1.1 package's entries, beside its manifest.json."""

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


@dataclass(frozen=True)
class PackageSpec:
    """Who packages, and the licences and terms every asset of the package shares."""

    creator_id: str
    licenses: Sequence[str | dict[str, Any]]
    signing_key: str | None = None
    wallet: str | None = None
    payout: str | None = None
    creator_name: str | None = None
    price_model: dict[str, Any] | None = None
    payees: Sequence[dict[str, Any]] | None = None
    consent: dict[str, Any] | None = None
    privacy: dict[str, Any] | None = None
    tags: Sequence[str] | None = None
    attribution: str | None = None
    url_base: str | None = None
    created_at: str | None = None
    per_file: Mapping[str, Mapping[str, Any]] | None = None
    """Members one file's entry adds, by relative path: what its own metadata gave
    (``captureDate``, ``extensions``; `ledger.app.embedding`)."""

    def creator(self) -> dict[str, Any]:
        """The manifest's ``creator`` object."""
        creator: dict[str, Any] = {"id": self.creator_id}
        for member, value in (
            ("signingKey", self.signing_key),
            ("wallet", self.wallet),
            ("payout", self.payout),
            ("name", self.creator_name),
        ):
            if value is not None:
                creator[member] = value
        return creator

    def asset(self, relative: str, asset_id: str, digest: bytes) -> dict[str, Any]:
        """The asset entry of the file at ``relative`` with SHA-256 ``digest``."""
        asset = self.file_members(relative, asset_id, digest)
        asset.update(_copy(self.terms()))
        return asset

    def file_members(self, relative: str, asset_id: str, digest: bytes) -> dict[str, Any]:
        """The members of an entry that differ from file to file: id, type, hash, url."""
        members: dict[str, Any] = {
            "id": asset_id, "type": media_type(relative), "hash": "sha256:" + digest.hex(),
        }
        if self.url_base is not None:
            members["url"] = self.url_base.rstrip("/") + "/" + urllib.parse.quote(relative)
        if self.per_file and relative in self.per_file:
            members.update(_copy(dict(self.per_file[relative])))
        return members

    def terms(self) -> dict[str, Any]:
        """The members every entry shares: licences and terms."""
        terms: dict[str, Any] = {"licenses": list(self.licenses)}
        optional = {
            "priceModel": self.price_model,
            "payees": list(self.payees) if self.payees else None,
            "consent": self.consent,
            "privacy": self.privacy,
            "attribution": self.attribution,
            "tags": list(self.tags) if self.tags else None,
        }
        terms.update({name: value for name, value in optional.items() if value is not None})
        return terms


def package_dir(
    path: str | os.PathLike[str],
    spec: PackageSpec,
    *,
    exclude: Iterable[str | os.PathLike[str]] = (),
    progress: ProgressFn | None = None,
    workers: int | None = None,
    known: Mapping[bytes, bytes] | None = None,
) -> dict[str, Any]:
    """An unsigned 1.0 manifest object describing every file under ``path``.

    Each file becomes one asset with its SHA-256, a media type guessed from its
    name, an id derived from its relative path, and the licenses and terms of
    ``spec``; ``spec.url_base`` (https:// or r2://) plus the relative path gives
    each asset's url. The result is validated (ValidationError on bad input)
    and ready for ``ledger.core.signing.sign_manifest``. ``known``: SHA-256 digests by
    hash cache key (`ledger.app.file_hashes.cache_key`) already computed from the
    files' bytes, as the writer of a copy has them; a file found there is not read.
    """
    ids, listing = _listed(Path(path), exclude, MAX_ASSETS, "a manifest holds")
    cache = HashCache(None)
    cache.add((known or {}).items())
    digests = hash_listing(listing, cache, workers=workers, progress=progress)
    assets = [spec.asset(relative, asset_id, digest)
              for (asset_id, relative), digest in zip(ids.items(), digests, strict=True)]
    manifest = {"manifestVersion": MANIFEST_VERSION, "creator": spec.creator(), "assets": assets}
    if spec.created_at is not None:
        manifest["createdAt"] = spec.created_at
    Manifest.from_obj(manifest, allow_unsigned=True)
    return manifest


def package_library(
    path: str | os.PathLike[str],
    spec: PackageSpec,
    assets_file: Path,
    *,
    cache_file: Path | None = None,
    exclude: Iterable[str | os.PathLike[str]] = (),
    progress: ProgressFn | None = None,
    workers: int | None = None,
    known: Mapping[bytes, bytes] | None = None,
) -> dict[str, Any]:
    """Package the files under ``path`` as a 1.1 (or 1.2) manifest: write ``assets_file`` (one
    canonical entry per line, in index order) and return the unsigned header.

    The entries are those ``package_dir`` would make, checked one by one (errors name
    ``assets[i].member``). ``cache_file`` keeps every hash as it is computed
    (`ledger.app.file_hashes.HashCache`), so a rerun after an interruption reads only
    the files not hashed yet; ``known`` digests (as `package_dir`) are added to it
    first. ``assets_file`` is replaced only once it is complete.
    """
    ids, listing = _listed(Path(path), (*exclude, assets_file), MAX_HEADER_ASSETS,
                           "a 1.1 manifest holds")
    # The header is checked before hours of hashing, with a stand-in root.
    _header(spec, len(listing), bytes(32))
    with HashCache(cache_file) as cache:
        cache.add((known or {}).items())
        digests = hash_listing(listing, cache, workers=workers, progress=progress)
        hashes = _write_entries(assets_file, spec, ids.items(), digests)
    return _header(spec, len(listing), AssetTree.from_hashes(hashes).root)


def _header(spec: PackageSpec, count: int, root: bytes) -> dict[str, Any]:
    """The unsigned, validated header: 1.2 when a licence declares a revocation notice
    (the one 1.2 feature), else 1.1, which more readers know."""
    notices = any(isinstance(item, dict) and "revocationNotice" in item
                  for item in spec.licenses)
    header = {
        "manifestVersion": NOTICE_VERSION if notices else HEADER_VERSION,
        "creator": spec.creator(),
        "assetCount": count,
        "assetsRoot": to_hex(root),
    }
    if spec.created_at is not None:
        header["createdAt"] = spec.created_at
    ManifestHeader.from_obj(header, allow_unsigned=True)
    return header


def _listed(
    root: Path, exclude: Iterable[str | os.PathLike[str]], limit: int, holds: str
) -> tuple[dict[str, str], FolderListing]:
    """The folder's files as {asset id: relative path} in order, and their listing."""
    if not root.is_dir():
        raise ValidationError(f"{root} is not a folder")
    listing = list_folder(root, exclude)
    if not listing:
        raise ValidationError(f"{root} has no files to package")
    if len(listing) > limit:
        raise ValidationError(f"{root} has {len(listing)} files; {holds} at most {limit}")
    return asset_ids(listing.relatives), listing


class _Entries:
    """The canonical bytes of a package's entries, a million in seconds.

    ``entry_bytes`` (validate, then canonicalize) runs at some 15,000 entries a second.
    Here the shared terms are validated and encoded once, and each entry's canonical
    form is composed from the canonical bytes of its members: RFC 8785 writes an object
    as its members sorted by name, each ``name:value`` in canonical form, and every
    member name here is ASCII, so sorting them as strings is the RFC's order. The file
    members are right by construction (a slug id, a media type from the table, a
    SHA-256, the checked URL base plus a percent-encoded path); an entry the shortcut
    cannot vouch for (an id off the rule, a long URL) and the first one, whose composed
    bytes must equal ``entry_bytes``, are checked in full, so an error names the field.
    """

    _SURE_URL = 1024  # the rule allows 2048 characters; longer ones get the full check

    def __init__(self, spec: PackageSpec) -> None:
        self._spec = spec
        self._terms = spec.terms()
        self._encoded = {name: canonicalize(name) + b":" + canonicalize(value)
                         for name, value in self._terms.items()}
        files = spec.file_members("x", "asset:x", bytes(32))
        self._names = sorted([*self._terms, *files])
        self._keys = {name: canonicalize(name) + b":" for name in files}

    def __call__(self, index: int, relative: str, asset_id: str, digest: bytes) -> bytes:
        """Entry ``index``'s canonical bytes; ValidationError naming ``assets[index].…``."""
        files = self._spec.file_members(relative, asset_id, digest)
        if files.keys() != self._keys.keys():  # a file's own members: no shortcut
            return entry_bytes({**files, **_copy(self._terms)}, f"assets[{index}]")
        composed = b"{" + b",".join(
            self._encoded[name] if name in self._encoded
            else self._keys[name] + canonicalize(files[name])
            for name in self._names
        ) + b"}"
        if index and ASSET_ID.fullmatch(asset_id) and len(files.get("url", "")) <= self._SURE_URL:
            return composed
        checked = entry_bytes({**files, **_copy(self._terms)}, f"assets[{index}]")
        if checked != composed:
            raise AssertionError("composed entry bytes differ from RFC 8785")
        return checked


def _write_entries(
    target: Path,
    spec: PackageSpec,
    files: Iterable[tuple[str, str]],
    digests: Iterator[bytes],
) -> bytes:
    """Write one canonical entry per line to ``target`` atomically; their hashes, joined."""
    encode = _Entries(spec)
    hashes = bytearray()
    with replacing(target, buffering=1 << 20) as handle:
        for index, ((asset_id, relative), digest) in enumerate(zip(files, digests, strict=True)):
            entry = encode(index, relative, asset_id, digest)
            hashes += hashlib.sha256(entry).digest()
            handle.write(entry + b"\n")
    return bytes(hashes)


def media_type(name: str) -> str:
    """The media type of a file, guessed from its name; application/octet-stream if unknown."""
    # Only the last two suffixes count (a type, then maybe a compression), so a library
    # of a million files asks the table once per kind of name.
    base = name.rpartition("/")[2]
    if base.startswith("."):
        return _media_type.__wrapped__(base)
    return _media_type("x" + "".join("." + part for part in base.split(".")[1:][-2:]))


@functools.lru_cache(maxsize=1024)
def _media_type(name: str) -> str:
    guessed, encoding = _MIME.guess_type(name, strict=False)
    if encoding is not None:
        return _COMPRESSED.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def asset_ids(relative_paths: Iterable[str]) -> dict[str, str]:
    """``{"asset:<slug>": path}`` for each path, in order, each id made from its own path.

    Raises ValidationError naming both paths when two give the same id (they differ
    only in case or punctuation: ``Photo.JPG`` and ``photo.jpg``).
    """
    owners: dict[str, str] = {}
    for relative in relative_paths:
        asset_id = "asset:" + slugify(relative)
        if asset_id in owners:
            raise ValidationError(
                f"{owners[asset_id]} and {relative} would both be {asset_id} (asset ids are "
                "lower-case slugs of the path): rename one"
            )
        owners[asset_id] = relative
    return owners


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


def _copy(value: Any) -> Any:
    """A deep copy of plain JSON data, so assets share no mutable objects."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
