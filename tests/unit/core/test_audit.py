"""The audit's pure rules: each fact gives its finding, with its severity and a fix."""

from __future__ import annotations

import random

import pytest

from ledger.core.audit import (
    FOLDER,
    Declared,
    FileFacts,
    exit_code,
    judge,
    judge_file,
    near_duplicates,
    near_pairs,
)
from ledger.core.rights import C2paSummary, EmbeddedRights

PHOTO = FileFacts("a.jpg", size=10, sha256=b"\1" * 32, format="JPEG", width=4, height=3,
                  phash=0x0F0F_0F0F_0F0F_0F0F)


NOTHING = Declared()


def _codes(facts: FileFacts, declared: Declared = NOTHING) -> list[str]:
    return [item.code for item in judge_file(facts, declared)]


@pytest.mark.parametrize(("privacy", "consent", "expected"), [
    ({"faces": True}, {}, ["model_release_missing"]),
    ({"minors": True}, {"propertyRelease": "p"}, ["model_release_missing"]),
    ({"biometric": True}, {"modelRelease": "https://example.com/r.pdf"}, []),
    ({"pii": True}, {}, []),
    ({}, {}, []),
])
def test_people_need_a_model_release(privacy: dict[str, bool], consent: dict[str, str],
                                     expected: list[str]) -> None:
    found = judge([], Declared(privacy=privacy, consent=consent))
    assert [item.code for item in found] == expected
    assert all(item.path == FOLDER and item.severity == "error" for item in found)


def test_faces_are_a_review_unless_declared() -> None:
    faces = FileFacts("p.jpg", sha256=b"\2" * 32, faces=2)
    [finding] = judge_file(faces, Declared())
    assert (finding.code, finding.severity) == ("faces_undeclared", "review")
    assert "not a fact" in finding.message
    assert _codes(faces, Declared(privacy={"faces": True})) == []
    assert _codes(faces, Declared(consent={"modelRelease": "r"})) == []
    assert _codes(FileFacts("p.jpg", faces=0)) == []
    assert _codes(FileFacts("p.jpg", faces=None)) == []


def test_personal_data_in_metadata_are_warnings() -> None:
    rights = EmbeddedRights(gps=True, serials=("SN1",), owner_names=("Jane",))
    found = judge_file(FileFacts("g.jpg", rights=rights), Declared())
    assert [(item.code, item.severity) for item in found] == [
        ("gps_location", "warning"), ("device_serial", "warning"), ("owner_name", "warning")]
    assert "--strip-location" in found[0].fix


def test_an_untrusted_c2pa_signer_is_a_review_not_a_conflict() -> None:
    rights = EmbeddedRights(c2pa=C2paSummary("untrusted", signer="Someone CA"))
    [finding] = judge_file(FileFacts("s.jpg", rights=rights), Declared())
    assert (finding.code, finding.severity) == ("c2pa_untrusted", "review")
    assert "Someone CA" in finding.message
    assert _codes(FileFacts("t.jpg", rights=EmbeddedRights(c2pa=C2paSummary("trusted")))) == []


def test_conflicts_need_a_creator_to_name_other_holders() -> None:
    rights = EmbeddedRights(owners=("Someone Else",), data_mining="DMI-PROHIBITED",
                            c2pa=C2paSummary("invalid"))
    facts = FileFacts("c.jpg", rights=rights)
    training = ("non-exclusive-training",)
    assert _codes(facts, Declared(licences=training)) == [
        "conflict_training_prohibited", "conflict_c2pa_invalid"]
    assert _codes(facts, Declared(creator_id="creator:ana", licences=training)) == [
        "conflict_training_prohibited", "conflict_other_rights_holder",
        "conflict_c2pa_invalid"]
    assert _codes(facts, Declared(creator_id="creator:ana", creator_names=("someone  else",),
                                  licences=("cc-by-4.0",))) == ["conflict_c2pa_invalid"]


