"""Alembic's entry point: migrate the connection `ledger.storage.schema` hands over.

It runs inside that connection's transaction (with PostgreSQL's advisory lock
held), so a migration either completes with its ``alembic_version`` row or not at all.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ledger.errors import ConfigError
from ledger.storage.models import Base


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise ConfigError(
            "ledger's migrations run on a connection from ledger.storage.schema: "
            "use `ledger db upgrade`",
            field="connection",
        )
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


_run()
