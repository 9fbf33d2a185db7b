"""C2PA manifests signed into copies and read back with c2pa-python's Reader."""

from __future__ import annotations

import io
import json
from pathlib import Path

import c2pa
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from ledger.core.rights import Claims, EmbeddedRights, claims_for, conflicts
from ledger.core.signing import EthSigningKey, P256SigningKey
from ledger.errors import ConfigError
from ledger.keyfile import generate_key
from ledger.media.c2pa_read import (
    INVALID,
    TRUSTED,
    UNREADABLE,
    UNTRUSTED,
    read_c2pa,
    summarise,
    training_entries,
)
from ledger.media.c2pa_sign import (
    RECORD_LABEL,
    C2paIdentity,
    C2paSigner,
    C2paSigningError,
    load_identity,
    signing_identity,
)
from tests.unit.media.ca import ThrowawayCA

FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
RECORD_URL = "https://ledger.example/v1/assets/by-hash/" + "ab" * 32
TRAINING = ["non-exclusive-training"]


@pytest.fixture(scope="session")
def ca() -> ThrowawayCA:
    return ThrowawayCA.create()


@pytest.fixture(scope="session")
def key() -> P256SigningKey:
    made = generate_key("p256")
    assert isinstance(made, P256SigningKey)
    return made


@pytest.fixture(scope="session")
def identity(ca: ThrowawayCA, key: P256SigningKey) -> C2paIdentity:
    return signing_identity(key, ca.issue(_public(key)))


