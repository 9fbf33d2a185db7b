"""``ledger olp rotate-key`` and ``ledger export rsl``: the licence server's signing key
rotated at once, and the marketplace's RSL document written for static hosting
(docs/web-licensing.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.cli.common import EXIT_OK, Commands
from ledger.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ledger.config import Settings


def add_olp_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``olp rotate-key``."""
    command = commands.add_parser("olp", help="the OLP licence server's keys")
    what = command.add_subparsers(dest="olp_command", required=True, metavar="WHAT")
    rotate = what.add_parser(
        "rotate-key", help="retire the token signing key now and make a new one",
        description="Retire the licence server's current signing key and make a new one "
        "current; tokens the old key signed stay valid (and the key stays in the JWKS) "
        "for one token lifetime more. Replicas pick the new key up within 5 s.")
    _database_options(rotate)
    rotate.set_defaults(handler=cmd_rotate_key)


def add_export_rsl(what: Commands[argparse.ArgumentParser]) -> None:
    """Register ``export rsl`` under ``export``."""
    rsl = what.add_parser(
        "rsl", help="the RSL document of every anchored asset offered now",
        description="Write DIR/rsl.xml, the marketplace's RSL document as `GET /rsl.xml` "
        "serves it now (or one creator's, one manifest's), and print the robots.txt line "
        "that points crawlers at it once DIR is hosted at --public-url.")
    rsl.add_argument("dir", type=Path, metavar="DIR", help="the folder to write (made if "
                     "missing)")
    rsl.add_argument("--creator", help="only this creator's assets")
    rsl.add_argument("--manifest", metavar="DIGEST", help="only this manifest's assets (0x…)")
    rsl.add_argument("--public-url", help="where the service (and licence server) is "
                     "reached (default: the public_url setting)")
    _database_options(rsl)
    rsl.add_argument("--rpc-url", help="the chain node (default as for `export proofs`)")
    rsl.add_argument("--deployment-file", type=Path, help="the record `ledger deploy` wrote")
    rsl.set_defaults(handler=cmd_export_rsl)


def _database_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", type=Path, help="TOML settings file")
    command.add_argument("--data-dir", type=Path, help="the service's data dir (default "
                         ".ledger)")
    command.add_argument("--db-url", help="postgresql+asyncpg://… (default: SQLite in data "
                         "dir)")


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Rotate, then print the new key id."""
    from ledger.cli.db import _run
    from ledger.config import load_settings

    settings = load_settings(file=args.config, overrides={"db_url": args.db_url,
                                                          "data_dir": args.data_dir})

    async def rotate(engine: AsyncEngine) -> str:
        from ledger.app.clock import now_ms
        from ledger.app.olp_keys import OlpKeys
        from ledger.storage.licence_server import LicenceServerStore
        from ledger.storage.schema import check

        await check(engine)
        olp = settings.olp
        keys = OlpKeys(LicenceServerStore(engine), lifetime_ms=olp.token_lifetime_s * 1000,
                       rotation_ms=olp.key_rotation_s * 1000)
        return await keys.rotate(now_ms())

    print(f"new signing key {_run(args, rotate, create=False)}")
    return EXIT_OK


def cmd_export_rsl(args: argparse.Namespace) -> int:
    """Write DIR/rsl.xml, then print the robots.txt line."""
    import asyncio

    from ledger.api.provenance import parse_hex32
    from ledger.cli.common import chain_node_url
    from ledger.config import load_settings

    names = ("data_dir", "db_url", "deployment_file", "public_url")
    settings = load_settings(file=args.config, overrides={n: getattr(args, n) for n in names})
    if settings.db_url is None and not (settings.data_dir / "ledger.db").exists():
        raise StorageError(f"no database at {settings.data_dir / 'ledger.db'}")
    digest = None if args.manifest is None else parse_hex32(args.manifest, "manifest")
    body, line = asyncio.run(_document(settings, args.rpc_url or chain_node_url(settings),
                                       args.creator, digest))
    args.dir.mkdir(parents=True, exist_ok=True)
    (args.dir / "rsl.xml").write_bytes(body)
    print(f"wrote {args.dir / 'rsl.xml'}; add to robots.txt: {line}")
    return EXIT_OK


async def _document(settings: Settings, rpc_url: str, creator: str | None,
                    digest: bytes | None) -> tuple[bytes, str]:
    from ledger.app.clock import now_ms
    from ledger.core.rsl import robots_line
    from ledger.run.compose import reading_context

    async with reading_context(settings, rpc_url) as (ctx, _):
        publisher = ctx.licensing.publisher
        body = await publisher.document(now_ms(), creator_id=creator, manifest_digest=digest)
        return body, robots_line(publisher.marketplace_url)
