"""`ledger package`'s C2PA options: which signers of existing manifests to trust, and
``--c2pa-cert`` to sign a manifest into each embedded copy (docs/metadata.md, "C2PA")."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.errors import ValidationError

if TYPE_CHECKING:
    from ledger.app.embedding import C2paReader, CopySigner


def add_c2pa_options(group: argparse._ArgumentGroup) -> None:
    """Add ``--c2pa-cert`` and ``--c2pa-trust`` to the metadata options."""
    group.add_argument(
        "--c2pa-cert", type=Path, metavar="CHAIN.pem",
        help="sign a C2PA manifest (training-mining entries and the ledger record) into each "
        "copy with --key, a P-256 key, under this certificate chain (leaf first); needs --embed")
    group.add_argument(
        "--c2pa-trust", type=Path, metavar="ANCHORS.pem",
        help="root certificates whose signers of existing C2PA manifests count as trusted "
        "(default: none, every signer is reported untrusted)")


@dataclass(frozen=True)
class C2paHooks:
    """What the metadata step calls: a reader of existing manifests, and a signer of
    the copies when ``--c2pa-cert`` is given."""

    read: C2paReader
    sign_copy: CopySigner | None


@contextlib.contextmanager
def c2pa_hooks(args: argparse.Namespace) -> Iterator[C2paHooks]:
    """The hooks for ``args``; the signer is freed when the block ends. ValidationError
    when ``--c2pa-cert`` comes without ``--embed`` or ``--key``."""
    if args.c2pa_cert is not None and args.embed is None:
        raise ValidationError("needs --embed: the manifest is signed into the copies",
                              field="--c2pa-cert")
    if args.c2pa_cert is not None and args.key is None:
        raise ValidationError("needs --key, the creator's P-256 key", field="--c2pa-cert")
    from ledger.media.c2pa_read import ManifestReader, load_trust_anchors

    anchors = load_trust_anchors(args.c2pa_trust) if args.c2pa_trust is not None else None
    with contextlib.ExitStack() as stack:
        signer = None
        if args.c2pa_cert is not None:
            from ledger.keyfile import load_key
            from ledger.media.c2pa_sign import C2paSigner, load_identity

            identity = load_identity(load_key(args.key), args.c2pa_cert)
            signer = stack.enter_context(C2paSigner(identity)).sign
        yield C2paHooks(stack.enter_context(ManifestReader(anchors)), signer)