def _public(key: P256SigningKey) -> ec.EllipticCurvePublicKey:
    private = serialization.load_pem_private_key(key.to_pem(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return private.public_key()


def _image(path: Path, kind: str = "jpeg") -> Path:
    Image.new("RGB", (48, 32), (180, 90, 30)).save(path, FORMATS[kind])
    return path


def _claims(licences: list[str] = TRAINING) -> Claims:
    return claims_for(licences, creator_id="creator:alice", asset_id="asset:photo.jpg",
                      holder="Alice", web_statement=RECORD_URL)


def _signed(tmp_path: Path, identity: C2paIdentity, kind: str = "jpeg",
            licences: list[str] = TRAINING) -> Path:
    path = _image(tmp_path / f"photo.{kind}", kind)
    with C2paSigner(identity) as signer:
        signer.sign(path, _claims(licences))
    return path


def _tampered(path: Path) -> Path:
    """``path`` with one bit of its pixel data flipped, outside the manifest."""
    data = bytearray(path.read_bytes())
    chunk = {b"\x89PNG": b"IDAT", b"RIFF": b"VP8"}.get(bytes(data[:4]))
    data[data.find(chunk) + 12 if chunk else -8] ^= 0x01  # JPEG: the end of the scan
    path.write_bytes(bytes(data))
    return path


def _store(path: Path) -> dict:  # type: ignore[type-arg]
    with path.open("rb") as handle, c2pa.Reader(None, handle) as reader:
        return json.loads(reader.json())  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_signed_copy_reads_back_trusted_under_its_ca(
    tmp_path: Path, identity: C2paIdentity, ca: ThrowawayCA, kind: str
) -> None:
    path = _signed(tmp_path, identity, kind)
    summary = read_c2pa(path, trust_anchors=ca.pem)
    assert summary is not None
    assert summary.state == TRUSTED
    assert summary.failures == ()
    assert summary.signer == "Test Creator (Ledger Tests)"
    assert summary.claim_generator is not None and summary.claim_generator.startswith("ledger/")
    with Image.open(path) as image:  # still an image of its type
        assert (image.format, image.size) == (FORMATS[kind], (48, 32))
    assert summary.training == {
        "cawg.ai_generative_training": "allowed", "cawg.ai_training": "allowed",
        "cawg.data_mining": "allowed", "c2pa.ai_generative_training": "allowed",
        "c2pa.ai_training": "allowed", "c2pa.data_mining": "allowed",
    }


def test_record_assertion_names_creator_asset_and_record(
    tmp_path: Path, identity: C2paIdentity
) -> None:
    store = _store(_signed(tmp_path, identity))
    manifest = store["manifests"][store["active_manifest"]]
    record = next(item["data"] for item in manifest["assertions"]
                  if item["label"] == RECORD_LABEL)
    assert record == {"creator": "creator:alice", "asset": "asset:photo.jpg", "record": RECORD_URL}
    assert "thumbnail" not in manifest


def test_without_trust_anchors_the_signer_is_reported_untrusted(
    tmp_path: Path, identity: C2paIdentity
) -> None:
    summary = read_c2pa(_signed(tmp_path, identity))
    assert summary is not None
    assert summary.state == UNTRUSTED
    assert summary.signer == "Test Creator (Ledger Tests)"
    assert summary.failures == ("signingCredential.untrusted",)


def test_signer_from_another_ca_is_untrusted(tmp_path: Path, identity: C2paIdentity) -> None:
    other = ThrowawayCA.create("Some Other Root")
    summary = read_c2pa(_signed(tmp_path, identity), trust_anchors=other.pem)
    assert summary is not None
    assert summary.state == UNTRUSTED
    assert "signingCredential.untrusted" in summary.failures


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_changing_the_image_after_signing_makes_it_invalid(
    tmp_path: Path, identity: C2paIdentity, ca: ThrowawayCA, kind: str
) -> None:
    path = _tampered(_signed(tmp_path, identity, kind))
    summary = read_c2pa(path, trust_anchors=ca.pem)
    assert summary is not None
    assert summary.state == INVALID
    assert {"assertion.dataHash.mismatch", "claimSignature.mismatch"} & set(summary.failures)


def test_a_damaged_manifest_is_invalid_not_a_crash(tmp_path: Path, identity: C2paIdentity) -> None:
    path = _signed(tmp_path, identity)
    data = bytearray(path.read_bytes())
    start = data.find(b"jumb")
    data[start + 100:start + 108] = b"\xff" * 8
    path.write_bytes(bytes(data))
    summary = read_c2pa(path)
    assert summary is not None
    assert (summary.state, summary.failures) == (INVALID, (UNREADABLE,))


@pytest.mark.parametrize("content", [b"", b"not an image", b"\xff\xd8\xff\xe0garbage"])
def test_files_without_a_manifest_have_no_summary(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "file.jpg"
    path.write_bytes(content)
    assert read_c2pa(path) is None
    assert read_c2pa(_image(tmp_path / "plain.png", "png")) is None


def test_training_entries_come_from_both_labels_and_the_stricter_wins() -> None:
    assertions = [
        {"label": "c2pa.training-mining", "data": {"entries": {
            "c2pa.ai_training": {"use": "notAllowed"}, "c2pa.data_mining": {"use": "allowed"}}}},
        {"label": "cawg.training-mining", "data": {"entries": {
            "cawg.ai_training": {"use": "constrained", "constraint_info": "ask"},
            "cawg.data_mining": {"use": "allowed"}}}},
        {"label": "cawg.training-mining", "data": {"entries": {
            "cawg.ai_training": {"use": "allowed"}, "cawg.bogus": {"use": "maybe"},
            "cawg.broken": "notAllowed"}}},
        {"label": "c2pa.actions", "data": {"entries": {"x": {"use": "notAllowed"}}}},
    ]
    assert training_entries(assertions) == {
        "c2pa.ai_training": "notAllowed", "c2pa.data_mining": "allowed",
        "cawg.ai_training": "constrained", "cawg.data_mining": "allowed",
    }


def test_older_writers_label_is_read_from_a_real_file(
    tmp_path: Path, identity: C2paIdentity
) -> None:
    path = _image(tmp_path / "old.jpg")
    definition = {
        "claim_generator_info": [{"name": "old-tool"}],
        "assertions": [{"label": "c2pa.training-mining", "data": {"entries": {
            "c2pa.ai_generative_training": {"use": "notAllowed"}}}}],
    }
    _sign_raw(path, definition, identity)
    summary = read_c2pa(path)
    assert summary is not None
    assert summary.claim_generator == "old-tool"
    assert summary.training == {"c2pa.ai_generative_training": "notAllowed"}


def test_summarise_maps_states_and_keeps_version_1_claim_generators() -> None:
    store = {"active_manifest": "m", "validation_state": "Invalid",
             "manifests": {"m": {"claim_generator": "Photoshop/25",
                                 "signature_info": {"issuer": "Adobe Inc."}}},
             "validation_status": [{"code": "claimSignature.mismatch"}, {"explanation": "x"}]}
    summary = summarise(store)
    assert (summary.state, summary.signer, summary.claim_generator, summary.failures) == (
        INVALID, "Adobe Inc.", "Photoshop/25", ("claimSignature.mismatch",))
    assert summarise({"validation_state": "Trusted"}).state == TRUSTED
    strict = {"validation_state": "Invalid",
              "validation_status": [{"code": "signingCredential.untrusted"}]}
    assert summarise(strict).state == UNTRUSTED  # a signer refused is not a file changed
    assert summarise({"validation_state": "Valid"}).state == UNTRUSTED
    assert summarise({"validation_state": "Unheard-of"}).state == INVALID
    assert summarise({}).signer is None


def test_existing_manifest_forbidding_training_is_a_packaging_conflict(
    tmp_path: Path, identity: C2paIdentity
) -> None:
    found = EmbeddedRights(c2pa=read_c2pa(_signed(tmp_path, identity, licences=["cc-by-4.0"])))
    assert found.c2pa is not None
    assert found.c2pa.training["cawg.ai_training"] == "notAllowed"
    codes = [item.code for item in conflicts(
        found, creator_id="creator:bob", creator_names=["Bob"], licences=TRAINING)]
    assert codes == ["training_prohibited"]
    assert conflicts(found, creator_id="creator:bob", creator_names=["Bob"],
                     licences=["cc-by-4.0"]) == []


def test_tampered_manifest_is_a_packaging_conflict(tmp_path: Path, identity: C2paIdentity) -> None:
    path = _tampered(_signed(tmp_path, identity))
    found = EmbeddedRights(c2pa=read_c2pa(path))
    codes = [item.code for item in conflicts(
        found, creator_id="creator:bob", creator_names=["Bob"], licences=["cc-by-4.0"])]
    assert codes == ["c2pa_invalid"]


def test_signing_over_an_existing_manifest_keeps_it_as_the_parent(
    tmp_path: Path, identity: C2paIdentity, ca: ThrowawayCA
) -> None:
    path = _signed(tmp_path, identity, licences=["cc-by-4.0"])
    with C2paSigner(identity) as signer:
        signer.sign(path, _claims())
    store = _store(path)
    assert len(store["manifests"]) == 2
    summary = read_c2pa(path, trust_anchors=ca.pem)
    assert summary is not None and summary.state == TRUSTED
    assert summary.training["cawg.ai_training"] == "allowed"  # the active manifest counts


def test_ethereum_keys_cannot_sign_c2pa(ca: ThrowawayCA, key: P256SigningKey) -> None:
    eth = generate_key("eth")
    assert isinstance(eth, EthSigningKey)
    with pytest.raises(ConfigError, match="secp256k1") as caught:
        signing_identity(eth, ca.issue(_public(key)))
    assert caught.value.field == "--c2pa-cert"


@pytest.mark.parametrize("chain", [b"", b"-----BEGIN CERTIFICATE-----\nAAAA\n", b"\x00" * 10])
def test_a_chain_that_is_not_pem_certificates_is_refused(
    key: P256SigningKey, chain: bytes
) -> None:
    with pytest.raises(ConfigError, match="not a PEM certificate chain"):
        signing_identity(key, chain)


def test_a_chain_for_another_key_is_refused(ca: ThrowawayCA, key: P256SigningKey) -> None:
    other = generate_key("p256")
    assert isinstance(other, P256SigningKey)
    with pytest.raises(ConfigError, match="not for the signing key"):
        signing_identity(key, ca.issue(_public(other)))


def test_load_identity_reads_the_chain_file(
    tmp_path: Path, ca: ThrowawayCA, key: P256SigningKey
) -> None:
    chain = tmp_path / "chain.pem"
    chain.write_bytes(ca.issue(_public(key)))
    assert load_identity(key, chain).chain_pem == chain.read_bytes()
    with pytest.raises(ConfigError, match="cannot read"):
        load_identity(key, tmp_path / "missing.pem")
    chain.write_bytes(b"x" * 70_000)
    with pytest.raises(ConfigError, match="too large"):
        load_identity(key, chain)


def test_a_certificate_outside_the_c2pa_profile_is_refused_before_signing(
    ca: ThrowawayCA, key: P256SigningKey
) -> None:
    identity = signing_identity(key, ca.issue(_public(key), extended_key_usage=False))
    with pytest.raises(ConfigError, match="extendedKeyUsage") as caught:
        C2paSigner(identity)
    assert caught.value.field == "--c2pa-cert"


def test_a_failed_signature_leaves_the_copy_as_it_was(
    tmp_path: Path, identity: C2paIdentity
) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with C2paSigner(identity) as signer, pytest.raises(C2paSigningError, match=r"photo\.jpg"):
        signer.sign(path, _claims())
    assert path.read_bytes() == b"\xff\xd8\xff\xe0 truncated"
    assert [p.name for p in tmp_path.iterdir()] == ["photo.jpg"]


def test_only_jpeg_png_and_webp_are_signed(tmp_path: Path, identity: C2paIdentity) -> None:
    path = tmp_path / "photo.gif"
    Image.new("RGB", (8, 8)).save(path, "GIF")
    with C2paSigner(identity) as signer, pytest.raises(C2paSigningError, match="JPEG, PNG"):
        signer.sign(path, _claims())


def _sign_raw(path: Path, definition: dict, identity: C2paIdentity) -> None:  # type: ignore[type-arg]
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.chain_pem,
                               identity.key_pem, None)
    signer = c2pa.Signer.from_info(info)
    builder = c2pa.Builder(definition)
    builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
    output = io.BytesIO()
    with path.open("rb") as source:
        builder.sign(signer, "image/jpeg", source, output)
    path.write_bytes(output.getvalue())


# -- ledger package --embed --c2pa-cert ------------------------------------------------


@pytest.fixture
def creator_files(tmp_path: Path, ca: ThrowawayCA, key: P256SigningKey) -> dict[str, Path]:
    from ledger.keyfile import write_key

    write_key(tmp_path / "creator.pem", key)
    (tmp_path / "chain.pem").write_bytes(ca.issue(_public(key)))
    (tmp_path / "anchors.pem").write_bytes(ca.pem)
    source = tmp_path / "photos"
    source.mkdir()
    for kind in FORMATS:
        _image(source / f"photo.{kind}", kind)
    (source / "notes.txt").write_text("not an image\n")
    return {"key": tmp_path / "creator.pem", "chain": tmp_path / "chain.pem",
            "anchors": tmp_path / "anchors.pem", "source": source}


def _package(capsys: pytest.CaptureFixture[str], source: Path, *extra: str | Path,
             licence: str = TRAINING[0]) -> tuple[int, str]:
    from ledger.cli.main import main

    code = main([str(arg) for arg in ("package", source, "--creator", "creator:alice",
                                      "--license", licence, "--payout", "stripe:acct_1",
                                      *extra)])
    return code, capsys.readouterr().err


def test_package_signs_c2pa_into_the_copies_it_registers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], creator_files: dict[str, Path],
    ca: ThrowawayCA,
) -> None:
    import hashlib

    out = tmp_path / "out"
    code, err = _package(capsys, creator_files["source"], "--key", creator_files["key"],
                         "--embed", out, "--c2pa-cert", creator_files["chain"])
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    hashes = {asset["id"]: asset["hash"] for asset in manifest["assets"]}
    for kind in FORMATS:
        copy = out / f"photo.{kind}"
        summary = read_c2pa(copy, trust_anchors=ca.pem)
        assert summary is not None and summary.state == TRUSTED, kind
        assert summary.training["cawg.ai_training"] == "allowed"
        digest = "sha256:" + hashlib.sha256(copy.read_bytes()).hexdigest()
        assert hashes[f"asset:photo.{kind}"] == digest, kind  # the signed bytes, registered
    assert (out / "notes.txt").read_bytes() == b"not an image\n"
    assert read_c2pa(creator_files["source"] / "photo.jpeg") is None  # originals untouched


