"""The ``ledger creator`` subcommands: identity and keys, operator approval, royalties.

`register`, `add-key`, `revoke-key`, `recover` and `show` talk to the service over
HTTP (actions signed ``ledger-creator-v2`` for the service's deployment, see
docs/service.md "Creators"); `approve` and `reject` are the operator's, run against
the service's database; `split` and `withdraw` act on chain (docs/royalties.md).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.app.clock import now_ms
from ledger.cli.common import EXIT_OK, Commands, url_option
from ledger.core.times import iso_utc
from ledger.errors import ValidationError

if TYPE_CHECKING:
    from ledger.core.signing import SigningKey


def add_creator_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``ledger creator`` and its subcommands."""
    group = commands.add_parser(
        "creator",
        help="a creator's identity and keys, operator approval, royalty splits and withdrawal",
        description="Creator identities (docs/security.md section 5): `creator:k-…` ids are "
        "derived from the first key, ids with a dot are DNS names proven through "
        "https://<domain>/.well-known/ledger-creator.json, other names need an operator's "
        "approval (automatic on a local chain).",
    )
    actions = group.add_subparsers(dest="creator_command", required=True, metavar="ACTION")
    _add_identity_actions(actions)
    _add_money_actions(actions)


def _add_identity_actions(actions: Commands[argparse.ArgumentParser]) -> None:
    """register, add-key, revoke-key, recover, show, statement; approve and reject."""
    register = _action(actions, "register", cmd_register,
                       "register a creator id with signing keys and a recovery key")
    register.add_argument(
        "creator_id", nargs="?",
        help="creator:NAME, creator:DOMAIN or creator:k-…; default: the id derived from the "
        "first --key",
    )
    register.add_argument("--key", type=Path, action="append", required=True,
                          help="a signing key file (repeatable, 1 to 8); each signs")
    register.add_argument("--recovery-key", type=Path, required=True,
                          help="the recovery key file (signs once; keep it offline)")

    add_key = _action(actions, "add-key", cmd_add_key, "add a signing key")
    _creator_id(add_key)
    add_key.add_argument("--key", type=Path, required=True,
                         help="a current signing key file, or the recovery key file")
    add_key.add_argument("--new-key", type=Path, required=True,
                         help="the new signing key file (also signs, proving possession)")

    revoke = _action(actions, "revoke-key", cmd_revoke_key,
                     "revoke a signing key (the last one only with the recovery key)")
    _creator_id(revoke)
    revoke.add_argument("--key", type=Path, required=True,
                        help="a current signing key file, or the recovery key file")
    revoke.add_argument("--revoke",
                        help="the public key id (p256:… or eth:0x…) to revoke; default: --key's")

    recover = _action(actions, "recover", cmd_recover,
                      "with the recovery key: revoke every signing key, install new ones, and "
                      "optionally replace the recovery key")
    _creator_id(recover)
    recover.add_argument("--recovery-key", type=Path, required=True,
                         help="the creator's current recovery key file")
    recover.add_argument("--new-key", type=Path, action="append", required=True,
                         help="a new signing key file (repeatable, 1 to 8); each signs")
    recover.add_argument("--new-recovery-key", type=Path,
                         help="a new recovery key file (signs); default: keep the current one")

    show = _action(actions, "show", cmd_show, "print a creator's verification and keys")
    _creator_id(show)

    statement = _action(actions, "statement", cmd_statement,
                        "print the creator's royalty statement: usage and settlement per "
                        "asset and buyer (a read signed with one of its signing keys)")
    _creator_id(statement)
    statement.add_argument("--key", type=Path, required=True,
                           help="a current signing key file of the creator (signs the read)")
    statement.add_argument("--csv", action="store_true", help="print CSV instead of JSON")

    for name, handler, text in (
        ("approve", cmd_approve, "operator: approve a creator waiting for approval"),
        ("reject", cmd_reject, "operator: delete a creator waiting for approval, freeing its id"),
    ):
        operator = actions.add_parser(name, help=text, description=text)
        _creator_id(operator)
        _database_options(operator)
        operator.set_defaults(handler=handler)


def _add_money_actions(actions: Commands[argparse.ArgumentParser]) -> None:
    """split and withdraw: on chain, from the creator's own Ethereum account."""
    from ledger.cli.royalty import chain_options, cmd_creator_split, cmd_creator_withdraw

    split = actions.add_parser("split", help="register a manifest's royalty splits on chain",
                               description="Register each asset's payees on the splitter, "
                               "sent by the creator's own Ethereum account.")
    _creator_id(split)
    split.add_argument("--manifest", type=Path, required=True,
                       help="the signed manifest file whose splits to register")
    split.add_argument("--key", type=Path, required=True,
                       help="the Ethereum key file that owns the splits (sends the transaction)")
    split.add_argument("--statement", metavar="DIGEST",
                       help="register the splits of the terms this amend statement (0x…) of "
                       "the manifest puts in force, read from the service (--url)")
    url_option(split)
    chain_options(split)
    split.set_defaults(handler=cmd_creator_split)

    withdraw = actions.add_parser("withdraw", help="withdraw the royalties due to a key",
                                  description="Release what the splitter owes the key's "
                                  "address, in each token or only --token.")
    _creator_id(withdraw)
    withdraw.add_argument("--key", type=Path, required=True,
                          help="the Ethereum key file royalties are paid to")
    withdraw.add_argument("--token", help='only this token ("ETH" or a token address)')
    chain_options(withdraw)
    withdraw.set_defaults(handler=cmd_creator_withdraw)


