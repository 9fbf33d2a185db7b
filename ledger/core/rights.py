"""The rights facts a file carries in its own metadata, and what they mean for packaging.

Pure: `ledger.media.xmp` reads the facts out of a file (EXIF, IPTC, XMP) into an
`EmbeddedRights`, and H5's `ledger.media.c2pa_read` the C2PA manifest into a
`C2paSummary`; this module decides. It maps an asset's licences to the machine
signals a buyer's tools read (`plus:DataMining` of IPTC/PLUS, the CAWG and C2PA
training-and-data-mining entries), finds the **conflicts** between a file's own
statements and a training licence, and writes what was found (and any override) into
the asset's ``extensions["ledger:metadata"]``, which is signed and anchored with the
manifest. docs/metadata.md gives the tables and the specifications they follow.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ledger.core.times import iso_utc_of

_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})", re.ASCII)
_EXIF_OFFSET = re.compile(r"([+-])(\d{2}):([0-5]\d)", re.ASCII)

METADATA_KEY = "ledger:metadata"
"""The member of an asset's ``extensions`` that holds what packaging found in the file."""

PLUS_VOCAB = "http://ns.useplus.org/ldf/vocab/"
"""Prefix of the PLUS Data Mining values (IPTC Photo Metadata Standard 2023.1)."""
DMI_ALLOWED = PLUS_VOCAB + "DMI-ALLOWED"
DMI_PROHIBITED_AIML = PLUS_VOCAB + "DMI-PROHIBITED-AIMLTRAINING"

#: Every PLUS value that withholds AI/ML training. The SEE* values point at a
#: constraint or rights expression no machine reads for us: they count as withheld.
DMI_WITHHOLDS_TRAINING = frozenset({
    "DMI-PROHIBITED", "DMI-PROHIBITED-AIMLTRAINING", "DMI-PROHIBITED-GENAIMLTRAINING",
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", "DMI-PROHIBITED-SEECONSTRAINT",
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR", "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
})

#: The training-and-data-mining entries we write: CAWG 1.1 names (current readers);
#: the C2PA 1.x assertion used the same words with the ``c2pa.`` prefix.
TRAINING_ENTRIES = ("cawg.ai_generative_training", "cawg.ai_training", "cawg.data_mining")
TRAINING_USES = frozenset({"ai_generative_training", "ai_training", "data_mining"})
CAWG_LABEL = "cawg.training-mining"
C2PA_LABEL = "c2pa.training-mining"

_WORD = re.compile(r"[a-z0-9]+")
_TRAINING_WORDS = frozenset({"training", "train", "tdm", "aiml", "genai"})
_NEGATIONS = frozenset({"no", "noai", "not", "without", "except", "prohibited"})


@dataclass(frozen=True)
class C2paSummary:
    """An existing C2PA manifest, as `ledger.media.c2pa_read` found it.

    ``state``: "trusted" (intact, signed under a trust anchor the reader was given),
    "untrusted" (intact, but the signer chains to no given anchor, or none was given) or
    "invalid" (the file or the manifest changed after signing); ``training`` maps
    each training-mining entry to allowed / notAllowed / constrained, read from both
    ``cawg.training-mining`` and ``c2pa.training-mining`` (labels as written).
    """

    state: str
    signer: str | None = None
    claim_generator: str | None = None
    training: Mapping[str, str] = field(default_factory=dict)
    failures: tuple[str, ...] = ()

    def to_obj(self) -> dict[str, Any]:
        """The summary as JSON, for the asset's record."""
        obj: dict[str, Any] = {"state": self.state}
        for name, value in (("signer", self.signer), ("claimGenerator", self.claim_generator)):
            if value is not None:
                obj[name] = value
        if self.training:
            obj["training"] = dict(sorted(self.training.items()))
        if self.failures:
            obj["failures"] = list(self.failures)
        return obj


@dataclass(frozen=True)
class EmbeddedRights:
    """What a file says about itself (EXIF, IPTC, XMP; C2PA when read).

    ``capture_date`` is UTC (``YYYY-MM-DDTHH:MM:SSZ``) and set only when the zone is
    known (`capture_date_utc`, ``capture_date_source`` "exif" or "gps"); otherwise
    ``capture_date_local`` keeps the camera's wall-clock time. ``owners`` are the names
    of rights holders and authors (xmpRights:Owner, plus:CopyrightOwner, dc:creator,
    IPTC By-line, EXIF Artist); ``notices`` the copyright texts (dc:rights, EXIF and IPTC
    Copyright). ``gps``, ``serials``
    and ``owner_names`` are for the audit (personal data to strip or report).
    ``ledger_creator`` is the creator id ledger itself wrote into an earlier copy.
    """

    capture_date: str | None = None
    capture_date_local: str | None = None
    capture_date_source: str | None = None
    notices: tuple[str, ...] = ()
    web_statement: str | None = None
    usage_terms: str | None = None
    marked: bool | None = None
    owners: tuple[str, ...] = ()
    data_mining: str | None = None
    c2pa: C2paSummary | None = None
    gps: bool = False
    serials: tuple[str, ...] = ()
    owner_names: tuple[str, ...] = ()
    ledger_creator: str | None = None


