"""Lifecycle statements (issue 17): every accepted statement about a manifest's assets.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


_NULL_BATCH = sa.text("batch_number IS NULL")


def upgrade() -> None:
    """Create ``statements`` (see `ledger.storage.models.StatementRow`)."""
    op.create_table(
        "statements",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("digest", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("manifest_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=False),
        sa.Column("batch_number", sa.Integer(), sa.ForeignKey("batches.number"), nullable=True),
        sa.Column("leaf_index", sa.Integer(), nullable=True),
    )
    op.create_index("ix_statements_batch_number", "statements", ["batch_number"])
    op.create_index("ix_statements_manifest", "statements", ["manifest_digest", "seq"])
    op.create_index(
        "ix_statements_pending",
        "statements",
        ["seq"],
        sqlite_where=_NULL_BATCH,
        postgresql_where=_NULL_BATCH,
    )


def downgrade() -> None:
    """Drop ``statements``: the previous revision never reads it (the batches that held
    statements stay, anchored, with nothing to prove of them)."""
    op.drop_table("statements")
