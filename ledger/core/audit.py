"""The rights audit's rules: what a buyer's compliance team would ask of each file.

Pure: `ledger.app.audit` gathers the facts of every file (`FileFacts`: how it was
found, its hashes, its dimensions, its embedded metadata, the faces a detector
suggests, who else registered its bytes) and this module judges them against what the
creator declares (`Declared`: the packaging spec's privacy flags, releases, licences).
Each problem is a `Finding` with a severity:

- ``error``: stops ``ledger package`` (a corrupt or unreadable file, a missing model
  release, a file another creator registered, a metadata conflict);
- ``warning``: fix before listing (a GPS position, a device serial number, a duplicate);
- ``review``: a person must look (a face the detector suggests, a near-duplicate); never
  a statement of fact.

docs/metadata.md ("Audit") lists every code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ledger.core.rights import EmbeddedRights, conflicts, registered_by_others

Severity = Literal["error", "warning", "review"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "review")

FOLDER = "."
"""The path of findings about the whole folder (the declared spec)."""

NEAR_DISTANCE = 10
"""Two perceptual hashes (64 bits) at most this many bits apart are near-identical.
Measured on scikit-image's sample photographs (tests/unit/media/test_similarity.py):
a JPEG re-encode, a resize, a brightness change or a grey copy moves a hash by at most
8 bits, a 3 % crop by up to 12; distinct pictures are 20 or more apart."""

_FLAT_BITS = 4
RELEASE_FLAGS = ("faces", "minors", "biometric")
"""Privacy flags that need a model release."""


@dataclass(frozen=True)
class Finding:
    """One problem with one file (or with the folder, path ``.``), and how to fix it."""

    path: str
    code: str
    severity: Severity
    message: str
    fix: str

    def to_obj(self) -> dict[str, str]:
        """The finding as JSON (the audit report's ``findings`` items)."""
        return {"path": self.path, "code": self.code, "severity": self.severity,
                "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class Declared:
    """What the creator says about every file: who, under which licences, with which
    privacy flags (``faces``, ``minors``, ``biometric``, ``pii``) and releases
    (``modelRelease``, ``propertyRelease``) — a packaging spec's members."""

    creator_id: str | None = None
    creator_names: tuple[str, ...] = ()
    licences: tuple[str | Mapping[str, Any], ...] = ()
    privacy: Mapping[str, Any] = field(default_factory=dict)
    consent: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model_release(self) -> bool:
        """Whether a model release is named."""
        return bool(self.consent.get("modelRelease"))

    @property
    def people(self) -> bool:
        """Whether the files are declared to show people (faces, minors or biometrics)."""
        return any(self.privacy.get(flag) for flag in RELEASE_FLAGS)


@dataclass(frozen=True)
class FileFacts:
    """What the audit found out about one entry of the folder.

    ``kind``: "file", "symlink", "special" (pipe, socket, device) or "unreadable".
    ``problem``: why a regular file could not be checked as an image: "empty",
    "unsupported" (not an image type we decode), "corrupt" (truncated or undecodable),
    "bomb" (dimensions over the limit), with ``detail`` in words. ``faces``: the number
    of candidate faces, None when not looked for. ``registered_by``: creator ids that
    registered these bytes already. ``hash_key``: the hash cache key of the state of
    the file ``sha256`` is the hash of (path, size and mtime; None when the file changed
    while it was read), so that whoever hashes the folder next can take the digest.
    """

    path: str
    kind: str = "file"
    size: int = 0
    sha256: bytes | None = None
    problem: str | None = None
    detail: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    phash: int | None = None
    rights: EmbeddedRights | None = None
    metadata_error: str | None = None
    faces: int | None = None
    registered_by: tuple[str, ...] = ()
    hash_key: bytes | None = None


def judge(files: Sequence[FileFacts], declared: Declared,
          *, near_distance: int = NEAR_DISTANCE) -> list[Finding]:
    """Every finding about the folder ``files`` came from, by path then severity."""
    found = _folder_findings(declared)
    for facts in files:
        found.extend(judge_file(facts, declared))
    found.extend(duplicates(files))
    found.extend(near_duplicates(files, near_distance))
    rank = {name: index for index, name in enumerate(SEVERITIES)}
    return sorted(found, key=lambda item: (item.path != FOLDER, item.path,
                                           rank[item.severity], item.code))


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when there is nothing to report, 1 when there is (for scripts)."""
    return 1 if any(True for _ in findings) else 0


def _folder_findings(declared: Declared) -> list[Finding]:
    if declared.people and not declared.model_release:
        flags = ", ".join(flag for flag in RELEASE_FLAGS if declared.privacy.get(flag))
        return [Finding(FOLDER, "model_release_missing", "error",
                        f"the files are declared to show {flags}, but no model release is "
                        "named", "name the release with --model-release URL (consent."
                        "modelRelease), or drop the flag if no person is shown")]
    return []


def judge_file(facts: FileFacts, declared: Declared) -> list[Finding]:
    """The findings about one file on its own (duplicates aside)."""
    broken = _unusable(facts)
    if broken is not None and broken.severity == "error":
        return [broken]  # nothing else about a file that cannot be used is worth saying
    found: list[Finding] = [broken] if broken is not None else []
    others = registered_by_others_than(facts, declared.creator_id)
    if others:
        conflict = registered_by_others(others)
        found.append(Finding(
            facts.path, conflict.code, "error", conflict.message,
            "do not list it unless you hold its rights; `ledger lookup FILE` shows who "
            "registered it and when"))
    if facts.metadata_error is not None:
        found.append(Finding(facts.path, "metadata_unreadable", "warning",
                             facts.metadata_error,
                             "rewrite the file's metadata (e.g. save it again) or remove it"))
    if facts.rights is not None:
        found.extend(_personal_data(facts.path, facts.rights))
        found.extend(_conflicts(facts.path, facts.rights, declared))
        found.extend(_untrusted_c2pa(facts.path, facts.rights))
    if facts.faces and not (declared.people or declared.model_release):
        found.append(Finding(
            facts.path, "faces_undeclared", "review",
            f"the face detector suggests {facts.faces} face(s); no privacy flag or release "
            "says the files show people (a suggestion, not a fact)",
            "look at it: if it shows a person, declare --faces and name a --model-release; "
            "if not, nothing to do"))
    return found


def registered_by_others_than(facts: FileFacts, creator_id: str | None) -> tuple[str, ...]:
    """The creator ids other than ``creator_id`` that registered the file's bytes."""
    return tuple(who for who in facts.registered_by if who != creator_id)


_UNUSABLE = {
    "symlink": ("symlink", "a symbolic link: not followed, not packaged",
                "replace the link with the file itself, or remove it"),
    "special": ("special_file", "not a regular file (a pipe, socket or device)",
                "remove it from the folder"),
    "unreadable": ("unreadable", "cannot be read", "fix its permissions, or remove it"),
}
_PROBLEMS: dict[str, tuple[str, Severity, str]] = {
    "empty": ("empty", "error", "remove the empty file, or replace it with its content"),
    "corrupt": ("corrupt", "error", "export the file again from its source"),
    "bomb": ("huge_dimensions", "error",
             "resize it below the limit; a file this large is refused as a decompression bomb"),
    "unsupported": ("unsupported", "warning",
                    "nothing, if it is meant to be there: it is packaged unchanged and not "
                    "checked; convert images to JPEG, PNG or WebP to have them checked"),
}


def _unusable(facts: FileFacts) -> Finding | None:
    if facts.kind in _UNUSABLE:
        code, message, fix = _UNUSABLE[facts.kind]
        detail = f" ({facts.detail})" if facts.detail else ""
        return Finding(facts.path, code, "error", message + detail, fix)
    if facts.problem in _PROBLEMS:
        code, severity, fix = _PROBLEMS[facts.problem]
        return Finding(facts.path, code, severity, facts.detail or facts.problem, fix)
    return None


def _personal_data(path: str, rights: EmbeddedRights) -> list[Finding]:
    found: list[Finding] = []
    if rights.gps:
        found.append(Finding(path, "gps_location", "warning",
                             "the metadata holds a GPS position (where it was taken)",
                             "package with --strip-location (applied to the copy), or "
                             "remove the location from the file"))
    if rights.serials:
        found.append(Finding(path, "device_serial", "warning",
                             f"the metadata holds device serial number(s): "
                             f"{', '.join(rights.serials)}",
                             "remove them (exiftool -SerialNumber= -LensSerialNumber= "
                             "-BodySerialNumber= FILE)"))
    if rights.owner_names:
        found.append(Finding(path, "owner_name", "warning",
                             f"the metadata names the device owner: "
                             f"{', '.join(rights.owner_names)}",
                             "remove it (exiftool -OwnerName= -CameraOwnerName= FILE)"))
    return found


def _untrusted_c2pa(path: str, rights: EmbeddedRights) -> list[Finding]:
    if rights.c2pa is None or rights.c2pa.state != "untrusted":
        return []
    signer = rights.c2pa.signer or "an unnamed signer"
    return [Finding(path, "c2pa_untrusted", "review",
                    f"the file carries an intact C2PA manifest signed by {signer}, whose "
                    "certificate chains to no root we were given to trust",
                    "check who the signer is; if the file is not yours, do not list it")]


def _conflicts(path: str, rights: EmbeddedRights, declared: Declared) -> list[Finding]:
    found = conflicts(rights, creator_id=declared.creator_id or "",
                      creator_names=declared.creator_names, licences=declared.licences)
    if declared.creator_id is None:
        # Without a creator every named owner would look like someone else.
        found = [item for item in found if item.code != "other_rights_holder"]
    return [Finding(path, f"conflict_{item.code}", "error", f"{item.field}: {item.message}",
                    "resolve it with the rights holder, or package with --override-conflicts "
                    "REASON (the override is recorded in the signed manifest)")
            for item in found]


def duplicates(files: Sequence[FileFacts]) -> list[Finding]:
    """A warning on every file whose bytes another file of the folder has too."""
    groups: defaultdict[bytes, list[str]] = defaultdict(list)
    for facts in files:
        if facts.sha256 is not None and facts.problem != "empty":
            groups[facts.sha256].append(facts.path)
    return [Finding(path, "duplicate", "warning",
                    f"byte-identical to {', '.join(other for other in paths if other != path)}",
                    "keep one copy; each copy would be a separate asset")
            for paths in groups.values() if len(paths) > 1 for path in paths]


def near_duplicates(files: Sequence[FileFacts], distance: int = NEAR_DISTANCE) -> list[Finding]:
    """A review on every image whose perceptual hash is within ``distance`` bits of
    another's (byte-identical copies aside, `duplicates` names those). Plain-colour
    pictures have no perceptual fingerprint and are left out."""
    near: defaultdict[str, set[str]] = defaultdict(set)
    by_hash = _by_phash(files)
    for one, two in near_pairs(list(by_hash), distance):
        for a in by_hash[one]:
            for b in by_hash[two]:
                near[a.path].add(b.path)
                near[b.path].add(a.path)
    for group in by_hash.values():
        for a in group:
            near[a.path].update(b.path for b in group if b.sha256 != a.sha256)
    return [Finding(path, "near_duplicate", "review",
                    f"looks nearly identical to {', '.join(sorted(others))} (perceptual hash)",
                    "look at them: keep one unless they are different pictures")
            for path, others in sorted(near.items()) if others]


def _by_phash(files: Sequence[FileFacts]) -> dict[int, list[FileFacts]]:
    groups: defaultdict[int, list[FileFacts]] = defaultdict(list)
    for facts in files:
        if facts.phash is not None and _structured(facts.phash):
            groups[facts.phash].append(facts)
    return groups


def _structured(phash: int) -> bool:
    """Whether a hash says anything about the picture: a flat or nearly flat one (a
    plain colour) sets only a few bits, and any two such pictures would look alike."""
    return _FLAT_BITS <= phash.bit_count() <= 64 - _FLAT_BITS


def near_pairs(hashes: Sequence[int], distance: int, bits: int = 64) -> list[tuple[int, int]]:
    """The pairs of distinct ``hashes`` at most ``distance`` bits apart.

    Pigeonhole: cut each hash into ``distance + 1`` bands; two hashes that differ in at
    most ``distance`` bits agree on one band at least, so only hashes sharing a band are
    compared, and a library of 10,000 images is not 50 million comparisons.
    """
    bands = distance + 1
    width = -(-bits // bands)
    buckets: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
    for value in hashes:
        for band in range(bands):
            buckets[(band, (value >> (band * width)) & ((1 << width) - 1))].append(value)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        for index, one in enumerate(members):
            for two in members[index + 1:]:
                if one != two and (one ^ two).bit_count() <= distance:
                    pairs.add((min(one, two), max(one, two)))
    return sorted(pairs)