@dataclass(frozen=True)
class Conflict:
    """A file's own statement that contradicts packaging it under its licences."""

    code: str
    message: str
    field: str


@dataclass(frozen=True)
class Claims:
    """What ledger writes into a copy: the signals for the asset's licences and who."""

    creator_id: str
    asset_id: str
    data_mining: str
    training: Mapping[str, str]
    rights: str
    usage_terms: str
    web_statement: str | None = None


def capture_date_utc(local: str, offset: str | None) -> str | None:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` plus an offset ``±HH:MM`` as UTC; None when either
    is missing or malformed (a time without its zone is not a UTC instant)."""
    if offset is None:
        return None
    local, offset = local.strip(), offset.strip()
    try:
        moment = _exif_moment(local, offset) or datetime.strptime(
            local + " " + offset, "%Y:%m:%d %H:%M:%S %z")
    except ValueError:
        return None
    return iso_utc_of(moment)


def _exif_moment(local: str, offset: str) -> datetime | None:
    """The moment of the usual shape (``2025:11:02 14:22:00`` and ``+02:00``) read
    directly, as `datetime.strptime` reads it (strptime, a general parser, took a sixth
    of the time of reading an audited file's metadata); None for any other shape, left
    to strptime; ValueError for fields out of range, as strptime gives."""
    when, zone = _EXIF_TIME.fullmatch(local), _EXIF_OFFSET.fullmatch(offset)
    if when is None or zone is None:
        return None
    year, month, day, hour, minute, second = map(int, when.groups())
    sign, hours, minutes = zone.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return datetime(year, month, day, hour, minute, second,
                    tzinfo=timezone(-delta if sign == "-" else delta))


def gps_time_utc(date: str, hours: float, minutes: float, seconds: float) -> str | None:
    """The GPS receiver's UTC time (GPSDateStamp ``YYYY:MM:DD`` and GPSTimeStamp)."""
    try:
        day = datetime.strptime(date.strip(), "%Y:%m:%d").replace(tzinfo=UTC)
        moment = day + timedelta(hours=hours, minutes=minutes, seconds=int(seconds))
    except (ValueError, OverflowError):
        return None
    if moment.date() != day.date():
        return None
    return iso_utc_of(moment)


def licence_ids(licences: object) -> list[str]:
    """The ids of licences written as ids or as licence objects (an asset's ``licenses``
    member, as written). It reads unchecked evidence too: a member that is no collection,
    and an item that is neither, give no id."""
    if isinstance(licences, str | Mapping) or not isinstance(licences, Collection):
        return []
    return [item if isinstance(item, str) else str(item.get("id")) for item in licences
            if isinstance(item, str | Mapping)]


def is_training_licence(licence_id: str) -> bool:
    """Whether a licence id offers AI training: one of its words is a training word
    (training, train, tdm, aiml, genai) and none negates it (no, noai, not, …), so
    ``non-exclusive-training`` is one and ``cc-by-4.0`` or ``no-ai-training`` are not."""
    words = set(_WORD.findall(licence_id.lower()))
    return bool(words & _TRAINING_WORDS) and not words & _NEGATIONS


def offers_training(licences: Collection[str | Mapping[str, Any]]) -> bool:
    """Whether any of the licences offers AI training."""
    return any(is_training_licence(item) for item in licence_ids(licences))


def claims_for(
    licences: Collection[str | Mapping[str, Any]], *, creator_id: str, asset_id: str,
    holder: str, web_statement: str | None,
) -> Claims:
    """The signals to write for an asset: training offered → PLUS DMI-ALLOWED and the
    training entries ``allowed``; otherwise DMI-PROHIBITED-AIMLTRAINING and the two
    AI-training entries ``notAllowed`` (data mining itself left unsaid)."""
    ids = licence_ids(licences)
    if offers_training(licences):
        signal, training = DMI_ALLOWED, {entry: "allowed" for entry in TRAINING_ENTRIES}
    else:
        signal = DMI_PROHIBITED_AIML
        training = {entry: "notAllowed" for entry in TRAINING_ENTRIES[:2]}
    where = f"; terms: {web_statement}" if web_statement else ""
    return Claims(
        creator_id=creator_id, asset_id=asset_id, data_mining=signal, training=training,
        rights=f"© {holder}. Licensed through ledger under {', '.join(ids)}",
        usage_terms=f"Licensed under {', '.join(ids)} as registered by {creator_id}{where}",
        web_statement=web_statement,
    )


def conflicts(
    found: EmbeddedRights, *, creator_id: str, creator_names: Collection[str],
    licences: Collection[str | Mapping[str, Any]],
) -> list[Conflict]:
    """The file's statements that contradict packaging it for ``creator_id`` under
    ``licences``: AI training withheld while a licence offers it, a rights holder or
    copyright notice naming someone else, a C2PA manifest that fails validation.

    What ledger itself wrote for this creator into an earlier copy is theirs already,
    so only its C2PA state is judged. Names match case-insensitively, ignoring spacing;
    the creator id's slug counts as one of the creator's names.
    """
    found_conflicts: list[Conflict] = []
    if found.ledger_creator != creator_id:
        if offers_training(licences):
            found_conflicts.extend(_training_withheld(found))
        found_conflicts.extend(_other_holders(found, creator_id, creator_names))
    if found.c2pa is not None and found.c2pa.state == "invalid":
        found_conflicts.append(Conflict(
            "c2pa_invalid", "the file's C2PA manifest does not validate (the file or the "
            "manifest changed after signing)", "c2pa"))
    return found_conflicts


REGISTERED_BY_OTHER = "registered_by_other"
"""The conflict code of a file another creator registered already."""


def registered_by_others(others: Collection[str]) -> Conflict:
    """The conflict of a file whose exact bytes ``others`` (creator ids) registered
    already: someone else claims it (the ledger's lookup by hash)."""
    return Conflict(REGISTERED_BY_OTHER, "these bytes are registered already by "
                    f"{', '.join(sorted(set(others)))}", "sha256")


def _training_withheld(found: EmbeddedRights) -> list[Conflict]:
    out: list[Conflict] = []
    if found.data_mining is not None and _dmi_word(found.data_mining) in DMI_WITHHOLDS_TRAINING:
        out.append(Conflict(
            "training_prohibited", f"plus:DataMining is {_dmi_word(found.data_mining)}, "
            "which withholds AI training, but a licence offers it", "plus:DataMining"))
    # A "constrained" entry without its constraints is notAllowed (CAWG 1.1, §3.1).
    withheld = sorted(entry for entry, value in (found.c2pa.training if found.c2pa else {}).items()
                      if entry.partition(".")[2] in TRAINING_USES and value != "allowed")
    if withheld:
        out.append(Conflict(
            "training_prohibited", f"the C2PA manifest does not allow {', '.join(withheld)}, "
            "but a licence offers AI training", "c2pa.training-mining"))
    return out


def _other_holders(
    found: EmbeddedRights, creator_id: str, creator_names: Collection[str]
) -> list[Conflict]:
    mine = {_folded(name) for name in (*creator_names, creator_id.partition(":")[2]) if name}
    mine.discard("")
    others = [owner for owner in found.owners if _folded(owner) not in mine]
    out: list[Conflict] = []
    if others:
        out.append(Conflict(
            "other_rights_holder", f"the file names {', '.join(sorted(set(others)))} as rights "
            "holder or author", "owners"))
    notices = [text for text in found.notices if not any(name in _folded(text) for name in mine)]
    if notices:
        out.append(Conflict(
            "other_rights_holder", f"the copyright notice {notices[0]!r} does not name the "
            "creator", "rights"))
    return out


def _dmi_word(value: str) -> str:
    """``DMI-…`` of a PLUS value written as its URI or as the bare word."""
    return value.strip().rstrip("/").rpartition("/")[2].upper()


def _folded(name: str) -> str:
    return " ".join(name.casefold().split())


def metadata_record(
    found: EmbeddedRights, *, overridden: Collection[Conflict] = (), reason: str | None = None,
    claims: Claims | None = None, location_stripped: bool = False,
    registered_by: Collection[str] = (),
) -> dict[str, Any] | None:
    """The JSON for ``extensions["ledger:metadata"]``: what the file said, who else
    registered its bytes (``registered_by``), the conflicts the creator overrode and
    why, and what ledger wrote into the copy; None when there is nothing to say."""
    record: dict[str, Any] = {}
    facts: tuple[tuple[str, Any], ...] = (
        ("registeredBy", sorted(set(registered_by)) or None),
        ("captureDateSource", found.capture_date_source),
        ("captureDateLocal", found.capture_date_local if found.capture_date is None else None),
        ("dataMining", found.data_mining),
        ("owners", sorted(set(found.owners)) or None),
        ("rights", list(found.notices) or None),
        ("webStatement", found.web_statement),
        ("c2pa", found.c2pa.to_obj() if found.c2pa else None),
    )
    record.update({name: value for name, value in facts if value is not None})
    if overridden:
        record["override"] = {"conflicts": sorted({item.code for item in overridden}),
                              "reason": reason or ""}
    if claims is not None:
        record["embedded"] = {"dataMining": claims.data_mining,
                              "trainingMining": dict(claims.training),
                              "locationStripped": location_stripped}
    return record or None

