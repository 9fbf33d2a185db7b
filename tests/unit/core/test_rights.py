"""What a file's own rights statements mean for packaging (ledger.core.rights)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.rights import (
    DMI_ALLOWED,
    DMI_PROHIBITED_AIML,
    DMI_WITHHOLDS_TRAINING,
    PLUS_VOCAB,
    C2paSummary,
    EmbeddedRights,
    _exif_moment,
    capture_date_utc,
    claims_for,
    conflicts,
    gps_time_utc,
    is_training_licence,
    metadata_record,
)
from ledger.core.times import iso_utc_of

ANA = "creator:ana-photo"
TRAINING = ["non-exclusive-training"]


def codes(found: EmbeddedRights, licences: list[str] | None = None,
          names: tuple[str, ...] = ("Ana Lima",)) -> list[str]:
    return [item.code for item in conflicts(found, creator_id=ANA, creator_names=names,
                                            licences=licences or TRAINING)]


@pytest.mark.parametrize(("licence", "offers"), [
    ("non-exclusive-training", True), ("exclusive-training", True), ("training", True),
    ("ai-train", True), ("tdm-commercial", True), ("genai.v2", True),
    ("cc-by-4.0", False), ("research", False), ("editorial", False),
    ("no-ai-training", False), ("training-prohibited", False), ("not-for-training", False),
])
def test_which_licences_offer_training(licence: str, offers: bool) -> None:
    assert is_training_licence(licence) is offers


def test_claims_follow_the_licences() -> None:
    offered = claims_for([{"id": "exclusive-training", "revocationNotice": 60}, "cc-by-4.0"],
                         creator_id=ANA, asset_id="asset:a.jpg", holder="Ana Lima",
                         web_statement="https://l.test/v1/creators/creator:ana-photo/records")
    assert offered.data_mining == DMI_ALLOWED
    assert offered.training == {"cawg.ai_generative_training": "allowed",
                                "cawg.ai_training": "allowed", "cawg.data_mining": "allowed"}
    assert "Ana Lima" in offered.rights and "exclusive-training, cc-by-4.0" in offered.rights
    assert offered.usage_terms.endswith("terms: https://l.test/v1/creators/creator:ana-photo/records")
    withheld = claims_for(["cc-by-4.0"], creator_id=ANA, asset_id="asset:a.jpg",
                          holder=ANA, web_statement=None)
    assert withheld.data_mining == DMI_PROHIBITED_AIML and withheld.web_statement is None
    assert withheld.training == {"cawg.ai_generative_training": "notAllowed",
                                 "cawg.ai_training": "notAllowed"}


@pytest.mark.parametrize(("local", "offset", "utc"), [
    ("2025:11:02 14:22:00", "+02:00", "2025-11-02T12:22:00Z"),
    ("2025:11:02 14:22:00", "-05:30", "2025-11-02T19:52:00Z"),
    ("2025:12:31 23:30:00", "-01:00", "2026-01-01T00:30:00Z"),
    ("2025:11:02 14:22:00", "+00:00", "2025-11-02T14:22:00Z"),
    ("2025:11:02 14:22:00", None, None),
    ("2025:11:02 14:22:00", "CET", None),
    ("2025:02:30 14:22:00", "+01:00", None),
    ("    :  :     :  :  ", "+01:00", None),
])
def test_capture_date_needs_its_offset(local: str, offset: str | None, utc: str | None) -> None:
    assert capture_date_utc(local, offset) == utc


@settings(max_examples=400, deadline=None)
@given(st.tuples(*[st.integers(0, 9999)] + [st.integers(0, 99)] * 5),
       st.sampled_from("+-"), st.integers(0, 99), st.integers(0, 99))
def test_the_usual_shape_reads_as_strptime_reads_it(
        fields: tuple[int, ...], sign: str, hours: int, minutes: int) -> None:
    """The direct reading of ``YYYY:MM:DD HH:MM:SS`` and ``±HH:MM`` agrees with
    strptime's on every value, in range or not."""
    year, month, day, hour, minute, second = fields
    local = f"{year:04}:{month:02}:{day:02} {hour:02}:{minute:02}:{second:02}"
    offset = f"{sign}{hours:02}:{minutes:02}"
    try:
        expected: str | None = iso_utc_of(
            datetime.strptime(f"{local} {offset}", "%Y:%m:%d %H:%M:%S %z"))
    except ValueError:
        expected = None
    try:
        direct = _exif_moment(local, offset)
    except ValueError:
        direct = None
    assert (None if direct is None else iso_utc_of(direct)) == expected
    assert capture_date_utc(local, offset) == expected


def test_gps_time_is_utc() -> None:
    assert gps_time_utc("2025:11:02", 12, 22, 5.9) == "2025-11-02T12:22:05Z"
    assert gps_time_utc("2025:11:02", 25, 0, 0) is None
    assert gps_time_utc("2025-11-02", 1, 0, 0) is None