def test_package_reads_xmp_back_from_a_signed_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], creator_files: dict[str, Path]
) -> None:
    from ledger.media.xmp import read_rights

    out = tmp_path / "out"
    code, err = _package(capsys, creator_files["source"], "--key", creator_files["key"],
                         "--embed", out, "--c2pa-cert", creator_files["chain"])
    assert code == 0, err
    for kind in FORMATS:
        found = read_rights((out / f"photo.{kind}").read_bytes())
        assert found.ledger_creator == "creator:alice", kind
        assert found.data_mining is not None and found.data_mining.endswith("DMI-ALLOWED")


def test_package_stops_on_an_existing_manifest_that_forbids_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], creator_files: dict[str, Path],
    identity: C2paIdentity,
) -> None:
    source = creator_files["source"]
    with C2paSigner(identity) as signer:
        signer.sign(source / "photo.png", _claims(["cc-by-4.0"]))
    code, err = _package(capsys, source, "--c2pa-trust", creator_files["anchors"])
    assert code == 2
    assert "photo.png: training_prohibited" in err and "c2pa.ai_training" in err
    code, err = _package(capsys, source, "--c2pa-trust", creator_files["anchors"],
                         "--override-conflicts", "the licence supersedes the old manifest")
    assert code == 0, err
    manifest = json.loads((source / "manifest.json").read_text())
    png = next(asset for asset in manifest["assets"] if asset["type"] == "image/png")
    record = png["extensions"]["ledger:metadata"]
    assert record["c2pa"]["state"] == TRUSTED
    assert record["c2pa"]["training"]["cawg.ai_training"] == "notAllowed"
    assert record["override"]["conflicts"] == ["training_prohibited"]


