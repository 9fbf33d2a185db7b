"""Dataset checks and their signed licence snapshots (issue 17).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


_NULL_BATCH = sa.text("batch_number IS NULL")


def upgrade() -> None:
    """Create ``dataset_checks`` (see `ledger.storage.models.DatasetCheckRow`)."""
    op.create_table(
        "dataset_checks",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("digest", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=False),
        sa.Column("batch_number", sa.Integer(), sa.ForeignKey("batches.number"), nullable=True),
        sa.Column("leaf_index", sa.Integer(), nullable=True),
    )
    op.create_index("ix_dataset_checks_batch_number", "dataset_checks", ["batch_number"])
    op.create_index(
        "ix_dataset_checks_pending",
        "dataset_checks",
        ["seq"],
        sqlite_where=_NULL_BATCH,
        postgresql_where=_NULL_BATCH,
    )


def downgrade() -> None:
    """Drop ``dataset_checks``: the previous revision never reads it (the batches that
    held snapshots stay, anchored, with nothing to prove of them)."""
    op.drop_table("dataset_checks")
