"""Creator records and chain-proof cache (issue 15).

Creators' actions accepted before this revision have no records: their history
starts at the first action accepted from this revision on (docs/security.md).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_NULL_BATCH = sa.text("batch_number IS NULL")


def upgrade() -> None:
    """Create ``creator_records`` and ``chain_proofs`` (see `ledger.storage.models`)."""
    op.create_table(
        "creator_records",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("digest", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("creator_id", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=False),
        sa.Column("batch_number", sa.Integer(), sa.ForeignKey("batches.number"), nullable=True),
        sa.Column("leaf_index", sa.Integer(), nullable=True),
    )
    op.create_index("ix_creator_records_batch_number", "creator_records", ["batch_number"])
    op.create_index("ix_creator_records_creator", "creator_records", ["creator_id", "seq"])
    op.create_index(
        "ix_creator_records_pending",
        "creator_records",
        ["seq"],
        sqlite_where=_NULL_BATCH,
        postgresql_where=_NULL_BATCH,
    )
    op.create_table(
        "chain_proofs",
        sa.Column("block_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("root", sa.LargeBinary(32), primary_key=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("header", sa.LargeBinary(), nullable=False),
        sa.Column("account_proof", sa.LargeBinary(), nullable=False),
        sa.Column("storage_proof", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    """Drop both tables: the previous revision never reads them (the batches that
    held creator records stay, anchored, with nothing to prove of them)."""
    op.drop_table("chain_proofs")
    op.drop_table("creator_records")