@pytest.mark.parametrize(("extra", "fragment"), [
    (("--c2pa-cert", "chain"), "--c2pa-cert: needs --embed"),
    (("--embed", "OUT", "--c2pa-cert", "chain"), "--c2pa-cert: needs --key"),
    (("--embed", "OUT", "--key", "eth", "--c2pa-cert", "chain"), "secp256k1"),
    (("--embed", "OUT", "--key", "key", "--c2pa-cert", "notes"), "not a PEM certificate"),
    (("--embed", "OUT", "--key", "key", "--c2pa-cert", "no-eku"), "extendedKeyUsage"),
    (("--c2pa-trust", "notes"), "--c2pa-trust"),
])
def test_package_c2pa_options_refuse_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], creator_files: dict[str, Path],
    ca: ThrowawayCA, extra: tuple[str, ...], fragment: str,
) -> None:
    from ledger.keyfile import write_key

    write_key(tmp_path / "eth.json", generate_key("eth"))
    (tmp_path / "notes.pem").write_text("not a certificate\n")
    key = serialization.load_pem_private_key(creator_files["key"].read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    (tmp_path / "no-eku.pem").write_bytes(
        ca.issue(key.public_key(), extended_key_usage=False))
    paths = {"chain": creator_files["chain"], "key": creator_files["key"],
             "eth": tmp_path / "eth.json", "notes": tmp_path / "notes.pem",
             "no-eku": tmp_path / "no-eku.pem", "OUT": tmp_path / "out"}
    code, err = _package(capsys, creator_files["source"],
                         *(paths.get(item, item) for item in extra))
    assert code == 2
    assert err.startswith("ledger: error: ") and err.count("\n") == 1, err
    assert fragment in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert not (creator_files["source"] / "manifest.json").exists()


# -- finding a manifest store from the file's structure -----------------------------


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_structure_walk_finds_stores_and_their_absence(
    tmp_path: Path, identity: C2paIdentity, kind: str
) -> None:
    from ledger.media.c2pa_boxes import may_hold_c2pa

    plain = _image(tmp_path / f"plain.{kind}", kind)
    with plain.open("rb") as handle:
        assert not may_hold_c2pa(handle)
    with _signed(tmp_path, identity, kind).open("rb") as handle:
        assert may_hold_c2pa(handle)


@pytest.mark.parametrize("content", [
    b"", b"plain text", b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\x00\x01", b"\xff\xd8\x00\x00",
    b"\x89PNG\r\n\x1a\n\x00\x00", b"RIFF\x00\x00\x00\x00WEBPVP8 \x01",
])
def test_structure_walk_leaves_odd_files_to_c2pa(content: bytes) -> None:
    from ledger.media.c2pa_boxes import may_hold_c2pa

    assert may_hold_c2pa(io.BytesIO(content))


def test_structure_walk_skips_other_jumbf_and_padding_markers() -> None:
    from ledger.media.c2pa_boxes import may_hold_c2pa

    other_jumbf = b"\xff\xeb\x00\x0aJP\x00\x01jumb"  # an APP11 store that is not C2PA
    restart = b"\xff\xd0"  # a marker without a length
    jpeg = b"\xff\xd8" + other_jumbf + restart + b"\xff\xda\x00\x02" + b"\x00" * 4
    assert not may_hold_c2pa(io.BytesIO(jpeg))
    large = b"\xff\xeb" + (300).to_bytes(2, "big") + b"x" * 298 + b"\xff\xd9"
    assert not may_hold_c2pa(io.BytesIO(b"\xff\xd8" + large))
