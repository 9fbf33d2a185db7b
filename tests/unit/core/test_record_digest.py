"""A creator record's digest: SHA-256 of its own domain tag and the action's canonical
JSON, so a record leaf can never be read as a manifest or a usage event."""

from __future__ import annotations

import hashlib

from ledger.core.canonical import canonicalize
from ledger.core.creators import RECORD_TAG, CreatorAction, record_digest, sign_action
from ledger.core.royalty.events import USAGE_TAG, event_digest
from ledger.core.signing import P256SigningKey

KEY = P256SigningKey.from_secret(0xA11CE)
RECOVERY = P256SigningKey.from_secret(0x2EC0)
HERE = "eip155:31337:0x" + "ab" * 20


def action() -> CreatorAction:
    signed = sign_action("register", "creator:ana", [KEY.public_id], 1_700_000_000_000,
                         [KEY, RECOVERY], deployment=HERE, recovery_key=RECOVERY.public_id)
    return CreatorAction.from_obj(signed)


def test_record_digest_is_sha256_of_the_tag_and_the_canonical_action() -> None:
    registered = action()
    body = canonicalize(registered.to_obj())
    assert RECORD_TAG == b"ledger-creator-record-v1\n"
    assert record_digest(registered) == hashlib.sha256(RECORD_TAG + body).digest()


def test_record_digest_is_domain_separated() -> None:
    registered = action()
    body = canonicalize(registered.to_obj())
    # Neither the manifest rule (plain SHA-256 of the canonical document) nor the usage
    # event rule gives the same digest for the same bytes.
    assert record_digest(registered) != hashlib.sha256(body).digest()
    assert record_digest(registered) != event_digest(body)
    assert USAGE_TAG != RECORD_TAG
