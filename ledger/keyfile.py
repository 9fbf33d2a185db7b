"""Signing key files: generate, save and load creator keys.

Two formats, told apart by their first byte:

- P-256: unencrypted PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``).
- Ethereum: JSON ``{"type": "eth", "address": "0x…", "privateKey": "0x…"}``, or
  the bare private key in hex (what other Ethereum tools write for an account key).

A key file is created with mode 0600 from the start (``O_EXCL``, never a
chmod after writing), under a temporary name that is hard-linked into place,
so it never exists half-written, and an existing file is never overwritten.
Loading refuses a key file that group or others may read or write.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from ledger.core.canonical import parse_strict
from ledger.core.signing import SCHEME_NAMES, EthSigningKey, P256SigningKey, SigningKey
from ledger.errors import ConfigError, LedgerError

KEY_TYPES = SCHEME_NAMES
_HEX_KEY = re.compile(rb"(0x)?[0-9a-fA-F]{64}")
_MAX_KEY_FILE = 64 * 1024
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}


def generate_key(key_type: str) -> SigningKey:
    """A new random key of ``key_type`` ("p256" or "eth")."""
    if key_type == "p256":
        return P256SigningKey(ec.generate_private_key(ec.SECP256R1()))
    if key_type == "eth":
        while True:  # a random 32-byte string is a valid key except with odds ~2**-128
            try:
                return EthSigningKey(secrets.token_bytes(32))
            except LedgerError:
                continue
    raise ConfigError(f"unknown key type {key_type!r}: use one of {', '.join(KEY_TYPES)}")


def key_file_bytes(key: SigningKey) -> bytes:
    """The contents of the key file for ``key``."""
    if isinstance(key, P256SigningKey):
        return key.to_pem()
    if isinstance(key, EthSigningKey):
        body = {"type": "eth", "address": key.public_id[4:], "privateKey": key.to_hex()}
        return (json.dumps(body, indent=2) + "\n").encode("ascii")
    raise ConfigError(f"cannot store a {type(key).__name__}")


def parse_key_file(data: bytes) -> SigningKey:
    """The key stored in key file contents ``data``; raises ConfigError if malformed."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return P256SigningKey.from_pem(data)
        if data.lstrip().startswith(b"{"):
            return _parse_eth_key(data)
        if _HEX_KEY.fullmatch(data.strip()):
            return EthSigningKey.from_hex(data.strip().decode())
    except LedgerError as exc:
        raise ConfigError(f"bad key file: {exc}") from None
    raise ConfigError(
        "bad key file: neither a PEM P-256 key, an Ethereum JSON key nor a hex private key"
    )


def _parse_eth_key(data: bytes) -> EthSigningKey:
    body = parse_strict(data)
    if not isinstance(body, dict) or body.get("type") != "eth":
        raise ConfigError('an Ethereum key file is a JSON object with "type": "eth"')
    secret = body.get("privateKey")
    if not isinstance(secret, str):
        raise ConfigError('an Ethereum key file needs "privateKey": "0x…"')
    key = EthSigningKey.from_hex(secret)
    address = body.get("address")
    if address is not None and (
        not isinstance(address, str) or address.lower() != key.public_id[4:].lower()
    ):
        raise ConfigError(f'"address" does not match the private key ({key.public_id[4:]})')
    return key


def load_account_key(path: str | os.PathLike[str], *, field: str) -> str:
    """The Ethereum private key (``0x`` + hex) in key file ``path``, for an account that
    sends transactions; ConfigError naming ``field`` when it is unreadable or not one."""
    try:
        key = load_key(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", field=field) from None
    except ConfigError as exc:
        raise ConfigError(exc.message, field=field) from None
    if not isinstance(key, EthSigningKey):
        raise ConfigError(f"{path} holds a P-256 key, not an Ethereum account key", field=field)
    return key.to_hex()


def write_key(path: str | os.PathLike[str], key: SigningKey) -> None:
    """Save ``key`` to a new file at ``path`` with mode 0600; never overwrites."""
    _write_private(Path(path), key_file_bytes(key))


def load_key(path: str | os.PathLike[str]) -> SigningKey:
    """Load the signing key stored at ``path``.

    Raises ConfigError if the file is not a regular file, is open to group or
    others, or does not hold a key; OSError if it cannot be read.
    """
    path = Path(path)
    # O_NONBLOCK: opening a FIFO planted at the key path must not hang.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        os.close(descriptor)
        raise ConfigError(f"key file {path} is not a regular file")
    with os.fdopen(descriptor, "rb") as handle:
        if info.st_mode & 0o077:
            raise ConfigError(
                f"key file {path} is accessible to group or others (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
            )
        data = handle.read(_MAX_KEY_FILE + 1)
    if len(data) > _MAX_KEY_FILE:
        raise ConfigError(f"key file {path} is too large to be a key")
    try:
        return parse_key_file(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None


def _write_private(path: Path, data: bytes) -> None:
    if path.exists():
        raise ConfigError(f"{path} already exists; refusing to overwrite a key file")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    _create_private(temporary, data)
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; refusing to overwrite a key file") from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # No hard links on this file system: create the target exclusively instead.
        _create_private(path, data)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _create_private(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} already exists; refusing to overwrite a key file") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
