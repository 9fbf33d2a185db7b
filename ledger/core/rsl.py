"""RSL 1.0 (Really Simple Licensing) documents from ledger's licences and prices.

Pure: the table from our licence ids to RSL usage values, the payment an asset's price
model offers, the XML of a document (stdlib ElementTree), and the reading of the one
RSL element a client sends us, the ``<license>`` of an OLP token request. Names follow
the RSL 1.0 specification (namespace ``https://rslstandard.org/rsl``, media type
``application/rsl+xml``); docs/web-licensing.md has the tables and the sections cited.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ledger.core.royalty.terms import ETH_TOKEN, Price
from ledger.core.times import iso_utc
from ledger.errors import ValidationError

NAMESPACE = "https://rslstandard.org/rsl"
MEDIA_TYPE = "application/rsl+xml"

ALL, AI_ALL, AI_TRAIN, AI_INPUT, AI_INDEX, SEARCH = (
    "all", "ai-all", "ai-train", "ai-input", "ai-index", "search")
#: The RSL 1.0 usage values of ``<permits type="usage">``/``<prohibits type="usage">``.
USAGES = (ALL, AI_ALL, AI_TRAIN, AI_INPUT, AI_INDEX, SEARCH)
#: What each usage value includes: ``all`` every use, ``ai-all`` every AI use.
_INCLUDES: dict[str, frozenset[str]] = {
    ALL: frozenset(USAGES),
    AI_ALL: frozenset({AI_ALL, AI_TRAIN, AI_INPUT, AI_INDEX}),
    AI_TRAIN: frozenset({AI_TRAIN}),
    AI_INPUT: frozenset({AI_INPUT}),
    AI_INDEX: frozenset({AI_INDEX}),
    SEARCH: frozenset({SEARCH}),
}
_AI_USES = (AI_TRAIN, AI_INPUT, AI_INDEX)

#: Our licence ids (docs/manifest.md ``assets[].licenses``) and the RSL usage each grants.
#: An id not listed is offered through no RSL document (its asset shows only its other
#: licences, or is left out when none is listed).
LICENCE_USAGES: dict[str, tuple[str, ...]] = {
    "non-exclusive-training": (AI_TRAIN,),
    "exclusive-training": (AI_TRAIN,),
    "training": (AI_TRAIN,),
    "research": (AI_TRAIN,),
    "inference": (AI_INPUT,),
    "index": (AI_INDEX,),
    "exclusive": (AI_ALL,),
    "exclusive-everything": (ALL,),
    "cc-by-4.0": (ALL,),
    "cc-by-sa-4.0": (ALL,),
    "cc0-1.0": (ALL,),
    **{usage: (usage,) for usage in USAGES},
}

#: The domain tag a buyer's wallet signs an OLP client registration under (EIP-712
#: ``LedgerMessage``): version 2, whose body names the licence server it is for
#: (``server``). Version 1, tag ``olp-register``, named none and is retired: a body
#: signed for one server was good at every other (docs/web-licensing.md).
REGISTER_TAG = "olp-register-v2"
#: A licence server URL as `audience` accepts it: http(s), printable ASCII, an
#: authority without user info, a path, no query or fragment.
_SERVER_URL = re.compile(r"(?i:https?)://[^\s/?#@]+(/[^\s?#]*)?")
_MAX_SERVER_URL = 2048

#: The payment type of a per-use price: one use is one licensed fetch (RSL ``crawl``).
PER_USE_PAYMENT = "crawl"
_WEI_PER_ETH = Decimal(10) ** 18
_MAX_LICENSE_XML = 16 * 1024


def usages_of(licence_ids: Iterable[str]) -> frozenset[str]:
    """Every RSL usage the licences grant, expanded (``ai-all`` includes ``ai-train``)."""
    return frozenset(use for lid in licence_ids for usage in LICENCE_USAGES.get(lid, ())
                     for use in _INCLUDES[usage])


def covered(requested: Iterable[str], granted: frozenset[str]) -> bool:
    """Whether every requested usage (expanded) is among the granted ones."""
    return all(_INCLUDES[usage] <= granted for usage in requested)


def licence_for(requested: Sequence[str], licence_ids: Sequence[str]) -> str | None:
    """The first of an asset's licence ids that alone covers the requested usages."""
    return next((lid for lid in licence_ids if covered(requested, usages_of([lid]))), None)


@dataclass(frozen=True)
class Payment:
    """``<payment type>`` with one ``<amount currency>``, or free (amount None)."""

    type: str
    amount: str | None = None
    currency: str | None = None


def payment_of(price: Price | None, chain_id: int) -> Payment:
    """The payment of one use at ``price``: ETH prices as decimal ether (exact, from
    wei) in currency ``ETH``; an ERC-20 price in the token's base units, its currency
    the CAIP-19 id ``eip155:<chain>/erc20:<address>`` (RSL names ISO 4217 codes, which
    have none for tokens). No price: free."""
    if price is None:
        return Payment("free")
    if price.token == ETH_TOKEN:
        ether = Decimal(price.per_unit) / _WEI_PER_ETH
        return Payment(PER_USE_PAYMENT, format(ether.normalize(), "f"), "ETH")
    return Payment(PER_USE_PAYMENT, str(price.per_unit),
                   f"eip155:{chain_id}/erc20:{price.token.lower()}")


