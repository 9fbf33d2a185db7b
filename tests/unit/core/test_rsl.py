"""RSL documents: the licence table, payments, the XML against the schema written from
the specification (and the specification's own examples against that schema), and the
``<license>`` a client sends, with its attacks."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from lxml import etree

from ledger.core.royalty.terms import ETH_TOKEN, Price
from ledger.core.rsl import (
    NAMESPACE,
    ContentEntry,
    Payment,
    covered,
    document,
    licence_for,
    payment_of,
    requested_usages,
    robots_line,
    usages_of,
)
from ledger.errors import ValidationError

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = etree.XMLSchema(etree.parse(str(ROOT / "docs" / "rsl" / "rsl-1.0.xsd")))
EXAMPLES = sorted((Path(__file__).parent / "rsl_examples").glob("*.xml"))
TOKEN = "0x" + "ab" * 20
LICENCE = '<license xmlns="{}"><permits type="usage">{}</permits></license>'


FREE = Payment("free")


def _entry(usages: frozenset[str], payment: Payment = FREE) -> ContentEntry:
    return ContentEntry("https://cdn.example/a.png", usages, payment, "creator:a",
                        "https://ledger.example/terms", 1_700_000_000_123)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_the_specifications_examples_satisfy_the_schema(example: Path) -> None:
    SCHEMA.assertValid(etree.parse(str(example)))


def test_the_schema_refuses_what_the_specification_forbids() -> None:
    for bad in ('<rsl xmlns="{ns}"/>',  # no content
                '<rsl xmlns="{ns}"><content/></rsl>',  # no url
                '<rsl xmlns="{ns}"><content url="/"><license><permits>all</permits>'
                '</license></content></rsl>',  # permits without type
                '<rsl xmlns="{ns}"><content url="/" lastmod="yesterday"/></rsl>'):
        assert not SCHEMA.validate(etree.fromstring(bad.format(ns=NAMESPACE).encode()))


def test_licence_ids_map_to_usages_and_wholes_expand() -> None:
    assert usages_of(["non-exclusive-training"]) == {"ai-train"}
    assert usages_of(["exclusive"]) == {"ai-all", "ai-train", "ai-input", "ai-index"}
    assert "search" in usages_of(["cc-by-4.0"])
    assert usages_of(["house-licence-7"]) == frozenset()
    assert covered(["ai-train"], usages_of(["ai-all"]))
    assert not covered(["ai-all"], usages_of(["training"]))
    assert licence_for(["ai-train"], ["house", "training", "cc-by-4.0"]) == "training"
    assert licence_for(["search"], ["training"]) is None


def test_payments_are_exact_ether_or_token_base_units() -> None:
    assert payment_of(None, 1) == Payment("free")
    assert payment_of(Price(ETH_TOKEN, 1, "sample"), 1) == Payment(
        "crawl", "0.000000000000000001", "ETH")
    assert payment_of(Price(ETH_TOKEN, 3 * 10**18, "sample"), 1).amount == "3"
    assert payment_of(Price(TOKEN, 250, "sample"), 8453) == Payment(
        "crawl", "250", f"eip155:8453/erc20:{TOKEN}")


@pytest.mark.parametrize("usages", [
    frozenset({"ai-train"}), usages_of(["exclusive"]), usages_of(["cc-by-4.0"]),
    frozenset({"ai-input", "search"})])
def test_our_documents_satisfy_the_schema_and_read_back(usages: frozenset[str]) -> None:
    xml = document([_entry(usages, Payment("crawl", "0.001", "ETH"))], "https://l.example/olp")
    SCHEMA.assertValid(etree.fromstring(xml))
    content = ET.fromstring(xml).find(f"{{{NAMESPACE}}}content")
    assert content is not None and content.get("lastmod") == "2023-11-14T22:13:20Z"
    licence = content.find(f"{{{NAMESPACE}}}license")
    assert licence is not None
    assert usages_of(requested_usages(ET.tostring(licence, encoding="unicode"))) == usages


def test_a_document_of_nothing_offered_is_valid_xml_but_names_no_content() -> None:
    xml = document([], "https://l.example/olp")
    assert ET.fromstring(xml).find(f"{{{NAMESPACE}}}content") is None


def test_the_robots_line() -> None:
    assert robots_line("https://l.example/rsl.xml") == "License: https://l.example/rsl.xml"


@pytest.mark.parametrize(("text", "says"), [
    ("x" * 17_000, "16 KiB"),
    ('<!DOCTYPE l [<!ENTITY a "b">]><license/>', "DTD"),
    ("<license", "well-formed"),
    ('<license><permits type="usage">ai-train</permits></license>', "RSL <license>"),
    (LICENCE.format(NAMESPACE, "ai-train,ai-dance"), "ai-dance"),
    (LICENCE.format(NAMESPACE, " , "), "permits no usage"),
    (f'<license xmlns="{NAMESPACE}"><permits type="geo">US</permits></license>',
     "permits no usage"),
])
def test_a_clients_license_is_refused_when_malformed(text: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says) as caught:
        requested_usages(text)
    assert caught.value.field == "license"


def test_a_clients_license_lists_each_usage_once() -> None:
    assert requested_usages(LICENCE.format(NAMESPACE, "ai-train, ai-input,ai-train")) == (
        "ai-train", "ai-input")
