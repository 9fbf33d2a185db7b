"""The ``ledger db`` subcommands: the database schema's revision.

`upgrade` migrates to the revision this ledger needs, `current` prints the
database's, `check` exits 0 only at that revision. The database is the one
`ledger serve` would open with the same flags, file and ``LEDGER_*`` variables.
Like every subcommand they end a user error with one line and exit status 2.
Alembic and SQLAlchemy are imported only when a ``db`` command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ledger.cli.common import EXIT_OK, Commands
from ledger.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


T = TypeVar("T")


def add_db_commands(commands: Commands[argparse.ArgumentParser]) -> None:
    """Register ``db upgrade``, ``db current`` and ``db check``."""
    command = commands.add_parser("db", help="the database schema: upgrade, current, check")
    actions = command.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, handler, text in (
        ("upgrade", cmd_db_upgrade, "migrate the database to the schema this ledger needs"),
        ("current", cmd_db_current, "print the database's schema revision"),
        ("check", cmd_db_check, "exit 0 if the schema is the one this ledger needs, else 2"),
    ):
        action = actions.add_parser(name, help=text)
        _database_options(action)
        action.set_defaults(handler=handler)


def _database_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--config", type=Path, help="TOML settings file")
    where = command.add_mutually_exclusive_group()
    where.add_argument("--db-url", help="postgresql+asyncpg://… (default: SQLite in data dir)")
    where.add_argument("--data-dir", type=Path, help="the data dir whose SQLite database to use")


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Migrate the database to head and print the revision."""
    from ledger.storage import schema

    revision = _run(args, schema.upgrade, create=True)
    print(f"database schema is at revision {revision} (head)")
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace) -> int:
    """Print the database's revision ("none" when empty) and whether it is head."""
    from ledger.storage import schema

    revision = _run(args, schema.current, create=False)
    head = schema.head()
    note = "head" if revision == head else f"this ledger needs {head}"
    print(f"{revision or 'none'} ({note})")
    return EXIT_OK


def cmd_db_check(args: argparse.Namespace) -> int:
    """Exit 0 at head; otherwise `schema.check` raises the one line to print."""
    from ledger.storage import schema

    _run(args, schema.check, create=False)
    print(f"database schema is at revision {schema.head()} (head)")
    return EXIT_OK


def _run(
    args: argparse.Namespace, step: Callable[[AsyncEngine], Awaitable[T]], *, create: bool
) -> T:
    """Run `step` on the database `ledger serve` would open; only `create` makes a
    missing SQLite file (and its data dir), so a mistyped path is not made silently."""
    import asyncio

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.config import load_settings
    from ledger.storage.engine import open_engine

    settings = load_settings(
        file=args.config, overrides={"db_url": args.db_url, "data_dir": args.data_dir}
    )
    url = make_url(settings.database_url())
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        elif not path.exists():
            raise StorageError(f"no database at {path}")

    async def run() -> T:
        engine = open_engine(settings.database_url())
        try:
            return await step(engine)
        except (SQLAlchemyError, OSError) as exc:
            detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            shown = url.render_as_string(hide_password=True)
            raise StorageError(f"cannot use the database at {shown}: {detail}") from exc
        finally:
            await engine.dispose()

    return asyncio.run(run())