@dataclass(frozen=True)
class ContentEntry:
    """One ``<content>`` of a document: where the asset is, what it permits, what it
    costs, who owns it, its terms page and when its licence last changed (ms)."""

    url: str
    usages: frozenset[str]
    payment: Payment
    copyright: str
    terms: str
    lastmod_ms: int


def document(entries: Iterable[ContentEntry], server: str) -> bytes:
    """The RSL document (UTF-8 XML) of ``entries``, each managed by licence server
    ``server`` (so a client must obtain a licence, even a free one)."""
    ET.register_namespace("", NAMESPACE)
    root = ET.Element(_q("rsl"))
    for entry in entries:
        _content(root, entry, server)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _content(root: ET.Element, entry: ContentEntry, server: str) -> None:
    content = ET.SubElement(root, _q("content"), {
        "url": entry.url, "server": server, "lastmod": rfc3339(entry.lastmod_ms)})
    licence = ET.SubElement(content, _q("license"))
    permitted = _narrowest(entry.usages)
    ET.SubElement(licence, _q("permits"), {"type": "usage"}).text = ",".join(permitted)
    prohibited = [use for use in _AI_USES if use not in entry.usages]
    if prohibited:
        ET.SubElement(licence, _q("prohibits"), {"type": "usage"}).text = ",".join(prohibited)
    payment = ET.SubElement(licence, _q("payment"), {"type": entry.payment.type})
    if entry.payment.amount is not None:
        assert entry.payment.currency is not None
        ET.SubElement(payment, _q("amount"),
                      {"currency": entry.payment.currency}).text = entry.payment.amount
    ET.SubElement(content, _q("copyright")).text = entry.copyright
    ET.SubElement(content, _q("terms")).text = entry.terms


def _narrowest(usages: frozenset[str]) -> list[str]:
    """The fewest usage values that say ``usages``: ``all`` or ``ai-all`` when whole."""
    for whole in (ALL, AI_ALL):
        if _INCLUDES[whole] <= usages:
            rest = [u for u in USAGES if u in usages and u not in _INCLUDES[whole]]
            return [whole, *rest]
    return [u for u in USAGES if u in usages]


def audience(server: str, field: str = "server") -> str:
    """``server`` (a licence server URL, as an RSL ``server`` attribute publishes it)
    normalised for comparison: its scheme and authority in ASCII lower case, every ``/``
    at the end of its path removed; nothing else changes. ValidationError naming
    ``field`` for anything but an http(s) URL of printable ASCII up to 2048 characters
    with no user info, query or fragment."""
    if (len(server) > _MAX_SERVER_URL or not (server.isascii() and server.isprintable())
            or not _SERVER_URL.fullmatch(server)):
        raise ValidationError("must be the licence server's http(s) URL (printable ASCII, "
                              "no user info, query or fragment)", field=field)
    scheme, _, rest = server.partition("://")
    authority, slash, path = rest.partition("/")
    # ASCII only (checked above), so lower() is exactly A-Z to a-z.
    return f"{scheme.lower()}://{authority.lower()}{(slash + path).rstrip('/')}"


def rfc3339(ms: int) -> str:
    """A time in ms since the epoch as RFC 3339 UTC, to the second."""
    return iso_utc(ms // 1000)


def robots_line(url: str) -> str:
    """The ``robots.txt`` line that points crawlers at an RSL document."""
    return f"License: {url}"


def requested_usages(license_xml: str, field: str = "license") -> tuple[str, ...]:
    """The usages a client's ``<license>`` element permits (OLP ``rsl`` grant).

    Refuses (ValidationError naming ``field``) more than 16 KiB, a DTD or entity (no
    expansion attacks), malformed XML, another root or namespace, and a licence that
    permits no known usage value."""
    if len(license_xml) > _MAX_LICENSE_XML:
        raise ValidationError("is over 16 KiB", field=field)
    if "<!" in license_xml:
        raise ValidationError("may not hold a DTD, entity or CDATA section", field=field)
    try:
        root = ET.fromstring(license_xml)
    except ET.ParseError as exc:
        raise ValidationError(f"is not well-formed XML: {exc}", field=field) from None
    if root.tag != _q("license"):
        raise ValidationError(f"must be an RSL <license> element in {NAMESPACE}", field=field)
    values: list[str] = []
    for permits in root.findall(_q("permits")):
        if permits.get("type") == "usage":
            values += [v.strip() for v in (permits.text or "").split(",") if v.strip()]
    unknown = [v for v in values if v not in USAGES]
    if unknown:
        raise ValidationError(f"permits unknown usage {unknown[0]!r}", field=field)
    if not values:
        raise ValidationError('permits no usage (<permits type="usage">)', field=field)
    return tuple(dict.fromkeys(values))


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"
