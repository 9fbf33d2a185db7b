"""``ledger crawl``: a licensed crawler (RSL 1.0 + OLP + crawler authorization), and the
client it runs on, which examples/crawler.py and `ledger demo` use too:

1. read the site's ``robots.txt`` for its ``License:`` line (the RSL document);
2. read the RSL document: each ``<content url server>`` and its ``<license>``;
3. register with the licence server, proving the buyer wallet by its signature over
   a body that names that server (so no other server can replay it there);
4. get a licence token for each file (OLP's ``rsl`` grant);
5. fetch the file with ``Authorization: License <token>``; the edge meters the fetch
   and names its usage event in ``X-Usage-Event``. The file streams to its place on
   disk, up to a size cap, and is kept only when whole and (when the token names the
   asset's content hash) the registered file.

Standard library only (the key file is read in the handler): ``ledger --help`` stays
light.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import http.client
import io
import json
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ledger.cli.common import EXIT_OK, Commands
from ledger.core.canonical import canonicalize
from ledger.errors import LedgerError
from ledger.files import replacing

if TYPE_CHECKING:
    from ledger.core.signing import EthSigningKey

RSL_NS = "https://rslstandard.org/rsl"
RSL = "{" + RSL_NS + "}"
TIMEOUT_S = 30
#: The most the crawler reads of a site's or licence server's answer (robots.txt, the
#: RSL document, a JSON answer, an error body): a hostile site cannot fill its memory.
MAX_ANSWER_BYTES = 1 << 20
#: What a connection that fails mid-answer raises (the disk's errors are not among them).
_BROKEN = (http.client.HTTPException, ConnectionError, TimeoutError, ssl.SSLError)
#: The default cap on one licensed file (``--max-file-bytes``): 1 GiB.
MAX_FILE_BYTES = 1 << 30
_CHUNK = 1 << 16
LOG_NAME = "crawl.json"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}")


class Refused(LedgerError):
    """A step said no: its ``status`` (0 when the server was unreachable) and the
    server's reason (an OAuth error, the edge's ``WWW-Authenticate`` challenge), or the
    crawler's own reason for refusing what it was served. A file the edge served and
    the crawler refused was metered all the same: ``usage_event`` and ``token_id`` then
    name the charge, for the buyer to dispute."""

    def __init__(self, step: str, status: int, reason: str, *, usage_event: str = "",
                 token_id: str = "") -> None:
        metered = f" (metered: usage {usage_event}, token {token_id})" if usage_event else ""
        super().__init__(f"{step}: {status} {reason}{metered}")
        self.step, self.status, self.reason = step, status, reason
        self.usage_event, self.token_id = usage_event, token_id


@dataclass(frozen=True)
class Offer:
    """One ``<content>`` of an RSL document."""

    url: str
    server: str
    license_xml: str


class Fetched(NamedTuple):
    """A file fetched under a licence token: its name in the output folder, its size
    and SHA-256 (hex) as written, the usage event the edge metered, and the token's id
    (``jti``)."""

    file: str
    size: int
    sha256: str
    usage_event: str
    token_id: str


def _reason(err: urllib.error.HTTPError) -> str:
    """What an error answer says: the edge's challenge, an OAuth error (``error``,
    ``error_description``), the ledger's common error (``{"error": {"code",
    "message"}}``), or the start of whatever else came."""
    challenge = err.headers.get("WWW-Authenticate")
    text = err.read(MAX_ANSWER_BYTES).decode(errors="replace")
    if challenge:
        return str(challenge)
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not (isinstance(answer, dict) and "error" in answer):
        return " ".join(text.split())[:300] or str(err.reason)
    error = answer["error"]
    if isinstance(error, dict):
        code, message = error.get("code", ""), error.get("message", "")
    else:
        code, message = error, answer.get("error_description", "")
    return f"{code}: {message}".rstrip(": ")


@contextmanager
def _opened(step: str, request: urllib.request.Request | str
            ) -> Iterator[http.client.HTTPResponse]:
    """The answer to ``request``, open for the block; Refused (at ``step``) when it is an
    error status, with the server's reason, or when the server cannot be reached.
    Errors raised in the block pass through as they are (a full disk is no refusal)."""
    try:
        resp = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        raise Refused(step, err.code, _reason(err)) from None
    except (urllib.error.URLError, *_BROKEN) as err:
        reason = getattr(err, "reason", err)
        raise Refused(step, 0, f"unreachable ({reason})") from None
    with resp:
        yield resp


def _call(step: str, request: urllib.request.Request | str,
          limit: int = MAX_ANSWER_BYTES) -> tuple[bytes, dict[str, str]]:
    """The answer's body and headers; Refused when it is an error, unreachable, longer
    than ``limit`` bytes, or shorter than the length it announced."""
    with _opened(step, request) as resp:
        body = io.BytesIO()
        _read_body(step, resp, limit, "the answer", body.write)
        return body.getvalue(), dict(resp.headers)


def _read_body(step: str, resp: http.client.HTTPResponse, limit: int, what: str,
               take: Callable[[bytes], object]) -> int:
    """Feed the answer's body to ``take`` as it arrives: its size. Refused (at ``step``,
    naming ``what``) past ``limit`` bytes, before reading when the answer announces more,
    or short of the announced length: http.client stops at that length, and a read that
    meets the end of the connection first returns what came without a word."""
    # http.client's reading of Content-Length (None when absent, invalid or chunked).
    expected = resp.length
    if expected is not None and expected > limit:
        raise Refused(step, resp.status, f"{what} is over {limit:,} bytes")
    size = 0
    try:
        while chunk := resp.read(min(_CHUNK, limit + 1 - size)):
            size += len(chunk)
            if size > limit:
                raise Refused(step, resp.status, f"{what} is over {limit:,} bytes")
            take(chunk)
    except _BROKEN as err:
        raise Refused(step, resp.status, f"{what} broke off ({err!r})") from None
    if expected is not None and size != expected:
        raise Refused(step, resp.status, f"{what} broke off after {size:,} of {expected:,} bytes")
    return size


def _strings(step: str, body: bytes, *names: str) -> list[str]:
    """Members ``names`` of a JSON object answer, each a string; Refused otherwise."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not (isinstance(answer, dict) and all(isinstance(answer.get(n), str) for n in names)):
        raise Refused(step, 200, f"the answer is no JSON object with {', '.join(names)}")
    return [answer[n] for n in names]


