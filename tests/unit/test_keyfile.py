"""Key files: generation, private creation, loading (ledger.keyfile)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ledger.core.signing import EthSigningKey, P256SigningKey
from ledger.errors import ConfigError
from ledger.keyfile import (
    generate_key,
    key_file_bytes,
    load_account_key,
    load_key,
    parse_key_file,
    write_key,
)


@pytest.mark.parametrize("key_type", ["p256", "eth"])
def test_generate_write_load(tmp_path: Path, key_type: str) -> None:
    key = generate_key(key_type)
    path = tmp_path / "creator.key"
    write_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path).public_id == key.public_id
    assert key.public_id.startswith(f"{key_type}:")
    assert os.listdir(tmp_path) == ["creator.key"]  # no temporary file left behind


def test_created_private_even_with_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_key(tmp_path / "k", generate_key("p256"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


def test_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text("precious")
    with pytest.raises(ConfigError, match="already exists"):
        write_key(path, generate_key("eth"))
    assert path.read_text() == "precious"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o700 | 0o007])
def test_refuses_keys_open_to_others(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k"
    write_key(path, generate_key("p256"))
    path.chmod(mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_key(path)


def test_refuses_non_regular_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        load_key(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_key(fifo)


def test_missing_file_is_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_key(tmp_path / "missing")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n",
        b'{"type": "eth"}',
        b'{"type": "btc", "privateKey": "0x' + b"11" * 32 + b'"}',
        b'{"type": "eth", "privateKey": "0x1234"}',
        b'{"type": "eth", "privateKey": "0x'
        + b"11" * 32
        + b'", "address": "0x'
        + b"00" * 20
        + b'"}',
        b'{"type": "eth", "type": "eth"}',
        b"[1, 2",
    ],
)
def test_malformed_key_files(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "k"
    path.write_bytes(data)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=str(path)):
        load_key(path)


def test_key_file_formats() -> None:
    p256 = generate_key("p256")
    assert isinstance(p256, P256SigningKey)
    assert key_file_bytes(p256).startswith(b"-----BEGIN PRIVATE KEY-----")
    eth = generate_key("eth")
    assert isinstance(eth, EthSigningKey)
    body = json.loads(key_file_bytes(eth))
    assert body == {"type": "eth", "address": eth.public_id[4:], "privateKey": eth.to_hex()}
    assert parse_key_file(key_file_bytes(eth)).public_id == eth.public_id


def test_unknown_key_type() -> None:
    with pytest.raises(ConfigError, match="unknown key type"):
        generate_key("rsa")


def test_an_account_key_file_may_be_hex_or_keygen_json(tmp_path: Path) -> None:
    secret = "0x" + "4c" * 32
    hex_file = tmp_path / "hex.key"
    hex_file.write_text(secret[2:] + "\n")
    hex_file.chmod(0o600)
    assert load_account_key(hex_file, field="key_file") == secret
    json_file = tmp_path / "eth.json"
    write_key(json_file, EthSigningKey.from_hex(secret))
    assert load_account_key(json_file, field="key_file") == secret


def test_an_account_key_file_refuses_p256_open_and_missing_files(tmp_path: Path) -> None:
    pem = tmp_path / "p256.pem"
    write_key(pem, generate_key("p256"))
    with pytest.raises(ConfigError, match="holds a P-256 key") as caught:
        load_account_key(pem, field="anchorer_key_file")
    assert caught.value.field == "anchorer_key_file"
    open_file = tmp_path / "open.key"
    open_file.write_text("4c" * 32)
    open_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_account_key(open_file, field="key_file")
    with pytest.raises(ConfigError, match="cannot read"):
        load_account_key(tmp_path / "missing.key", field="key_file")
