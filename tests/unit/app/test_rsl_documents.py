"""RSL documents from anchored assets and their lifecycle: each asset's content URL,
licence and payment, and revoked, withdrawn or taken-down assets leaving the documents
at their effective millisecond (T-1 s, T, T+1 s)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lxml import etree

from ledger.core.rsl import NAMESPACE
from tests.unit.app.licensing_world import BASE, CONFIRMED_AT, NOTICE_MS, LicensingWorld
from tests.unit.core.test_rsl import SCHEMA

T = 1_800_000_000_000
NS = {"r": NAMESPACE}
A0, A1 = "https://cdn.example/a0.png", "https://cdn.example/by-hash/" + "1b" * 32


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[LicensingWorld]:
    made = await LicensingWorld.open(tmp_path)
    yield made
    await made.engine.dispose()


async def _urls(world: LicensingWorld, at: int) -> list[str]:
    xml = await world.publisher.document(at)
    SCHEMA.assertValid(etree.fromstring(xml))
    return [c.get("url", "") for c in ET.fromstring(xml).findall("r:content", NS)]


async def test_the_marketplace_lists_offered_assets_with_their_terms(
        world: LicensingWorld) -> None:
    xml = await world.publisher.document(T)
    contents = ET.fromstring(xml).findall("r:content", NS)
    # asset:a-2's licence maps to no RSL usage: left out.
    assert [c.get("url") for c in contents] == [A0, A1]
    first, second = contents
    assert first.get("server") == f"{BASE}/olp"
    assert first.findtext("r:license/r:permits", namespaces=NS) == "ai-train"
    assert first.findtext("r:license/r:prohibits", namespaces=NS) == "ai-input,ai-index"
    amount = first.find("r:license/r:payment/r:amount", NS)
    assert amount is not None and amount.get("currency") == "ETH"
    assert amount.text == "0.000000000000001"
    assert first.find("r:license/r:payment", NS).get("type") == "crawl"  # type: ignore[union-attr]
    assert first.findtext("r:copyright", namespaces=NS) == "creator:a"
    assert first.findtext("r:terms", namespaces=NS) == (
        f"{BASE}/v1/manifests/{world.manifest.digest_hex()}/assets/0/status")
    assert first.get("lastmod") == "2023-11-14T22:13:20Z"
    assert second.findtext("r:license/r:permits", namespaces=NS) == "all"
    assert second.find("r:license/r:payment", NS).get("type") == "free"  # type: ignore[union-attr]
    assert second.findtext("r:copyright", namespaces=NS) == "A. Person"


async def test_a_revoked_asset_leaves_at_its_effective_time(world: LicensingWorld) -> None:
    world.statement("revoke", T - NOTICE_MS, effectiveAt=T)
    assert [A0 in await _urls(world, t) for t in (T - 1000, T - 1, T, T + 1000)] == [
        True, True, False, False]


async def test_withdrawn_consent_leaves_at_once(world: LicensingWorld) -> None:
    world.statement("withdraw-consent", T, assets=(1,))
    assert [A1 in await _urls(world, t) for t in (T - 1000, T, T + 1000)] == [
        True, False, False]
    assert A0 in await _urls(world, T + 1000)


async def test_an_upheld_takedown_leaves_at_its_decision(world: LicensingWorld) -> None:
    claim = world.statement("takedown", T - 5000, grounds="mine", claimant="someone")
    assert A0 in await _urls(world, T - 1000)  # a dispute alone removes nothing
    world.statement("takedown-decision", T, case="0x" + claim.digest().hex(), outcome="upheld")
    assert [A0 in await _urls(world, t) for t in (T - 1000, T, T + 1000)] == [
        True, False, False]


async def test_an_amendment_changes_the_licence_from_its_effective_time(
        world: LicensingWorld) -> None:
    world.statement("amend", T - 5000, effectiveAt=T, terms={"licenses": ["exclusive"]})
    before = ET.fromstring(await world.publisher.document(T - 1))
    after = ET.fromstring(await world.publisher.document(T))
    path = "r:content/r:license/r:permits"
    assert before.findtext(path, namespaces=NS) == "ai-train"
    assert after.findtext(path, namespaces=NS) == "ai-all"
    lastmod = after.find("r:content", NS)
    assert lastmod is not None and lastmod.get("lastmod") == "2027-01-15T08:00:00Z"
    assert CONFIRMED_AT < T


async def test_documents_of_one_creator_or_manifest(world: LicensingWorld) -> None:
    digest = world.manifest.digest()
    assert len(ET.fromstring(await world.publisher.document(
        T, creator_id="creator:a")).findall("r:content", NS)) == 2
    assert ET.fromstring(await world.publisher.document(
        T, creator_id="creator:b")).findall("r:content", NS) == []
    assert len(ET.fromstring(await world.publisher.document(
        T, manifest_digest=digest)).findall("r:content", NS)) == 2


def test_robots_txt_names_the_marketplace(world: LicensingWorld) -> None:
    assert f"License: {BASE}/rsl.xml\n" in world.publisher.robots_txt()
