"""``ledger licence``, ``ledger takedown`` and ``ledger status FILE`` without a service:
time options, bad input ending as one line and exit 2 before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.cli.licence import describe_status, parse_time
from ledger.cli.main import main
from ledger.errors import ValidationError
from ledger.keyfile import generate_key, write_key

NOW = 1_800_000_000_000


@pytest.mark.parametrize(("text", "want"), [
    ("now", NOW),
    ("1802592000000", 1_802_592_000_000),
    ("+30d", NOW + 30 * 86_400_000),
    ("+12h", NOW + 12 * 3_600_000),
    ("+90m", NOW + 90 * 60_000),
    ("+45s", NOW + 45_000),
    ("2027-01-15T08:00:00Z", 1_800_000_000_000),
    ("2027-01-15T09:00:00+01:00", 1_800_000_000_000),
])
def test_times_are_read_in_every_spelling(text: str, want: int) -> None:
    assert parse_time(text, NOW, "--at") == want


@pytest.mark.parametrize("text", ["tomorrow", "+3w", "2027-01-15T08:00:00", "-5d", "1e12",
                                  "+", "\uff11\uff12"])
def test_a_bad_time_names_the_option(text: str) -> None:
    with pytest.raises(ValidationError) as bad:
        parse_time(text, NOW, "--effective-at")
    assert bad.value.field == "--effective-at"


def test_bad_input_is_one_line_and_exit_2_before_any_request(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "k.pem"
    write_key(key, generate_key("p256"))
    # Nothing listens on port 9: a request would fail with another message.
    url = "http://127.0.0.1:9"
    assert main(["licence", "revoke", "0x" + "ab" * 32, "--effective-at", "soon",
                 "--key", str(key), "--url", url]) == 2
    assert capsys.readouterr().err == (
        "ledger: error: --effective-at: must be now, milliseconds, an ISO 8601 UTC time "
        "(2027-01-31T12:00:00Z) or +N followed by s, m, h or d\n")
    assert main(["licence", "amend", "0x" + "ab" * 32, "--effective-at", "now",
                 "--terms", "{not json", "--key", str(key), "--url", url]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["licence", "revoke", "0x" + "ab" * 32, "--effective-at", "now",
                 "--key", str(tmp_path / "missing.pem"), "--url", url]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_file_nobody_registered_is_said_so() -> None:
    assert describe_status("x.jpg", {"sha256": "ab" * 32, "registered": False,
                                     "registrations": []}) == [
        f"x.jpg  sha256:{'ab' * 32}", "  not registered with this service"]
    status = {"state": "notice", "since": 1, "until": NOW, "buyer": None, "statement": "0x",
              "noticeUntil": NOW, "disputed": True}
    lines = describe_status("x.jpg", {"sha256": "ab" * 32, "registered": True,
                                      "registrations": [{"creatorId": "creator:a",
                                                         "assetId": "asset:x",
                                                         "manifestDigest": "0xm",
                                                         "licenceStatus": status}]})
    assert lines[1] == ("  creator:a: asset:x of 0xm: licensable, notice running until "
                        "2027-01-15T08:00:00.000Z (a takedown case is open)")
