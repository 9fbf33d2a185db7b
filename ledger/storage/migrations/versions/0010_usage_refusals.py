"""Usage refused at settlement: ``usage_events.refusal`` (issue 17).

An event stored before a statement that refuses it reached the service (a consent
withdrawal signed before it was sent) is re-checked when it is settled; a refused
event keeps why, naming the statement, and is never settled.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the nullable ``usage_events.refusal``."""
    op.add_column("usage_events", sa.Column("refusal", sa.String(300), nullable=True))


def downgrade() -> None:
    """Drop ``usage_events.refusal``."""
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_column("refusal")
