"""Manifest parsing, validation, round trips and digests (ledger.core.manifest)."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.assets import Asset, License
from ledger.core.canonical import canonicalize, parse_strict
from ledger.core.manifest import Manifest
from ledger.core.signing import verify_manifest
from ledger.core.vocabulary import PRICE_TYPES, PRICE_UNITS
from ledger.errors import CanonicalJSONError, LedgerError, SignatureError, ValidationError

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "manifests.json").read_text(encoding="utf-8")
)
CASES = VECTORS["cases"]
VALID = [case for case in CASES if "expected" in case]
ERRORS = {"CanonicalJSONError": CanonicalJSONError, "ValidationError": ValidationError}
ERRORS["SignatureError"] = SignatureError


def _data(case: dict[str, Any]) -> bytes:
    if "manifest" in case:
        return case["manifest"].encode("utf-8")
    return base64.b64decode(case["manifestBase64"])


def _rich() -> dict[str, Any]:
    case = next(case for case in CASES if case["name"] == "rich-p256")
    obj: dict[str, Any] = parse_strict(case["manifest"])
    return obj


# -- vectors ------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["name"])
def test_vector(case: dict[str, Any]) -> None:
    data = _data(case)
    if "expected" in case:
        manifest = Manifest.from_json(data)
        verify_manifest(manifest)
        assert manifest.digest_hex() == case["expected"]["digest"]
        payload_hash = "0x" + hashlib.sha256(manifest.signing_payload()).hexdigest()
        assert payload_hash == case["expected"]["signingPayloadSha256"]
        return
    error = ERRORS[case["error"]["type"]]
    with pytest.raises(LedgerError) as caught:
        verify_manifest(Manifest.from_json(data))
    assert type(caught.value) is error, caught.value
    assert caught.value.field == case["error"]["field"]


def test_vectors_cover_the_named_negatives() -> None:
    names = {case["name"] for case in CASES}
    wanted = {"duplicate-key", "lone-surrogate", "number-precision-loss", "tampered-asset-hash"}
    wanted |= {"high-s-signature", "unknown-field", "high-s-signature-eth", "non-strict-der"}
    assert wanted <= names


@pytest.mark.parametrize("case", VALID, ids=lambda case: case["name"])
def test_vector_round_trips_both_ways(case: dict[str, Any]) -> None:
    obj = parse_strict(_data(case))
    manifest = Manifest.from_obj(obj)
    assert manifest.to_obj() == obj
    assert Manifest.from_obj(manifest.to_obj()) == manifest
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.to_json() == canonicalize(obj)
    unsigned = {name: value for name, value in obj.items() if name != "signature"}
    assert manifest.signing_payload() == canonicalize(unsigned)
    assert manifest.digest() == hashlib.sha256(canonicalize(obj)).digest()


def test_from_obj_keeps_no_reference_to_the_input() -> None:
    obj = _rich()
    manifest = Manifest.from_obj(obj)
    before = manifest.to_json()
    obj["assets"][0]["extensions"]["camera"]["iso"] = 400
    manifest.to_obj()["assets"][0]["extensions"]["camera"]["iso"] = 800
    assert manifest.to_json() == before


def test_license_spellings_round_trip_distinctly() -> None:
    asset = Manifest.from_obj(_rich()).assets[0]
    assert asset.licenses[0] == "non-exclusive-training"
    assert isinstance(asset.licenses[1], License)
    assert asset.licenses[1].to_obj()["id"] == "CNTRL-TRAIN-2026-v1"


def test_asset_content_sha256() -> None:
    asset = Manifest.from_obj(_rich()).assets[0]
    assert asset.content_sha256 == bytes.fromhex(asset.hash.removeprefix("sha256:"))


def test_unsigned_draft() -> None:
    obj = _rich()
    del obj["signature"]
    del obj["creator"]["signingKey"]
    with pytest.raises(ValidationError) as caught:
        Manifest.from_obj(obj)
    assert caught.value.field == "signature"
    with pytest.raises(ValidationError) as caught:
        Manifest.from_obj({**obj, "signature": "eip712:0x" + "00" * 65})
    assert caught.value.field == "creator.signingKey"
    draft = Manifest.from_obj(obj, allow_unsigned=True)
    assert draft.signature is None and draft.creator.signing_key is None
    assert draft.to_obj() == obj
    assert draft.to_json() == draft.signing_payload() == canonicalize(obj)
    with pytest.raises(SignatureError, match="not signed"):
        verify_manifest(draft)


def test_with_signature_checks_syntax() -> None:
    manifest = Manifest.from_obj(_rich())
    with pytest.raises(ValidationError):
        manifest.with_signature("p256ecdsa:not base64!")
    assert manifest.with_signature("eip712:0x" + "ab" * 65).signature == "eip712:0x" + "ab" * 65


# -- validation errors ------------------------------------------------------------------

A = ("assets", 0)


@pytest.mark.parametrize(
    ("path", "value", "field", "fragment"),
    [
        ((), [], None, "JSON object"),
        (("creator",), "creator:alice", "creator", "JSON object"),
        (("creator", "id"), "creator:Alice", "creator.id", "lower-case slug"),
        (("creator", "id"), "alice", "creator.id", "creator:"),
        (("creator", "name"), "", "creator.name", "non-empty"),
        (("creator", "name"), "x" * 257, "creator.name", "at most 256"),
        (("creator", "wallet"), "0x123", "creator.wallet", "40 hex"),
        (("creator", "payout"), "acct_1", "creator.payout", "provider:account"),
        (("creator", "signingKey"), "p256:AAAA", "creator.signingKey", "compressed P-256"),
        (("createdAt",), "2026-01-12", "createdAt", "RFC 3339"),
        (("createdAt",), "2026-13-01T00:00:00Z", "createdAt", "RFC 3339"),
        (("extensions",), [1], "extensions", "JSON object"),
        (("assets",), {}, "assets", "JSON array"),
        ((*A,), "asset", "assets[0]", "JSON object"),
        ((*A, "id"), "asset:", "assets[0].id", "slug"),
        ((*A, "id"), "asset:" + "a" * 129, "assets[0].id", "slug"),
        ((*A, "type"), "jpeg", "assets[0].type", "media type"),
        ((*A, "url"), "https://", "assets[0].url", "https://"),
        ((*A, "url"), "https://cdn.example.com/a b.jpg", "assets[0].url", "https://"),
        ((*A, "licenses"), "cc-by", "assets[0].licenses", "JSON array"),
        ((*A, "licenses", 0), "-bad", "assets[0].licenses[0]", "license id"),
        ((*A, "licenses", 0), 7, "assets[0].licenses[0]", "JSON object"),
        ((*A, "licenses", 1, "id"), None, "assets[0].licenses[1].id", "license id"),
        ((*A, "licenses", 1, "extra"), 1, "assets[0].licenses[1].extra", "unknown member"),
        ((*A, "priceModel", "currency"), "usd", "assets[0].priceModel.currency", "upper-case"),
        ((*A, "priceModel", "unit"), "hour", "assets[0].priceModel.unit", "one of"),
        ((*A, "priceModel", "amount"), "0" + "1" * 3, "assets[0].priceModel.amount", "decimal"),
        ((*A, "priceModel", "amount"), str(2**256), "assets[0].priceModel.amount", "uint256"),
        ((*A, "priceModel", "token"), "DAI", "assets[0].priceModel.token", "ERC-20"),
        ((*A, "priceModel", "minPayout"), "10", "assets[0].priceModel.minPayout", "number"),
        ((*A, "payees"), [], "assets[0].payees", "1 to 32"),
        ((*A, "payees", 0, "role"), "owner", "assets[0].payees[0].role", "one of"),
        ((*A, "payees", 0, "shareBps"), 0, "assets[0].payees[0].shareBps", "1 to 10000"),
        ((*A, "payees", 0, "shareBps"), True, "assets[0].payees[0].shareBps", "integer"),
        ((*A, "consent", "piiRedacted"), "yes", "assets[0].consent.piiRedacted", "true or false"),
        ((*A, "consent", "modelRelease"), "", "assets[0].consent.modelRelease", "non-empty"),
        ((*A, "privacy", "faces"), 1, "assets[0].privacy.faces", "true or false"),
        ((*A, "privacy", "other"), True, "assets[0].privacy.other", "unknown member"),
        ((*A, "tags", 2), "", "assets[0].tags[2]", "non-empty"),
        ((*A, "tags"), ["t"] * 0 + [str(i) for i in range(257)], "assets[0].tags", "0 to 256"),
        ((*A, "attribution"), 5, "assets[0].attribution", "string"),
        ((*A, "captureDate"), "2024-02-29T24:00:00Z", "assets[0].captureDate", "RFC 3339"),
        (("signature",), "p256ecdsa:", "signature", "base64 DER"),
    ],
)
def test_validation_error_names_field(
    path: tuple[str | int, ...], value: Any, field: str | None, fragment: str
) -> None:
    obj: Any = _rich() if path else value
    if path:
        target = obj
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    with pytest.raises(ValidationError, match=fragment) as caught:
        Manifest.from_obj(obj)
    assert caught.value.field == field


def test_leap_day_is_a_real_date() -> None:
    obj = _rich()
    obj["assets"][0]["captureDate"] = "2024-02-29T23:59:59Z"
    Manifest.from_obj(obj)
    obj["assets"][0]["captureDate"] = "1900-02-29T00:00:00Z"
    with pytest.raises(ValidationError, match="not a real date"):
        Manifest.from_obj(obj)


def test_unknown_member_reported_in_document_order() -> None:
    obj = _rich()
    obj["assets"][1] = {"zzz": 1, **obj["assets"][1], "aaa": 2}
    with pytest.raises(ValidationError) as caught:
        Manifest.from_obj(obj)
    assert caught.value.field == "assets[1].zzz"


def test_error_string_carries_path_and_reason() -> None:
    obj = _rich()
    obj["assets"][2]["priceModel"]["rate"] = -1
    with pytest.raises(ValidationError) as caught:
        Manifest.from_obj(obj)
    assert str(caught.value) == "assets[2].priceModel.rate: must be >= 0"
    assert caught.value.to_dict()["field"] == "assets[2].priceModel.rate"


def test_python_values_json_cannot_hold_are_refused() -> None:
    for value in (float("nan"), float("inf")):
        obj = _rich()
        obj["assets"][0]["priceModel"]["rate"] = value
        with pytest.raises(ValidationError, match="finite"):
            Manifest.from_obj(obj)
    obj = _rich()
    obj["assets"][0]["extensions"]["camera"]["when"] = object()
    with pytest.raises(ValidationError, match="not a JSON value"):
        Manifest.from_obj(obj)


# -- properties -----------------------------------------------------------------------

_SLUG = st.from_regex(r"[a-z0-9]([a-z0-9._-]{0,10}[a-z0-9])?", fullmatch=True)
_HEX64 = st.binary(min_size=32, max_size=32).map(lambda raw: raw.hex())
_NUMBER = st.integers(0, 2**53) | st.floats(0, 1e300, allow_nan=False, allow_infinity=False)
_SHORT_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8)
_ADDRESSES = st.sampled_from(
    [
        "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
        "0xab5801a7d398351b8be11c439e05c5b3259aec9b",
        "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    ]
)
_JSON_LEAF = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _SHORT_TEXT
_EXTENSIONS = st.dictionaries(
    _SHORT_TEXT, _JSON_LEAF | st.lists(_JSON_LEAF, max_size=3), max_size=3
)


def _payees() -> st.SearchStrategy[list[dict[str, Any]]]:
    def split(count: int) -> st.SearchStrategy[list[dict[str, Any]]]:
        cuts = st.lists(st.integers(1, 9999), min_size=count - 1, max_size=count - 1, unique=True)

        def build(points: list[int]) -> list[dict[str, Any]]:
            edges = [0, *sorted(points), 10_000]
            accounts = [
                "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
                "0xab5801a7d398351b8be11c439e05c5b3259aec9b",
                "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            ]
            return [
                {"account": accounts[i], "shareBps": edges[i + 1] - edges[i], "role": "creator"}
                for i in range(count)
            ]

        return cuts.map(build)

    return st.integers(1, 3).flatmap(split)


_PRICE = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["per-unit", "royalty", "one-time", "subscription"]),
        "rate": _NUMBER,
        "currency": st.sampled_from(["USD", "ETH", "EUR"]),
    },
    optional={
        "minPayout": _NUMBER,
        "unit": st.sampled_from(["sample", "epoch", "1k-samples"]),
        "amount": st.integers(0, 2**256 - 1).map(str),
        "token": st.just("ETH") | _ADDRESSES,
    },
)
_ASSET = st.fixed_dictionaries(
    {
        "id": _SLUG.map(lambda slug: "asset:" + slug),
        "type": st.sampled_from(["image/jpeg", "video/mp4", "application/octet-stream"]),
        "hash": _HEX64.map(lambda digits: "sha256:" + digits),
        "licenses": st.lists(
            st.sampled_from(["cc-by-4.0", "non-exclusive-training"])
            | st.fixed_dictionaries(
                {"id": st.just("CNTRL-1")},
                optional={"url": st.just("https://l.example/1"), "attribution": _SHORT_TEXT},
            ),
            min_size=1,
            max_size=3,
        ),
    },
    optional={
        "url": st.just("https://cdn.example.com/x.jpg") | st.just("r2://bucket-1/x.jpg"),
        "captureDate": st.datetimes(datetime(1000, 1, 1)).map(
            lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
        "priceModel": _PRICE,
        "payees": _payees(),
        "consent": st.fixed_dictionaries(
            {},
            optional={
                "modelRelease": _SHORT_TEXT,
                "propertyRelease": _SHORT_TEXT,
                "piiRedacted": st.booleans(),
            },
        ),
        "privacy": st.fixed_dictionaries(
            {}, optional={name: st.booleans() for name in ("faces", "minors", "biometric", "pii")}
        ),
        "attribution": _SHORT_TEXT,
        "tags": st.lists(_SHORT_TEXT, max_size=4, unique=True),
        "extensions": _EXTENSIONS,
    },
)


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """Valid signed-looking manifest objects (the signature is not a real one)."""
    assets = draw(st.lists(_ASSET, min_size=1, max_size=3, unique_by=lambda asset: asset["id"]))
    creator = {"id": "creator:" + draw(_SLUG), "signingKey": "p256:" + "A" * 44}
    creator.update(draw(st.sampled_from([{"wallet": "stripe:acct_1"}, {"payout": "paypal:x"}])))
    obj: dict[str, Any] = {
        "manifestVersion": "1.0",
        "creator": creator,
        "assets": assets,
        "signature": "eip712:0x" + "00" * 65,
    }
    if draw(st.booleans()):
        obj["createdAt"] = "2026-01-01T00:00:00Z"
    if draw(st.booleans()):
        obj["extensions"] = draw(_EXTENSIONS)
    return obj


@settings(max_examples=150, deadline=None)
@given(manifests())
def test_round_trip_generated(obj: dict[str, Any]) -> None:
    manifest = Manifest.from_obj(obj)
    assert manifest.to_obj() == obj
    assert Manifest.from_obj(manifest.to_obj()) == manifest
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert Manifest.from_json(json.dumps(obj, indent=1)) == manifest
    assert manifest.to_json() == canonicalize(obj)


@settings(max_examples=150, deadline=None)
@given(manifests(), st.data())
def test_any_replaced_value_raises_only_validation_error(
    obj: dict[str, Any], data: st.DataObject
) -> None:
    paths = list(_paths(obj))
    path = data.draw(st.sampled_from(paths))
    replacement = data.draw(
        _JSON_LEAF
        | st.floats()
        | st.lists(_JSON_LEAF, max_size=2)
        | st.dictionaries(_SHORT_TEXT, _JSON_LEAF, max_size=2)
    )
    mutated = copy.deepcopy(obj)
    target: Any = mutated
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = replacement
    with contextlib.suppress(ValidationError):
        Manifest.from_obj(mutated)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Any:
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield (*prefix, key)
        yield from _paths(item, (*prefix, key))


def test_asset_from_obj_standalone() -> None:
    asset = Asset.from_obj(_rich()["assets"][1], "assets[1]")
    assert asset.id == "asset:clip-7"
    with pytest.raises(ValidationError) as caught:
        Asset.from_obj({"id": "asset:x"}, "assets[9]")
    assert caught.value.field == "assets[9].type"


# -- docs/manifest.schema.json agrees with the code --------------------------------------

SCHEMA = json.loads((Path(__file__).parents[3] / "docs" / "manifest.schema.json").read_text())
# Cases the schema alone cannot catch (cross-field rules, checksums, calendars, crypto).
BEYOND_SCHEMA = {
    "duplicate-asset-id",
    "payee-shares-not-10000",
    "duplicate-payee-account",
    "payee-bad-checksum",
    "impossible-capture-date",
    "eth-key-not-checksummed",
}


def _schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """A small JSON Schema 2020-12 checker for the keywords our schema uses."""
    if "$ref" in schema:
        return _schema_errors(value, SCHEMA["$defs"][schema["$ref"].split("/")[-1]])
    errors: list[str] = []
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if kind == "integer" and (type(value) is not int):
        return ["not an integer"]
    if kind == "number" and type(value) not in (int, float):
        return ["not a number"]
    if kind in types and not isinstance(value, types[kind]):
        return [f"not {kind}"]
    if "const" in schema and (value != schema["const"] or type(value) is not type(schema["const"])):
        errors.append("const")
    if "enum" in schema and value not in schema["enum"]:
        errors.append("enum")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append("pattern")
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10**9):
            errors.append("length")
    low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
    if type(value) in (int, float) and not low <= value <= high:
        errors.append("range")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 10**9):
            errors.append("items count")
        if schema.get("uniqueItems") and len({json.dumps(v) for v in value}) != len(value):
            errors.append("unique")
        for item in value:
            errors += _schema_errors(item, schema.get("items", {}))
    if isinstance(value, dict):
        errors += [f"missing {name}" for name in schema.get("required", []) if name not in value]
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            errors += [f"extra {name}" for name in value if name not in properties]
        for name, item in value.items():
            if name in properties:
                errors += _schema_errors(item, properties[name])
    if "anyOf" in schema and all(_schema_errors(value, option) for option in schema["anyOf"]):
        errors.append("anyOf")
    if "not" in schema and not _schema_errors(value, schema["not"]):
        errors.append("not")
    return errors


def test_schema_members_match_the_code() -> None:
    assert set(SCHEMA["properties"]) == Manifest._MEMBERS
    assert set(SCHEMA["$defs"]["asset"]["properties"]) == Asset._MEMBERS
    assert set(SCHEMA["$defs"]["asset"]["required"]) == set(Asset._REQUIRED)
    price = SCHEMA["$defs"]["priceModel"]["properties"]
    assert tuple(price["type"]["enum"]) == PRICE_TYPES
    assert tuple(price["unit"]["enum"]) == PRICE_UNITS


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["name"])
def test_schema_agrees_with_vectors(case: dict[str, Any]) -> None:
    try:
        obj = parse_strict(_data(case))
    except CanonicalJSONError:
        return
    errors = _schema_errors(obj, SCHEMA)
    if case.get("error", {}).get("type") == "ValidationError" and case["name"] not in BEYOND_SCHEMA:
        assert errors, "the schema accepts what the code rejects"
    elif "error" not in case or case["error"]["type"] == "SignatureError":
        assert errors == []


@settings(max_examples=100, deadline=None)
@given(manifests())
def test_schema_accepts_generated_manifests(obj: dict[str, Any]) -> None:
    assert _schema_errors(obj, SCHEMA) == []