def licence_document(site: str) -> str:
    """Step 1: the RSL document's URL from ``robots.txt``."""
    text = _call("robots.txt", site.rstrip("/") + "/robots.txt")[0].decode(errors="replace")
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "license":
            return value.strip()
    raise Refused("robots.txt", 404, "no License: line")


def offers(rsl_url: str) -> list[Offer]:
    """Step 2: every content entry of the RSL document."""
    try:
        root = ET.fromstring(_call("rsl", rsl_url)[0])
    except ET.ParseError as exc:
        raise Refused("rsl", 200, f"not well-formed XML ({exc})") from None
    found = []
    for content in root.iter(RSL + "content"):
        licence = content.find(RSL + "license")
        if licence is not None and "url" in content.attrib and "server" in content.attrib:
            found.append(Offer(content.attrib["url"], content.attrib["server"].rstrip("/"),
                               ET.tostring(licence, encoding="unicode")))
    return found


def register(server: str, key: EthSigningKey, name: str) -> tuple[str, str]:
    """Step 3: a client of ``server`` bound to the key's wallet; (id, secret). The body
    names ``server`` under the signature, so no other server can use it. A ``server``
    that is no http(s) URL (``file:``, user info, a query) is refused unasked."""
    from ledger.core.rsl import REGISTER_TAG, audience

    try:
        audience(server)
    except LedgerError as exc:
        raise Refused("register", 0, f"the RSL document's server {server[:200]!r} "
                      f"{exc.message}") from None
    wallet = key.public_id.removeprefix("eth:")
    body: dict[str, Any] = {"wallet": wallet, "name": name,
                            "issuedAt": int(time.time() * 1000), "server": server}
    body["signature"] = key.sign_message(REGISTER_TAG, canonicalize(body))
    request = urllib.request.Request(server + "/register", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    client_id, secret = _strings("register", _call("register", request)[0], "client_id",
                                 "client_secret")
    return client_id, secret


def usage_licence(usages: list[str]) -> str:
    """An RSL ``<license>`` asking for ``usages`` only (e.g. ``ai-train``)."""
    licence = ET.Element(RSL + "license")
    ET.SubElement(licence, RSL + "permits", {"type": "usage"}).text = ",".join(usages)
    ET.register_namespace("", RSL_NS)
    return ET.tostring(licence, encoding="unicode")


def licence_token(server: str, client: tuple[str, str], offer: Offer,
                  license_xml: str | None = None) -> str:
    """Step 4: a licence token for one file, for the offer's licence (or
    ``license_xml``, a narrower one)."""
    form = urllib.parse.urlencode({"grant_type": "rsl", "resource": offer.url,
                                   "license": license_xml or offer.license_xml}).encode()
    basic = base64.b64encode(":".join(map(urllib.parse.quote, client)).encode()).decode()
    request = urllib.request.Request(server + "/token", data=form, headers={
        "Authorization": "Basic " + basic,
        "Content-Type": "application/x-www-form-urlencoded"})
    return _strings("token", _call("token", request)[0], "access_token")[0]


def fetch(url: str, token: str, target: Path, max_bytes: int = MAX_FILE_BYTES) -> Fetched:
    """Step 5: the file streamed into ``target`` (a new name beside it, renamed over it
    once whole), and the usage event the edge metered for it. Refused, with nothing
    left at ``target``, when the file is over ``max_bytes``, ends before the length the
    edge announced, or is not the content hash (``sha256:…``) the token names as its
    ``asset``; the refusal names the usage event the edge metered all the same."""
    request = urllib.request.Request(url, headers={"Authorization": "License " + token})
    with _opened("fetch", request) as resp:
        event = resp.headers.get("X-Usage-Event", "")
        try:
            with replacing(target) as handle:
                hasher = hashlib.sha256()

                def keep(chunk: bytes) -> None:
                    hasher.update(chunk)
                    handle.write(chunk)

                size = _read_body("fetch", resp, max_bytes, "the file", keep)
                digest = hasher.hexdigest()
                _check_hash(resp.status, digest, _claims(token).get("asset"))
        except Refused as refused:
            raise Refused(refused.step, refused.status, refused.reason,
                          usage_event=event, token_id=token_id(token)) from None
    return Fetched(target.name, size, digest, event, token_id(token))


def _check_hash(status: int, digest: str, named: object) -> None:
    """Refused when the token names the asset's content hash and the file is not it."""
    if isinstance(named, str) and named.startswith("sha256:") and named != "sha256:" + digest:
        raise Refused("fetch", status, f"the file's SHA-256 {digest} is not the asset's "
                      f"{named[:71]} its token names")


def _claims(token: str) -> dict[str, Any]:
    """A licence token's claims, read without checking it (for the log and the hash
    check only: the edge and the licence server are the ones that check tokens)."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_id(token: str) -> str:
    """The ``jti`` of a licence token, read without checking it (for the log only)."""
    return str(_claims(token).get("jti", ""))


def crawl(site: str, key: EthSigningKey, name: str = "ledger-crawl",
          license_xml: str | None = None, *, out: Path,
          max_file_bytes: int = MAX_FILE_BYTES) -> dict[str, Fetched | Refused]:
    """Every file of ``site`` its RSL document offers: fetched into the folder ``out``
    (see `file_name`), or the refusal that stopped it. A refusal that stops them all
    (robots.txt, the RSL document, a registration) is raised."""
    results: dict[str, Fetched | Refused] = {}
    clients: dict[str, tuple[str, str]] = {}
    taken: set[str] = set()
    for offer in offers(licence_document(site)):
        if not offer.url.startswith(site.rstrip("/") + "/"):
            continue
        try:
            if offer.server not in clients:
                clients[offer.server] = register(offer.server, key, name)
            token = licence_token(offer.server, clients[offer.server], offer, license_xml)
            out.mkdir(parents=True, exist_ok=True)
            fetched = fetch(offer.url, token, out / file_name(offer.url, taken),
                            max_file_bytes)
            taken.add(fetched.file)
            results[offer.url] = fetched
        except Refused as refused:
            if refused.step == "register":
                raise
            results[offer.url] = refused
    return results


def add_crawl_command(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``crawl``."""
    command = commands.add_parser(
        "crawl", help="fetch a site's licensed files as a buyer (RSL, OLP tokens, the edge)",
        description="Read SITE/robots.txt for its RSL document, register with each licence "
        "server it names (signed by the buyer's wallet), get a licence token per file, "
        "fetch it through the edge, and write the files and crawl.json (tokens, fetches, "
        "usage event ids) to --out. Exits 2 if any file was refused, naming the first.")
    command.add_argument("site", metavar="SITE", help="the site's base URL (https://…)")
    command.add_argument("--key-file", type=Path, required=True,
                         help="the buyer's Ethereum key (ledger keygen --type eth): its "
                         "wallet holds the deposit that pays for each use")
    command.add_argument("--usage", action="append", metavar="USAGE",
                         help="ask only for this RSL usage (ai-train, ai-input, ai-index, "
                         "search, ai-all, all; repeatable; default: each file's licence "
                         "as offered)")
    command.add_argument("--out", type=Path, default=Path("crawl"),
                         help="the folder for the files and crawl.json (default ./crawl)")
    command.add_argument("--name", default="ledger-crawl",
                         help="the client name to register under")
    command.add_argument("--max-file-bytes", type=int, default=MAX_FILE_BYTES, metavar="N",
                         help="refuse a file larger than N bytes, keeping nothing of it "
                         "(default 1 GiB)")
    command.set_defaults(handler=cmd_crawl)


def cmd_crawl(args: argparse.Namespace) -> int:
    """Crawl ``args.site``; one line per file, exit 2 if any was refused."""
    from ledger.core.rsl import USAGES
    from ledger.core.signing import EthSigningKey
    from ledger.keyfile import load_key

    unknown = [u for u in args.usage or [] if u not in USAGES]
    if unknown:
        raise LedgerError(f"--usage: unknown RSL usage {unknown[0]!r}", field="usage")
    if args.max_file_bytes < 1:
        raise LedgerError("must be at least 1", field="--max-file-bytes")
    key = load_key(args.key_file)
    if not isinstance(key, EthSigningKey):
        raise LedgerError("--key-file must hold an Ethereum key: the buyer's wallet",
                          field="key_file")
    licence = usage_licence(args.usage) if args.usage else None
    results = crawl(args.site, key, args.name, licence, out=args.out,
                    max_file_bytes=args.max_file_bytes)
    if not results:
        raise LedgerError(f"the RSL document offers no file of {args.site}")
    write_results(args.out, results)
    refused = [r for r in results.values() if isinstance(r, Refused)]
    if refused:
        raise LedgerError(f"{len(refused)} of {len(results)} files refused (first at "
                          f"{refused[0]}); log in {args.out / LOG_NAME}")
    return EXIT_OK


def write_results(out: Path, results: dict[str, Fetched | Refused]) -> None:
    """The log of ``results`` (whose files `crawl` wrote into ``out``) as
    ``out/crawl.json``, and one line per file on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    log: list[dict[str, Any]] = []
    for url, result in results.items():
        if isinstance(result, Refused):
            print(f"{url}  refused at {result}")
            entry: dict[str, Any] = {"url": url, "refused": {
                "step": result.step, "status": result.status, "reason": result.reason}}
            if result.usage_event:
                entry |= {"tokenId": result.token_id, "usageEvent": result.usage_event}
            log.append(entry)
            continue
        print(f"{url}  {result.size:,} bytes  token {result.token_id}  "
              f"usage {result.usage_event}")
        log.append({"url": url, "file": result.file, "bytes": result.size,
                    "sha256": result.sha256, "tokenId": result.token_id,
                    "usageEvent": result.usage_event})
    (out / LOG_NAME).write_text(json.dumps({"fetches": log}, indent=2) + "\n")


def file_name(url: str, taken: set[str]) -> str:
    """The URL's last path segment when it is a plain file name not `taken`, else a
    digest of the URL: nothing a site answers can name a path outside ``out``."""
    last = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
    if _SAFE_NAME.fullmatch(last) and last != LOG_NAME and last not in taken:
        return last
    return "file-" + hashlib.sha256(url.encode()).hexdigest()[:32]
