"""Usage event ids are unique per source, not across sources.

Before this revision one metering source could store an event under an id another
source was going to use, and that source's event was then refused as a conflict
(issue 11). Ids already stored stay unique, so no row needs to change.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_NEW = "uq_usage_events_source_event_id"
# 0001 declared the column `unique=True`, so its constraint has the database's own
# name: PostgreSQL's `<table>_<column>_key`; SQLite's has none, and batch mode
# names it by this convention when it reflects the table.
_POSTGRES_OLD = "usage_events_event_id_key"
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
_SQLITE_OLD = "uq_usage_events_event_id"


def upgrade() -> None:
    """Replace the unique event id by a unique (source, event id)."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a constraint: batch mode copies the table without it.
        with op.batch_alter_table("usage_events", recreate="always",
                                  naming_convention=_SQLITE_NAMES) as batch:
            batch.drop_constraint(_SQLITE_OLD, type_="unique")
            batch.create_unique_constraint(_NEW, ["source", "event_id"])
        return
    op.drop_constraint(_POSTGRES_OLD, "usage_events", type_="unique")
    op.create_unique_constraint(_NEW, "usage_events", ["source", "event_id"])


def downgrade() -> None:
    """Back to ids unique across sources; fails if two sources now share an id."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("usage_events", recreate="always",
                                  naming_convention=_SQLITE_NAMES) as batch:
            batch.drop_constraint(_NEW, type_="unique")
            batch.create_unique_constraint(_SQLITE_OLD, ["event_id"])
        return
    op.drop_constraint(_NEW, "usage_events", type_="unique")
    op.create_unique_constraint(_POSTGRES_OLD, "usage_events", ["event_id"])