@pytest.mark.parametrize(("facts", "code", "severity"), [
    (FileFacts("l", kind="symlink", detail="to x"), "symlink", "error"),
    (FileFacts("p", kind="special"), "special_file", "error"),
    (FileFacts("u", kind="unreadable", detail="Permission denied"), "unreadable", "error"),
    (FileFacts("e", problem="empty"), "empty", "error"),
    (FileFacts("c", problem="corrupt", detail="truncated"), "corrupt", "error"),
    (FileFacts("h", problem="bomb"), "huge_dimensions", "error"),
])
def test_unusable_files_give_one_finding_each(facts: FileFacts, code: str, severity: str) -> None:
    # A broken file has nothing else to say: its other facts are not looked at.
    broken = FileFacts(**{**facts.__dict__, "faces": 3, "registered_by": ("creator:x",)})
    [finding] = judge_file(broken, Declared())
    assert (finding.code, finding.severity) == (code, severity)


def test_an_unsupported_file_is_still_checked_for_other_registrations() -> None:
    other = FileFacts("t.txt", sha256=b"\1" * 32, problem="unsupported",
                      registered_by=("creator:x",))
    assert [(item.code, item.severity) for item in judge_file(other, Declared())] == [
        ("unsupported", "warning"), ("registered_by_other", "error")]


def test_registered_by_others_but_not_by_oneself() -> None:
    facts = FileFacts("r.jpg", sha256=b"\3" * 32, registered_by=("creator:ana", "creator:bo"))
    [finding] = judge_file(facts, Declared(creator_id="creator:ana"))
    assert finding.code == "registered_by_other" and "creator:ana" not in finding.message
    assert _codes(FileFacts("r.jpg", registered_by=("creator:ana",)),
                  Declared(creator_id="creator:ana")) == []


def test_duplicates_and_near_duplicates_name_each_other() -> None:
    copy = FileFacts("b.jpg", sha256=PHOTO.sha256, phash=PHOTO.phash)
    near = FileFacts("c.jpg", sha256=b"\4" * 32, phash=PHOTO.phash ^ 0b1011)
    far = FileFacts("d.jpg", sha256=b"\5" * 32, phash=~PHOTO.phash & (2**64 - 1))
    flat = FileFacts("e.jpg", sha256=b"\6" * 32, phash=1 << 63)
    flat2 = FileFacts("f.jpg", sha256=b"\7" * 32, phash=1 << 63)
    found = {(item.path, item.code): item.message
             for item in judge([PHOTO, copy, near, far, flat, flat2], Declared())}
    assert set(found) == {("a.jpg", "duplicate"), ("b.jpg", "duplicate"),
                          ("a.jpg", "near_duplicate"), ("b.jpg", "near_duplicate"),
                          ("c.jpg", "near_duplicate")}
    assert found[("c.jpg", "near_duplicate")].startswith("looks nearly identical to a.jpg, b.jpg")
    assert found[("a.jpg", "near_duplicate")].startswith("looks nearly identical to c.jpg ")


def test_empty_files_are_not_duplicates_of_each_other() -> None:
    empty = [FileFacts(name, sha256=b"\0" * 32, problem="empty") for name in ("x", "y")]
    assert {item.code for item in judge(empty, Declared())} == {"empty"}


def test_near_pairs_finds_what_comparing_all_pairs_finds() -> None:
    chooser = random.Random(18)
    hashes = [chooser.getrandbits(64) for _ in range(300)]
    hashes += [value ^ (1 << chooser.randrange(64)) ^ (1 << chooser.randrange(64))
               for value in hashes[:50]]
    for distance in (0, 3, 10):
        brute = sorted({(min(a, b), max(a, b)) for a in hashes for b in hashes
                        if a != b and (a ^ b).bit_count() <= distance})
        assert near_pairs(hashes, distance) == brute
    assert near_duplicates([], 10) == []


def test_exit_code() -> None:
    assert exit_code([]) == 0
    assert exit_code(judge_file(FileFacts("e", problem="empty"), Declared())) == 1