@pytest.mark.parametrize("word", sorted(DMI_WITHHOLDS_TRAINING))
def test_every_prohibiting_data_mining_value_conflicts(word: str) -> None:
    assert codes(EmbeddedRights(data_mining=PLUS_VOCAB + word)) == ["training_prohibited"]
    assert codes(EmbeddedRights(data_mining=word.lower())) == ["training_prohibited"]
    assert codes(EmbeddedRights(data_mining=PLUS_VOCAB + word), ["cc-by-4.0"]) == []


@pytest.mark.parametrize("word", ["DMI-ALLOWED", "DMI-UNSPECIFIED", "something-else"])
def test_other_data_mining_values_do_not(word: str) -> None:
    assert codes(EmbeddedRights(data_mining=PLUS_VOCAB + word)) == []


@pytest.mark.parametrize(("entries", "expected"), [
    ({"cawg.ai_generative_training": "notAllowed"}, ["training_prohibited"]),
    ({"c2pa.ai_training": "notAllowed"}, ["training_prohibited"]),
    ({"cawg.data_mining": "constrained"}, ["training_prohibited"]),
    ({"cawg.ai_training": "allowed", "cawg.ai_generative_training": "allowed"}, []),
    ({"cawg.ai_inference": "notAllowed"}, []),
])
def test_c2pa_training_entries(entries: dict[str, str], expected: list[str]) -> None:
    found = EmbeddedRights(c2pa=C2paSummary("trusted", training=entries))
    assert codes(found) == expected


def test_c2pa_states() -> None:
    assert codes(EmbeddedRights(c2pa=C2paSummary("invalid"))) == ["c2pa_invalid"]
    assert codes(EmbeddedRights(c2pa=C2paSummary("untrusted"))) == []
    assert codes(EmbeddedRights(c2pa=C2paSummary("trusted"))) == []


def test_rights_holders_named_other_than_the_creator() -> None:
    assert codes(EmbeddedRights(owners=("Bob Stone",))) == ["other_rights_holder"]
    assert codes(EmbeddedRights(owners=("ana  LIMA",))) == []
    assert codes(EmbeddedRights(owners=("ana-photo",)), names=()) == []
    assert codes(EmbeddedRights(owners=("Ana Lima", "Bob"))) == ["other_rights_holder"]
    assert codes(EmbeddedRights(notices=("© 2024 Bob Stone",))) == ["other_rights_holder"]
    assert codes(EmbeddedRights(notices=("(c) 2024 ANA LIMA, all rights reserved",))) == []
    # A rights holder conflicts whatever the licences: it is about who may license at all.
    assert codes(EmbeddedRights(owners=("Bob",)), ["cc-by-4.0"]) == ["other_rights_holder"]


def test_what_ledger_wrote_for_the_same_creator_is_theirs() -> None:
    ours = EmbeddedRights(data_mining=DMI_PROHIBITED_AIML, notices=("© creator:ana-photo",),
                          ledger_creator=ANA)
    assert codes(ours) == []
    assert codes(EmbeddedRights(ledger_creator=ANA, c2pa=C2paSummary("invalid"))) == [
        "c2pa_invalid"]
    theirs = EmbeddedRights(data_mining=DMI_PROHIBITED_AIML, ledger_creator="creator:bob")
    assert codes(theirs) == ["training_prohibited"]


def test_the_record_says_what_was_found_overridden_and_written() -> None:
    assert metadata_record(EmbeddedRights()) is None
    found = EmbeddedRights(capture_date_local="2025:11:02 14:22:00", owners=("Bob", "Bob"),
                           data_mining=PLUS_VOCAB + "DMI-PROHIBITED",
                           c2pa=C2paSummary("untrusted", signer="Bob CA",
                                            training={"cawg.ai_training": "notAllowed"}))
    overridden = conflicts(found, creator_id=ANA, creator_names=(), licences=TRAINING)
    claims = claims_for(TRAINING, creator_id=ANA, asset_id="asset:a.jpg", holder=ANA,
                        web_statement=None)
    record = metadata_record(found, overridden=overridden, reason="Bob sold me the rights",
                             claims=claims, location_stripped=True)
    assert record == {
        "captureDateLocal": "2025:11:02 14:22:00",
        "dataMining": PLUS_VOCAB + "DMI-PROHIBITED",
        "owners": ["Bob"],
        "c2pa": {"state": "untrusted", "signer": "Bob CA",
                 "training": {"cawg.ai_training": "notAllowed"}},
        "override": {"conflicts": ["other_rights_holder", "training_prohibited"],
                     "reason": "Bob sold me the rights"},
        "embedded": {"dataMining": DMI_ALLOWED, "trainingMining": dict(claims.training),
                     "locationStripped": True},
    }
    dated = EmbeddedRights(capture_date="2025-11-02T12:22:00Z", capture_date_source="exif",
                           capture_date_local="2025:11:02 14:22:00")
    assert metadata_record(dated) == {"captureDateSource": "exif"}
