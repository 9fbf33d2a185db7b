"""`ledger crawl` against a stand-in site (robots.txt, RSL document, licence server and
edge in one local HTTP server): the files and crawl.json it writes, and each refusal as
exit 2 with one line naming it. The real loop (Worker, `ledger serve`, anvil) is in
tests/edge/test_loop.py and tests/integration/service/test_demo.py."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import runpy
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from ledger.cli.crawl import MAX_ANSWER_BYTES, RSL_NS, token_id, usage_licence
from ledger.cli.main import main
from ledger.core.canonical import canonicalize
from ledger.core.rsl import REGISTER_TAG
from ledger.core.signing import verify_message
from ledger.keyfile import generate_key, load_key, write_key

FILES = {"/files/aa11": b"first photo", "/files/bb22": b"second photo"}


def _jwt(claims: dict[str, Any]) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJub25lIn0.{part}.sig"


@dataclass
class Site:
    """What the stand-in answers; tests change it before crawling."""

    url: str = ""
    robots: str = ""
    paths: list[str] = field(default_factory=lambda: list(FILES))
    rsl: str | None = None
    token_error: dict[str, tuple[int, str]] = field(default_factory=dict)  # path → (status, error)
    edge_refusal: dict[str, tuple[int, str]] = field(default_factory=dict)
    registered: list[dict[str, Any]] = field(default_factory=list)
    register_error: tuple[int, bytes] | None = None  # (status, body) instead of a client
    licences: list[str] = field(default_factory=list)
    answers: dict[str, bytes] = field(default_factory=dict)  # path → a body sent instead
    served: dict[str, bytes] = field(default_factory=lambda: dict(FILES))  # the edge's bytes
    lengths: dict[str, int | str | None] = field(default_factory=dict)  # → Content-Length
    asset_claim: bool = True  # tokens name the registered file's hash as ``asset``
    short: set[str] = field(default_factory=set)  # paths whose answers break off

    def document(self) -> str:
        contents = "".join(
            f'<content url="{self.url}{p}" server="{self.url}/olp"><license>'
            f'<permits type="usage">ai-train</permits></license></content>' for p in self.paths)
        return f'<rsl xmlns="{RSL_NS}">{contents}</rsl>'


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            # An answer that breaks off announces more than it sends, then closes.
            extra = 100 if self.path in site.short else 0
            self.send_header("Content-Length", str(len(body) + extra))
            self.end_headers()
            if extra:
                self.close_connection = True
            # The crawler hangs up on an answer it refuses by its announced length.
            with contextlib.suppress(ConnectionError):
                self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path in site.answers:
                self._send(200, site.answers[self.path])
            elif self.path == "/robots.txt":
                self._send(200, (site.robots or f"User-agent: *\nLicense: {site.url}/rsl.xml\n"
                                 ).encode())
            elif self.path == "/rsl.xml":
                self._send(200, (site.rsl if site.rsl is not None else site.document()).encode())
            elif self.path in site.edge_refusal:
                status, error = site.edge_refusal[self.path]
                self._send(status, b'{"error": "x"}', WWW_Authenticate=f'License error="{error}"')
            elif self.path.startswith("/files/") or "/" in self.path[1:]:
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("License "):
                    self._send(401, b"", WWW_Authenticate='License error="invalid_request"')
                    return
                jti = json.loads(base64.urlsafe_b64decode(auth.split(".")[1] + "=="))["jti"]
                self._serve(site.served.get(self.path, b"odd"), f"olp:{jti}:r1")
            else:
                self._send(404, b"not found")

        def _serve(self, body: bytes, event: str) -> None:
            """A licensed file, its Content-Length as the test says (None: none, the
            body ending when the connection closes)."""
            length = site.lengths.get(self.path, len(body))
            self.send_response(200)
            self.send_header("X-Usage-Event", event)
            if length == "chunked":  # the body is sent as it is: the test writes the chunks
                self.send_header("Transfer-Encoding", "chunked")
            elif length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.close_connection = True
            with contextlib.suppress(ConnectionError):  # the crawler stops at its cap
                self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path in site.answers:
                self._send(200, site.answers[self.path])
                if self.path == "/olp/register":
                    site.registered.append(json.loads(body))
                return
            if self.path == "/olp/register":
                site.registered.append(json.loads(body))
                if site.register_error is not None:
                    self._send(*site.register_error)
                    return
                self._send(201, b'{"client_id": "c1", "client_secret": "s1"}')
                return
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            site.licences.append(form["license"])
            path = form["resource"].removeprefix(site.url)
            if path in site.token_error:
                status, error = site.token_error[path]
                answer = {"error": error, "error_description": "not for you"}
                self._send(status, json.dumps(answer).encode())
                return
            registered = FILES.get(path, b"odd")
            claims = {"jti": "t" + path.rsplit("/", 1)[-1]}
            if site.asset_claim:
                claims["asset"] = "sha256:" + hashlib.sha256(registered).hexdigest()
            token = _jwt(claims)
            self._send(200, json.dumps({"access_token": token}).encode())

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    found = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def buyer_key(tmp_path: Path) -> Path:
    path = tmp_path / "buyer.key"
    write_key(path, generate_key("eth"))
    return path


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], buyer_key: Path, tmp_path: Path) -> Run:
    def go(site_url: str, *extra: str) -> tuple[int, str, str]:
        code = main(["crawl", site_url, "--key-file", str(buyer_key),
                     "--out", str(tmp_path / "out"), *extra])
        out, err = capsys.readouterr()
        return code, out, err
    return go


def _one_line_error(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ledger: error: "), err
    return lines[0]


def test_crawl_writes_each_file_and_the_log(site: Site, run: Run, tmp_path: Path) -> None:
    code, out, err = run(site.url)
    assert (code, err) == (0, "")
    out_dir = tmp_path / "out"
    assert {p.name: p.read_bytes() for p in out_dir.iterdir() if p.name != "crawl.json"} == {
        "aa11": b"first photo", "bb22": b"second photo"}
    log = json.loads((out_dir / "crawl.json").read_text())
    assert log["fetches"] == [
        {"url": site.url + "/files/aa11", "file": "aa11", "bytes": 11,
         "sha256": _sha256(b"first photo"), "tokenId": "taa11", "usageEvent": "olp:taa11:r1"},
        {"url": site.url + "/files/bb22", "file": "bb22", "bytes": 12,
         "sha256": _sha256(b"second photo"), "tokenId": "tbb22",
         "usageEvent": "olp:tbb22:r1"}]
    assert "token taa11  usage olp:taa11:r1" in out
    # One registration per licence server, signed by the buyer's wallet for that server.
    assert len(site.registered) == 1
    body = dict(site.registered[0])
    assert body["server"] == site.url + "/olp"
    signature = body.pop("signature")
    verify_message(REGISTER_TAG, canonicalize(body), signature,
                   load_key(tmp_path / "buyer.key").public_id)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _left_in(out_dir: Path) -> set[str]:
    """Every name in the output folder, temporary files included."""
    return {p.name for p in out_dir.iterdir()}


@pytest.mark.parametrize("length", [12, None])
def test_a_file_over_the_cap_is_refused_and_not_kept(site: Site, run: Run, tmp_path: Path,
                                                     length: int | None) -> None:
    # Told in advance (Content-Length) or found while streaming (no length: an endless
    # body is cut at the cap), nothing of it stays on disk; the file at the cap is kept.
    site.lengths["/files/bb22"] = length
    code, out, err = run(site.url, "--max-file-bytes", "11")
    assert code == 2
    assert "1 of 2 files refused (first at fetch: 200 the file is over 11 bytes" in (
        _one_line_error(err))
    assert f"{site.url}/files/bb22  refused at fetch: 200 the file is over 11 bytes" in out
    assert _left_in(tmp_path / "out") == {"aa11", "crawl.json"}
    log = json.loads((tmp_path / "out" / "crawl.json").read_text())["fetches"]
    assert log[1]["refused"] == {"step": "fetch", "status": 200,
                                 "reason": "the file is over 11 bytes"}
    # The edge metered the fetch before the crawler refused the file: the log keeps the
    # charge and its token, which is what the buyer disputes it with.
    assert (log[1]["usageEvent"], log[1]["tokenId"]) == ("olp:tbb22:r1", "tbb22")
    assert "the file is over 11 bytes (metered: usage olp:tbb22:r1, token tbb22)" in out


def test_an_endless_body_stops_at_the_cap(site: Site, run: Run, tmp_path: Path) -> None:
    site.served["/files/bb22"] = b"#" * (1 << 22)
    site.lengths["/files/bb22"] = None
    code, _, err = run(site.url, "--max-file-bytes", "1000")
    assert code == 2 and "first at fetch: 200 the file is over 1,000 bytes" in (
        _one_line_error(err))
    assert _left_in(tmp_path / "out") == {"aa11", "crawl.json"}


@pytest.mark.parametrize(("body", "length", "says"), [
    (None, 100, "the file broke off after 12 of 100 bytes"),
    (b"c\r\nsecond photo\r\n40\r\nonly part", "chunked", "the file broke off (IncompleteRead"),
], ids=["short of its length", "chunked"])
def test_a_file_that_breaks_off_is_refused(site: Site, run: Run, tmp_path: Path,
                                           body: bytes | None, length: int | str,
                                           says: str) -> None:
    if body is not None:
        site.served["/files/bb22"] = body
    site.lengths["/files/bb22"] = length
    code, out, _ = run(site.url)
    assert code == 2
    assert f"bb22  refused at fetch: 200 {says}" in out
    assert "(metered: usage olp:tbb22:r1, token tbb22)" in out
    assert _left_in(tmp_path / "out") == {"aa11", "crawl.json"}


def test_a_token_without_the_hash_skips_the_comparison(site: Site, run: Run,
                                                       tmp_path: Path) -> None:
    site.asset_claim = False
    site.served["/files/bb22"] = b"second photX"
    assert run(site.url)[0] == 0
    log = json.loads((tmp_path / "out" / "crawl.json").read_text())["fetches"]
    assert log[1]["sha256"] == _sha256(b"second photX")


def test_a_content_length_that_is_no_number_is_ignored(site: Site, run: Run,
                                                       tmp_path: Path) -> None:
    site.lengths["/files/bb22"] = "\u00b2"  # a digit to str.isdigit, none to int()
    assert run(site.url)[0] == 0
    assert (tmp_path / "out" / "bb22").read_bytes() == b"second photo"


def test_a_file_not_the_registered_one_is_refused(site: Site, run: Run,
                                                  tmp_path: Path) -> None:
    site.served["/files/bb22"] = b"second photX"
    code, out, err = run(site.url)
    assert code == 2
    reason = (f"the file's SHA-256 {_sha256(b'second photX')} is not the asset's "
              f"sha256:{_sha256(b'second photo')} its token names")
    assert f"bb22  refused at fetch: 200 {reason} (metered: usage olp:tbb22:r1" in out
    assert "first at fetch: 200 the file's SHA-256" in _one_line_error(err)
    assert _left_in(tmp_path / "out") == {"aa11", "crawl.json"}
    log = json.loads((tmp_path / "out" / "crawl.json").read_text())["fetches"]
    assert log[1]["usageEvent"] == "olp:tbb22:r1"


def test_the_example_crawler_runs_on_the_same_client(
        site: Site, buyer_key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    site.served["/files/bb22"] = b"second photX"
    monkeypatch.setattr(sys, "argv", ["crawler.py", site.url, "--key-file", str(buyer_key),
                                      "--out", str(tmp_path / "example")])
    runpy.run_path(str(Path(__file__).parents[2] / "examples" / "crawler.py"),
                   run_name="__main__")
    out = capsys.readouterr().out
    assert f"/files/aa11  11 bytes  sha256 {_sha256(b'first photo')}  usage olp:" in out
    assert "/files/bb22  refused at fetch: 200 the file's SHA-256" in out
    assert _left_in(tmp_path / "example") == {"aa11"}


def test_usage_asks_for_a_narrower_licence(site: Site, run: Run) -> None:
    assert run(site.url, "--usage", "ai-input")[0] == 0
    assert site.licences == [usage_licence(["ai-input"])] * 2
    assert 'type="usage">ai-input<' in site.licences[0]


@pytest.mark.parametrize(("where", "status", "error"), [
    ("token", 400, "invalid_grant"), ("token", 402, "payment_required"),
    ("edge", 401, "invalid_token"), ("edge", 402, "payment_required"),
    ("edge", 403, "insufficient_scope")])
def test_a_refusal_is_named_in_one_line(site: Site, run: Run, tmp_path: Path, where: str,
                                        status: int, error: str) -> None:
    target = site.token_error if where == "token" else site.edge_refusal
    target["/files/bb22"] = (status, error)
    code, out, err = run(site.url)
    line = _one_line_error(err)
    assert code == 2
    step = "token" if where == "token" else "fetch"
    assert f"1 of 2 files refused (first at {step}: {status} " in line and error in line
    assert f"{site.url}/files/bb22  refused at {step}: {status}" in out
    # The file fetched is kept, and the log names the refusal.
    log = json.loads((tmp_path / "out" / "crawl.json").read_text())["fetches"]
    assert log[0]["file"] == "aa11"
    assert log[1]["refused"]["status"] == status and error in log[1]["refused"]["reason"]
    assert "usageEvent" not in log[1]  # refused before anything was served: no charge


@pytest.mark.parametrize(("robots", "rsl", "message"), [
    ("User-agent: *\n", None, "robots.txt: 404 no License: line"),
    (None, "<rsl", "rsl: 200 not well-formed XML"),
    (None, f'<rsl xmlns="{RSL_NS}"/>', "the RSL document offers no file of"),
])
def test_a_site_without_a_licence_is_exit_2(site: Site, run: Run, robots: str | None,
                                             rsl: str | None, message: str) -> None:
    site.robots = robots or ""
    site.rsl = rsl
    code, _, err = run(site.url)
    assert code == 2 and message in _one_line_error(err)


def test_files_of_other_sites_are_not_fetched(site: Site, run: Run, tmp_path: Path) -> None:
    site.rsl = site.document().replace(f'url="{site.url}/files/bb22"',
                                       'url="http://elsewhere.example/files/bb22"')
    assert run(site.url)[0] == 0
    assert [f["file"] for f in json.loads((tmp_path / "out" / "crawl.json").read_text())[
        "fetches"]] == ["aa11"]


def test_a_site_cannot_name_a_path_outside_the_folder(site: Site, run: Run,
                                                      tmp_path: Path) -> None:
    site.paths = ["/files/..", "/files/crawl.json", "/x/aa11", "/files/aa11", "/files/.hidden"]
    assert run(site.url)[0] == 0
    names = [f["file"] for f in json.loads((tmp_path / "out" / "crawl.json").read_text())[
        "fetches"]]
    assert names[2] == "aa11" and len(set(names)) == 5
    assert all(n.startswith("file-") for i, n in enumerate(names) if i != 2)
    assert {p.name for p in (tmp_path / "out").iterdir()} == {*names, "crawl.json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["buyer.key", "out"]


@pytest.mark.parametrize(("path", "step"), [
    ("/robots.txt", "robots.txt"), ("/rsl.xml", "rsl"), ("/olp/register", "register")])
def test_an_oversized_answer_is_exit_2(site: Site, run: Run, path: str, step: str) -> None:
    site.answers[path] = b"#" * (MAX_ANSWER_BYTES + 1)
    code, _, err = run(site.url)
    assert code == 2
    assert _one_line_error(err) == (f"ledger: error: {step}: 200 the answer is over "
                                    f"{MAX_ANSWER_BYTES:,} bytes")


@pytest.mark.parametrize(("path", "says"), [
    ("/robots.txt", "robots.txt: 200"), ("/rsl.xml", "rsl: 200"),
    ("/olp/register", "register: 201")])
def test_an_answer_that_breaks_off_is_exit_2(site: Site, run: Run, path: str,
                                             says: str) -> None:
    """http.client hands over a body cut short of its Content-Length without a word;
    the crawler counts, and refuses it."""
    site.short.add(path)
    code, _, err = run(site.url)
    assert code == 2
    assert _one_line_error(err).startswith(f"ledger: error: {says} the answer broke off "
                                           "after ")


def test_a_token_answer_that_breaks_off_refuses_the_file(site: Site, run: Run) -> None:
    site.short.add("/olp/token")
    code, _, err = run(site.url)
    assert code == 2 and "first at token: 200 the answer broke off" in _one_line_error(err)


@pytest.mark.parametrize(("status", "body", "says"), [
    (429, b'{"error": {"code": "rate_limited", "message": "too many registrations"}}',
     "register: 429 rate_limited: too many registrations"),
    (400, b'{"error": "invalid_client_metadata", "error_description": "signature: bad"}',
     "register: 400 invalid_client_metadata: signature: bad"),
    (503, b"<html>Service Unavailable</html>", "register: 503 <html>Service Unavailable")])
def test_a_refused_registration_names_the_reason_in_one_line(
        site: Site, run: Run, status: int, body: bytes, says: str) -> None:
    """The licence server answers in RFC 7591's style or, for the service's limits, in
    the ledger's common error body; either way the line names the code and message."""
    site.register_error = (status, body)
    code, _, err = run(site.url)
    assert code == 2 and _one_line_error(err).startswith(f"ledger: error: {says}")