def _action(
    actions: Commands[argparse.ArgumentParser], name: str, handler: Any, text: str
) -> argparse.ArgumentParser:
    from ledger.cli.common import url_option

    command = actions.add_parser(name, help=text, description=text)
    url_option(command)
    command.set_defaults(handler=handler)
    return command


def _creator_id(command: argparse.ArgumentParser) -> None:
    command.add_argument("creator_id", help="the creator id, e.g. creator:alice")


def _database_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", type=Path, help="the service's TOML settings file")
    where = command.add_mutually_exclusive_group()
    where.add_argument("--db-url", help="the service's postgresql+asyncpg://… database")
    where.add_argument("--data-dir", type=Path,
                       help="the service's data dir, whose SQLite database to use")


def cmd_register(args: argparse.Namespace) -> int:
    """Register a creator; the id defaults to the one derived from the first key."""
    from ledger.core.creators import key_derived_id

    keys = _load_all(args.key)
    recovery = _load(args.recovery_key)
    creator_id = args.creator_id or key_derived_id(keys[0].public_id)
    return _send(args, "register", creator_id, [k.public_id for k in keys], [*keys, recovery],
                 recovery_key=recovery.public_id)


def cmd_add_key(args: argparse.Namespace) -> int:
    """Add a signing key, signed by a current key and the new one."""
    key, new = _load(args.key), _load(args.new_key)
    return _send(args, "add-key", args.creator_id, [new.public_id], [key, new])


def cmd_revoke_key(args: argparse.Namespace) -> int:
    """Revoke a signing key (default: the signing key itself)."""
    key = _load(args.key)
    return _send(args, "revoke-key", args.creator_id, [args.revoke or key.public_id], [key])


def cmd_recover(args: argparse.Namespace) -> int:
    """Replace every signing key (and optionally the recovery key) with the recovery key."""
    recovery = _load(args.recovery_key)
    new_keys = _load_all(args.new_key)
    signers = [recovery, *new_keys]
    new_recovery = recovery
    if args.new_recovery_key is not None:
        new_recovery = _load(args.new_recovery_key)
        signers.append(new_recovery)
    return _send(args, "recover", args.creator_id, [k.public_id for k in new_keys], signers,
                 recovery_key=new_recovery.public_id)


def cmd_show(args: argparse.Namespace) -> int:
    """Print a creator's verification and keys."""
    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url

    async def show() -> Any:
        async with LedgerClient(service_url(args.url)) as client:
            return await client.creator(args.creator_id)

    import asyncio

    print(json.dumps(asyncio.run(show()), indent=2))
    return EXIT_OK


def cmd_statement(args: argparse.Namespace) -> int:
    """Print the creator's statement, read with one of its signing keys."""
    from urllib.parse import quote

    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url

    creator_id = _checked_id(args.creator_id)
    key = _load(args.key)
    path = f"/v1/creators/{quote(creator_id, safe=':')}/statement"

    async def read() -> Any:
        async with LedgerClient(service_url(args.url)) as client:
            return (await client.read_own(path + ("?format=csv" if args.csv else ""), key))[1]

    import asyncio

    body = asyncio.run(read())
    print(body if args.csv else json.dumps(body, indent=2), end="\n" if not args.csv else "")
    return EXIT_OK


def cmd_approve(args: argparse.Namespace) -> int:
    """Approve a creator waiting for the operator (on the service's database)."""
    when = iso_utc(time.time())
    detail = f"operator: approved by the operator ({when})"
    creator_id = _checked_id(args.creator_id)
    done = _on_database(args, lambda store: store.approve(creator_id, detail, now_ms()))
    if not done:
        raise ValidationError(f"no creator {creator_id} is waiting for approval",
                              field="creator_id")
    print(f"approved {creator_id}")
    return EXIT_OK


def cmd_reject(args: argparse.Namespace) -> int:
    """Delete a creator waiting for the operator, so its id can be registered again."""
    creator_id = _checked_id(args.creator_id)
    if not _on_database(args, lambda store: store.reject(creator_id)):
        raise ValidationError(f"no creator {creator_id} is waiting for approval",
                              field="creator_id")
    print(f"rejected {creator_id}; the id is free again")
    return EXIT_OK


def _send(
    args: argparse.Namespace,
    action: str,
    creator_id: str,
    keys: Sequence[str],
    signers: Sequence[SigningKey],
    *,
    recovery_key: str | None = None,
) -> int:
    from ledger.cli.client import LedgerClient
    from ledger.cli.common import service_url
    from ledger.core.creators import sign_action

    creator_id = _checked_id(creator_id)

    async def send() -> Any:
        async with LedgerClient(service_url(args.url)) as client:
            signed = sign_action(action, creator_id, keys, now_ms(), signers,
                                 deployment=await client.deployment(), recovery_key=recovery_key)
            return (await client.creator_action(signed))[1]

    import asyncio

    print(json.dumps(asyncio.run(send()), indent=2))
    return EXIT_OK


def _on_database(args: argparse.Namespace, step: Any) -> Any:
    from ledger.cli.db import _run
    from ledger.storage.creators import CreatorStore

    return _run(args, lambda engine: step(CreatorStore(engine)), create=False)


def _checked_id(creator_id: str) -> str:
    from ledger.core.manifest import check_creator_id

    return check_creator_id(creator_id, name="creator_id")


def _load(path: Path) -> SigningKey:
    from ledger.keyfile import load_key

    return load_key(path)


def _load_all(paths: Sequence[Path]) -> list[SigningKey]:
    return [_load(path) for path in paths]