def test_an_answer_of_the_largest_size_is_read(site: Site, run: Run) -> None:
    robots = f"License: {site.url}/rsl.xml\n".encode()
    site.answers["/robots.txt"] = robots + b"#" * (MAX_ANSWER_BYTES - len(robots))
    assert run(site.url)[0] == 0


@pytest.mark.parametrize("answer", [b"not json", b"[]", b'{"client_id": 7}'])
def test_a_malformed_registration_answer_is_exit_2(site: Site, run: Run,
                                                    answer: bytes) -> None:
    site.answers["/olp/register"] = answer
    code, _, err = run(site.url)
    assert code == 2 and _one_line_error(err) == (
        "ledger: error: register: 200 the answer is no JSON object with client_id, "
        "client_secret")


def test_an_oversized_token_answer_refuses_the_file(site: Site, run: Run) -> None:
    site.answers["/olp/token"] = b" " * (MAX_ANSWER_BYTES + 1)
    code, _, err = run(site.url)
    assert code == 2 and "first at token: 200 the answer is over" in _one_line_error(err)


@pytest.mark.parametrize("server", ["file:///etc", "http://user@127.0.0.1/olp",
                                    "gopher://127.0.0.1/olp"])
def test_a_server_that_is_no_http_url_is_never_asked(site: Site, run: Run,
                                                      server: str) -> None:
    site.rsl = site.document().replace(f'server="{site.url}/olp"', f'server="{server}"')
    code, _, err = run(site.url)
    assert code == 2 and _one_line_error(err).startswith(
        f"ledger: error: register: 0 the RSL document's server {server!r} must be the "
        "licence server's http(s) URL")
    assert site.registered == []


def test_an_unreachable_site_is_exit_2(run: Run) -> None:
    code, _, err = run("http://127.0.0.1:9")
    assert code == 2 and "robots.txt: 0 unreachable" in _one_line_error(err)


def test_bad_options_are_exit_2(site: Site, run: Run, tmp_path: Path) -> None:
    code, _, err = run(site.url, "--usage", "everything")
    assert code == 2 and "unknown RSL usage 'everything'" in _one_line_error(err)
    code, _, err = run(site.url, "--max-file-bytes", "0")
    assert code == 2 and _one_line_error(err) == (
        "ledger: error: --max-file-bytes: must be at least 1")
    p256 = tmp_path / "p256.key"
    write_key(p256, generate_key("p256"))
    code = main(["crawl", site.url, "--key-file", str(p256)])
    assert code == 2
    assert site.registered == []


def test_token_id_of_garbage_is_empty() -> None:
    assert token_id("not a token") == ""
    assert token_id("a.!!!.c") == ""
    assert token_id(_jwt({"jti": "abc"})) == "abc"
